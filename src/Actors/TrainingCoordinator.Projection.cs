using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// The coordinator's part of cold start (DESIGN section 1): after a run that carried a <see cref="ProjectionRequest"/>
/// completes (or on <see cref="FitProjection"/>), it asks every item shard for its training and validation parts of the
/// projection's sums, adds them, fits W, b with <see cref="ProjectionFitter"/> (mu chosen on the validation part, refit on
/// both), sends the projection to every item shard, whose cold items then get y = W^T e + b, and reports
/// <see cref="ProjectionFitted"/> (kept for <see cref="GetProjection"/>: the router's text queries) or
/// <see cref="ProjectionFailed"/>. Shards that do not answer are asked again after <see cref="WalsSettings.ResendAfter"/>,
/// at most <see cref="WalsSettings.MaxResends"/> times (every step is idempotent).
/// </summary>
public sealed partial class TrainingCoordinator
{
    private const string ProjectionTimer = "projection";
    private FitState? _fit;
    private ProjectionFitted? _projection;

    private void ReceiveProjectionMessages()
    {
        Receive<FitProjection>(f => StartProjectionFit(f.Run, f.Request, Sender));
        Receive<ProjectionSumsReport>(HandleSumsReport);
        Receive<ProjectionComputed>(HandleProjectionComputed);
        Receive<ProjectionApplied>(HandleProjectionApplied);
        Receive<ProjectionTick>(HandleProjectionTick);
        Receive<GetProjection>(_ => Sender.Tell(_projection is { } p && p.Run == _completedRun ? p
            : new ProjectionFailed(_completedRun ?? "", _fit is not null ? $"The projection of run '{_fit.Run}' is being fitted."
                : $"No projection was fitted for the last completed run ({(_completedRun is null ? "none" : $"'{_completedRun}'")}): train with item texts (wals train --cluster ... --item-text).")));
    }

    /// <summary>The hook where a run completes: fits the projection when the run was started with one.</summary>
    private void FitProjectionAfterTraining(StartTrainingRun start, IActorRef submitter)
    {
        if (start.Projection is { } request)
        {
            StartProjectionFit(start.Run, request, submitter);
        }
    }

    private void StartProjectionFit(string run, ProjectionRequest request, IActorRef submitter)
    {
        var why = run != _completedRun ? $"Run '{run}' is not the last completed run ({(_completedRun is null ? "none" : $"'{_completedRun}'")})."
            : _fit is not null ? $"The projection of run '{_fit.Run}' is being fitted; one at a time."
            : !(request.ValidationFraction > 0 && request.ValidationFraction < 1) ? $"The projection validation fraction {request.ValidationFraction} must be between 0 and 1 (exclusive)."
            : request.Weighting > 2 ? $"Projection weighting {request.Weighting} is unknown (0 none, 1 log-count, 2 count)."
            : request.ItemShardEmbeddings.Length != _settings.ItemShards ? $"The embeddings were sent to {request.ItemShardEmbeddings.Length} item shards; this cluster has {_settings.ItemShards} (wals.cluster.item-shards)."
            : request.ItemShardEmbeddings.Sum() == 0 ? $"Run '{run}' has no item embeddings."
            : request.MetadataFeatures < 0 ? $"The projection request counts {request.MetadataFeatures} metadata features."
            : null;
        if (why is not null)
        {
            submitter.Tell(new ProjectionFailed(run, why));
            return;
        }
        _fit = new FitState(run, request, submitter, _settings.ItemShards);
        _log.Info("coordinator fits the projection of run [{0}] from [{1}] item embeddings", run, request.ItemShardEmbeddings.Sum());
        SendSumsRequests(_fit);
        Timers.StartSingleTimer(ProjectionTimer, new ProjectionTick(run, 1), _settings.ResendAfter);
    }

    private void SendSumsRequests(FitState f)
    {
        for (var shard = 0; shard < f.Shards; shard++)
        {
            foreach (var validation in new[] { false, true })
            {
                if (!f.Reports.ContainsKey((shard, validation)))
                {
                    Region.Tell(new GetProjectionSums(f.Run, Side.Items, shard, validation, f.Request.ValidationFraction, f.Request.Weighting, f.Request.ItemShardEmbeddings[shard]));
                }
            }
        }
    }

    private void SendApply(FitState f)
    {
        for (var shard = 0; shard < f.Shards; shard++)
        {
            if (!f.Applied.ContainsKey(shard))
            {
                Region.Tell(new ApplyProjection(f.Run, Side.Items, shard, f.Fitted!.Projection));
            }
        }
    }

    private void HandleSumsReport(ProjectionSumsReport report)
    {
        if (_fit is not { Phase: FitPhase.Summing } f || f.Run != report.Run)
        {
            return;
        }
        if (report.Failure is not null)
        {
            FailProjection(f, report.Failure);
            return;
        }
        f.Reports[(report.Shard, report.Validation)] = report;
        if (f.Reports.Count < 2 * f.Shards)
        {
            return;
        }
        Timers.Cancel(ProjectionTimer);
        f.Phase = FitPhase.Fitting;
        var parts = f.Reports.OrderBy(r => r.Key.Shard).ThenBy(r => r.Key.Validation).Select(r => r.Value).ToList();
        var run = f.Run;
        var watch = f.Watch;
        var metadataFeatures = f.Request.MetadataFeatures;
        // The fit solves a d x d system per candidate mu (d^3 each): off the mailbox.
        Task.Run(() => Fit(run, parts, metadataFeatures, watch))
            .PipeTo(Self, failure: e => new ProjectionComputed(run, null, (e is AggregateException a ? a.GetBaseException() : e).Message));
    }

    /// <summary>Adds the shards' parts (in shard order) and fits, and with metadata features also the text-only map of
    /// free-text queries from the leading blocks of the same sums; an expected failure (too few items) is a reason, not a throw.</summary>
    private static ProjectionComputed Fit(string run, IReadOnlyList<ProjectionSumsReport> parts, int metadataFeatures, Stopwatch watch)
    {
        ProjectionSums? train = null, validation = null;
        int trainItems = 0, validationItems = 0, cold = 0;
        foreach (var p in parts)
        {
            var sums = ProjectionSums.FromBytes(p.Sums);
            if (p.Validation)
            {
                validation = validation is null ? sums : validation + sums;
                validationItems += p.WarmItems;
            }
            else
            {
                train = train is null ? sums : train + sums;
                trainItems += p.WarmItems;
                cold += p.ColdItems;
            }
        }
        if (trainItems < 2 || validationItems < 1)
        {
            return new ProjectionComputed(run, null, $"Fitting the projection needs at least 2 training and 1 validation warm items (items with both text and training interactions); " +
                $"there are {trainItems} and {validationItems}. Check that the item-text ids are the item ids of the interactions, or raise the validation fraction.");
        }
        if (metadataFeatures >= train!.D)
        {
            return new ProjectionComputed(run, null, $"The run counts {metadataFeatures} metadata features but the shards' vectors have {train.D} values.");
        }
        ProjectionFit fit;
        ProjectionFit? query;
        try
        {
            fit = ProjectionFitter.Fit(train, validation!);
            query = ProjectionFitter.FitQueryMap(train, validation!, metadataFeatures);
        }
        catch (InvalidOperationException e)
        {
            return new ProjectionComputed(run, null, $"The projection fit failed: {e.Message}");
        }
        var best = fit.Candidates.First(c => c.Mu == fit.Mu);
        return new ProjectionComputed(run, new ProjectionFitted(run, fit.Mu, best.ValidationMse, validation!.SumYY / validation.Count, trainItems, validationItems, cold,
            fit.Candidates.Select(c => c.Mu).ToArray(), fit.Candidates.Select(c => c.ValidationMse).ToArray(), fit.Projection.ToBytes(), 0, metadataFeatures,
            query?.Projection.ToBytes()), null);
    }

    private void HandleProjectionComputed(ProjectionComputed computed)
    {
        if (_fit is not { Phase: FitPhase.Fitting } f || f.Run != computed.Run)
        {
            return;
        }
        if (computed.Fitted is null)
        {
            FailProjection(f, computed.Failure ?? "The projection fit failed.");
            return;
        }
        f.Fitted = computed.Fitted;
        f.Phase = FitPhase.Applying;
        _log.Info("coordinator run [{0}] projection: mu [{1:G4}], validation MSE [{2:G4}] (mean |y|^2 [{3:G4}]) on [{4}] held-out of [{5}] warm items",
            f.Run, f.Fitted.Mu, f.Fitted.ValidationMse, f.Fitted.ValidationMeanSquare, f.Fitted.ValidationItems, f.Fitted.TrainItems + f.Fitted.ValidationItems);
        SendApply(f);
        Timers.StartSingleTimer(ProjectionTimer, new ProjectionTick(f.Run, 1), _settings.ResendAfter);
    }

    private void HandleProjectionApplied(ProjectionApplied applied)
    {
        if (_fit is not { Phase: FitPhase.Applying } f || f.Run != applied.Run)
        {
            return;
        }
        if (applied.Failure is not null)
        {
            FailProjection(f, applied.Failure);
            return;
        }
        f.Applied[applied.Shard] = applied.ColdItems;
        if (f.Applied.Count < f.Shards)
        {
            return;
        }
        Timers.Cancel(ProjectionTimer);
        _projection = f.Fitted! with { ColdItems = f.Applied.Values.Sum(), Seconds = f.Watch.Elapsed.TotalSeconds };
        _fit = null;
        _log.Info("coordinator run [{0}] projection applied: [{1}] cold items got factors, [{2:F2}] s", _projection.Run, _projection.ColdItems, _projection.Seconds);
        f.Submitter.Tell(_projection);
    }

    private void HandleProjectionTick(ProjectionTick tick)
    {
        if (_fit is not { } f || f.Run != tick.Run || f.Phase == FitPhase.Fitting)
        {
            return;
        }
        if (tick.Attempt > _settings.MaxResends)
        {
            var missing = f.Phase == FitPhase.Summing
                ? Enumerable.Range(0, f.Shards).Where(s => !f.Reports.ContainsKey((s, false)) || !f.Reports.ContainsKey((s, true)))
                : Enumerable.Range(0, f.Shards).Where(s => !f.Applied.ContainsKey(s));
            FailProjection(f, $"Item shards {string.Join(", ", missing.Select(s => ShardNames.EntityId(Side.Items, s)))} did not answer the projection fit after {_settings.MaxResends} re-sends.");
            return;
        }
        if (f.Phase == FitPhase.Summing)
        {
            SendSumsRequests(f);
        }
        else
        {
            SendApply(f);
        }
        Timers.StartSingleTimer(ProjectionTimer, tick with { Attempt = tick.Attempt + 1 }, _settings.ResendAfter);
    }

    private void FailProjection(FitState f, string reason)
    {
        Timers.Cancel(ProjectionTimer);
        _log.Warning("coordinator run [{0}] projection failed: {1}", f.Run, reason);
        f.Submitter.Tell(new ProjectionFailed(f.Run, reason));
        _fit = null;
    }

    private enum FitPhase
    {
        Summing,
        Fitting,
        Applying,
    }

    /// <summary>Re-send what has not been answered (private timer message).</summary>
    private sealed record ProjectionTick(string Run, int Attempt);

    /// <summary>The fit ran on the thread pool (private result piped back to Self).</summary>
    private sealed record ProjectionComputed(string Run, ProjectionFitted? Fitted, string? Failure);

    private sealed class FitState(string run, ProjectionRequest request, IActorRef submitter, int shards)
    {
        public string Run { get; } = run;
        public ProjectionRequest Request { get; } = request;
        public IActorRef Submitter { get; } = submitter;
        public int Shards { get; } = shards;
        public FitPhase Phase { get; set; } = FitPhase.Summing;
        public Dictionary<(int Shard, bool Validation), ProjectionSumsReport> Reports { get; } = [];
        public Dictionary<int, int> Applied { get; } = [];
        public ProjectionFitted? Fitted { get; set; }
        public Stopwatch Watch { get; } = Stopwatch.StartNew();
    }
}
