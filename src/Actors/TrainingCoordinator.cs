using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// Drives training runs (a cluster singleton on the <c>trainer</c> role): prepares every shard, then alternates half-steps
/// (users with G_Y, items with G_X), adding the partial Gram matrices the shards report into the Gram of the side that
/// just solved, tracks the loss per iteration (the full objective, as the single-process trainer), re-sends to shards
/// that did not answer within <see cref="WalsSettings.ResendAfter"/>, and reports progress and completion to the
/// submitter. One run at a time: a client reserves the cluster for its run before it ingests (<see cref="ReserveTrainingRun"/>,
/// held until the client's listener stops or sends <see cref="ReleaseTrainingRun"/>, after it has gathered the model), and
/// a reservation or StartTrainingRun of another run meanwhile is refused naming the run that holds the cluster. A run
/// whose client leaves while it trains fails, which frees the cluster.
/// </summary>
public sealed partial class TrainingCoordinator : ReceiveActor, IWithTimers
{
    private readonly WalsSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _region;
    private string? _completedRun;
    private RunState? _state;
    private (string Run, IActorRef Holder)? _lease;

    public TrainingCoordinator(WalsSettings settings, IActorRef? region)
    {
        _settings = settings;
        _region = region;
        Receive<StartTrainingRun>(HandleStart);
        Receive<RunPrepared>(HandlePrepared);
        Receive<HalfStepCompleted>(HandleCompleted);
        Receive<FactorsPublished>(HandlePublished);
        Receive<ResendTick>(HandleResend);
        Receive<GetClusterLayout>(_ => Sender.Tell(new ClusterLayout(_settings.UserShards, _settings.ItemShards, _completedRun, HoldingRun,
            _settings.IngestBatchEntries, _settings.IngestParallelism, (long)_settings.IngestAskTimeout.TotalMilliseconds, _settings.IngestAttempts, _settings.GatherRows)));
        Receive<ReserveTrainingRun>(HandleReserve);
        Receive<ReleaseTrainingRun>(HandleRelease);
        Receive<Terminated>(HandleTerminated);
        ReceiveProjectionMessages();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="settings">Cluster settings.</param>
    /// <param name="region">The factor shard region (or a test probe); null looks it up.</param>
    public static Props Props(WalsSettings settings, IActorRef? region = null) =>
        Akka.Actor.Props.Create(() => new TrainingCoordinator(settings, region));

    private IActorRef Region => _region ??= ClusterSharding.Get(Context.System).ShardRegion(WalsSystem.ShardTypeName);

    /// <summary>The run that holds the cluster: reserved by its client, or training (a run started without a reservation).</summary>
    private string? HoldingRun => _lease?.Run ?? _state?.Start.Run;

    private void HandleReserve(ReserveTrainingRun reserve)
    {
        if (HoldingRun is { } holding && holding != reserve.Run)
        {
            Sender.Tell(new TrainingRunReserved(reserve.Run, $"Run '{holding}' holds the cluster (it is being ingested, trained or gathered); " +
                "one run at a time: submit again when it is done."));
            return;
        }
        if (_lease is { } old && !old.Holder.Equals(Sender))
        {
            Context.Unwatch(old.Holder);
        }
        _lease = (reserve.Run, Sender);
        Context.Watch(Sender);
        _log.Info("coordinator reserved the cluster for run [{0}] of {1}", reserve.Run, Sender.Path);
        Sender.Tell(new TrainingRunReserved(reserve.Run, null));
    }

    private void HandleRelease(ReleaseTrainingRun release)
    {
        if (_lease is { } lease && lease.Run == release.Run)
        {
            Context.Unwatch(lease.Holder);
            _lease = null;
            _log.Info("coordinator released run [{0}]", release.Run);
        }
    }

    private void HandleTerminated(Terminated terminated)
    {
        if (_lease is not { } lease || !lease.Holder.Equals(terminated.ActorRef))
        {
            return;
        }
        _lease = null;
        _log.Warning("coordinator: the client of run [{0}] left; the cluster is free", lease.Run);
        if (_state is { } s && s.Start.Run == lease.Run)
        {
            Fail(s, "The client that submitted the run left, so nobody would gather it.");
        }
    }

    private void HandleStart(StartTrainingRun start)
    {
        if (_lease is { } lease && lease.Run != start.Run)
        {
            Sender.Tell(new TrainingFailed(start.Run, $"Run '{lease.Run}' holds the cluster; one run at a time."));
            return;
        }
        if (_state is not null)
        {
            if (_state.Start.Run != start.Run)
            {
                Sender.Tell(new TrainingFailed(start.Run, $"Run '{_state.Start.Run}' is still training; one run at a time."));
            }
            else
            {
                _state.Submitter = Sender;
            }
            return;
        }
        if (start.UserShardRows.Length != _settings.UserShards || start.ItemShardRows.Length != _settings.ItemShards
            || start.UserShardEntries.Length != _settings.UserShards || start.ItemShardEntries.Length != _settings.ItemShards)
        {
            Sender.Tell(new TrainingFailed(start.Run, $"The run was ingested for {start.UserShardRows.Length} user and {start.ItemShardRows.Length} item shards; this cluster has {_settings.UserShards} and {_settings.ItemShards} (wals.cluster.user-shards / item-shards)."));
            return;
        }
        try
        {
            start.Parameters.ToOptions();
        }
        catch (ArgumentException e)
        {
            Sender.Tell(new TrainingFailed(start.Run, e.Message));
            return;
        }
        _state = new RunState(start, Sender, _settings.UserShards, _settings.ItemShards);
        _log.Info("coordinator starts run [{0}]: [{1}] users, [{2}] items, [{3}] iterations, k [{4}]", start.Run, start.Users, start.Items, start.Parameters.Iterations, start.Parameters.Factors);
        SendPrepare(_state, all: true);
        Timers.StartSingleTimer("resend", new ResendTick(start.Run, 0, Side.Users, 1), _settings.ResendAfter);
    }

    private void SendPrepare(RunState s, bool all)
    {
        var p = s.Start;
        foreach (var (side, shard) in s.AllShards())
        {
            if (!all && s.Prepared.ContainsKey((side, shard)))
            {
                continue;
            }
            var rows = side == Side.Users ? p.UserShardRows[shard] : p.ItemShardRows[shard];
            var entries = side == Side.Users ? p.UserShardEntries[shard] : p.ItemShardEntries[shard];
            Region.Tell(new PrepareRun(p.Run, side, shard, p.Parameters, p.Users, p.Items, _settings.UserShards, _settings.ItemShards, rows, entries));
        }
    }

    private void HandlePrepared(RunPrepared prepared)
    {
        if (_state is not { } s || s.Start.Run != prepared.Run || s.Phase != Phase.Preparing)
        {
            return;
        }
        if (prepared.Failure is not null)
        {
            Fail(s, prepared.Failure);
            return;
        }
        s.Prepared[(prepared.Side, prepared.Shard)] = prepared;
        if (s.Prepared.Count < s.UserShards + s.ItemShards)
        {
            return;
        }
        var k = s.Start.Parameters.Factors;
        s.GramUsers = SumGrams(s.Prepared.Values.Where(p => p.Side == Side.Users).OrderBy(p => p.Shard).Select(p => p.PartialGram), k);
        s.GramItems = SumGrams(s.Prepared.Values.Where(p => p.Side == Side.Items).OrderBy(p => p.Shard).Select(p => p.PartialGram), k);
        s.ItemRegularization = s.Prepared.Values.Where(p => p.Side == Side.Items).Sum(p => p.Regularization);
        s.Watch.Restart();
        StartHalfStep(s, 1, Side.Users, evaluate: s.Start.Parameters.Iterations == 0);
    }

    private static double[] SumGrams(IEnumerable<double[]> parts, int k)
    {
        var sum = new double[PackedSymmetric.Length(k)];
        foreach (var part in parts)
        {
            PackedSymmetric.AddInto(sum, part);
        }
        return sum;
    }

    private void StartHalfStep(RunState s, int iteration, Side side, bool evaluate)
    {
        s.Phase = Phase.Solving;
        s.Iteration = iteration;
        s.Side = side;
        s.Evaluate = evaluate;
        s.Completed.Clear();
        s.Published.Clear();
        s.Resends = 0;
        s.StepWatch.Restart();
        s.Rotation = [];
        s.Eigenvalues = [];
        if (!evaluate && s.Start.Parameters.Solver == (byte)WalsSolver.ConjugateGradient)
        {
            // CG runs in the eigenbasis of the fixed side's Gram: diagonalise it once here (k^3), so that the fixed shards
            // rotate their own rows once before publishing and the solving shards only rotate theirs.
            var k = s.Start.Parameters.Factors;
            var fixedGram = side == Side.Users ? s.GramItems : s.GramUsers;
            (s.Rotation, s.Eigenvalues) = Dense.SymmetricEigen(PackedSymmetric.Unpack(fixedGram, k), k);
        }
        SendHalfStep(s, null);
        Timers.StartSingleTimer("resend", new ResendTick(s.Start.Run, iteration, side, 1), _settings.ResendAfter);
    }

    /// <summary>BeginHalfStep to the solving shards in <paramref name="targets"/> (all when null), PublishFactors to every fixed shard.</summary>
    private void SendHalfStep(RunState s, int[]? targets)
    {
        var run = s.Start.Run;
        var fixedSide = s.Side.Other();
        var gram = fixedSide == Side.Users ? s.GramUsers : s.GramItems;
        var fixedCount = fixedSide == Side.Users ? s.Start.Users : s.Start.Items;
        var solvingShards = s.Side == Side.Users ? s.UserShards : s.ItemShards;
        var fixedShards = fixedSide == Side.Users ? s.UserShards : s.ItemShards;
        foreach (var shard in targets ?? Enumerable.Range(0, solvingShards).ToArray())
        {
            Region.Tell(new BeginHalfStep(run, s.Iteration, s.Side, shard, fixedCount, gram, s.Evaluate, s.Rotation, s.Eigenvalues));
        }
        for (var shard = 0; shard < fixedShards; shard++)
        {
            Region.Tell(new PublishFactors(run, s.Iteration, s.Side, fixedSide, shard, targets ?? [], s.Rotation));
        }
    }

    private void HandlePublished(FactorsPublished published)
    {
        if (_state is { } s && s.Start.Run == published.Run && s.Phase == Phase.Solving && s.Iteration == published.Iteration && s.Side == published.Solving)
        {
            s.Published[published.Shard] = s.Published.GetValueOrDefault(published.Shard) + published.Bytes;
        }
    }

    private void HandleCompleted(HalfStepCompleted done)
    {
        if (_state is not { } s || s.Start.Run != done.Run || s.Phase != Phase.Solving || s.Iteration != done.Iteration || s.Side != done.Side)
        {
            return;
        }
        if (done.Failure is not null)
        {
            Fail(s, done.Failure);
            return;
        }
        s.Completed[done.Shard] = done;
        var shards = s.Side == Side.Users ? s.UserShards : s.ItemShards;
        if (s.Completed.Count < shards)
        {
            return;
        }
        Timers.Cancel("resend");
        var k = s.Start.Parameters.Factors;
        var parts = s.Completed.Values.OrderBy(c => c.Shard).ToList();
        var gram = SumGrams(parts.Select(c => c.PartialGram), k);
        var lossBefore = parts.Sum(c => c.ObservedLoss + c.ImplicitLoss + c.RegularizationBefore);
        var seconds = s.StepWatch.Elapsed.TotalSeconds;
        var lossAfterPrevious = double.NaN;
        var lossAfter = double.NaN;
        // The loss after iteration t comes from the end of its item half-step (the item shards' share at their new
        // factors plus the users' regularization); the first user half-step gives the initial loss: the rules of Core's
        // WalsTrainer.
        if (s.Side == Side.Users)
        {
            s.GramUsers = gram;
            s.UserRegularization = parts.Sum(c => c.RegularizationAfter);
            if (s.Iteration == 1)
            {
                // The objective at the factors before this user half-step: its users' terms plus the items' regularization.
                lossAfterPrevious = lossBefore + s.ItemRegularization;
                s.InitialLoss = lossAfterPrevious;
            }
        }
        else
        {
            s.GramItems = gram;
            s.ItemRegularization = parts.Sum(c => c.RegularizationAfter);
            lossAfter = parts.Sum(c => c.LossAfter) + s.UserRegularization;
            s.Losses.Add(lossAfter);
        }
        var bytes = s.Published.Values.Sum();
        s.Submitter.Tell(new TrainingProgress(s.Start.Run, s.Iteration, s.Side, shards, seconds, parts.Max(c => c.Seconds), bytes, s.Resends, lossAfterPrevious, lossAfter));
        _log.Info("coordinator run [{0}] iteration [{1}] [{2}] done in [{3:F3}] s, [{4}] factor bytes, loss before / after [{5}]", s.Start.Run, s.Iteration, s.Side, seconds, bytes, $"{lossAfterPrevious:G7} / {lossAfter:G7}");

        var iterations = s.Start.Parameters.Iterations;
        if (s.Evaluate || (s.Side == Side.Items && s.Iteration == iterations))
        {
            s.Submitter.Tell(new TrainingCompleted(s.Start.Run, iterations, s.InitialLoss, s.Losses.ToArray(), s.Watch.Elapsed.TotalSeconds));
            _log.Info("coordinator completed run [{0}] in [{1:F2}] s", s.Start.Run, s.Watch.Elapsed.TotalSeconds);
            _completedRun = s.Start.Run;
            _state = null;
            FitProjectionAfterTraining(s.Start, s.Submitter);
        }
        else if (s.Side == Side.Users)
        {
            StartHalfStep(s, s.Iteration, Side.Items, evaluate: false);
        }
        else
        {
            StartHalfStep(s, s.Iteration + 1, Side.Users, evaluate: false);
        }
    }

    private void HandleResend(ResendTick tick)
    {
        if (_state is not { } s || s.Start.Run != tick.Run)
        {
            return;
        }
        if (tick.Attempt > _settings.MaxResends)
        {
            Fail(s, s.Phase == Phase.Preparing
                ? $"Shards {string.Join(", ", s.AllShards().Where(x => !s.Prepared.ContainsKey(x)).Select(x => ShardNames.EntityId(x.Side, x.Shard)))} did not prepare after {_settings.MaxResends} re-sends."
                : $"Shards {string.Join(", ", Missing(s).Select(x => ShardNames.EntityId(s.Side, x)))} did not answer iteration {s.Iteration} {s.Side} after {_settings.MaxResends} re-sends.");
            return;
        }
        if (s.Phase == Phase.Preparing)
        {
            SendPrepare(s, all: false);
        }
        else if (s.Iteration == tick.Iteration && s.Side == tick.Side)
        {
            var missing = Missing(s);
            s.Resends++;
            _log.Warning("coordinator re-sends iteration [{0}] [{1}] to shards [{2}]", s.Iteration, s.Side, string.Join(",", missing));
            SendHalfStep(s, missing);
        }
        else
        {
            return;
        }
        Timers.StartSingleTimer("resend", tick with { Attempt = tick.Attempt + 1 }, _settings.ResendAfter);
    }

    private static int[] Missing(RunState s) =>
        Enumerable.Range(0, s.Side == Side.Users ? s.UserShards : s.ItemShards).Where(x => !s.Completed.ContainsKey(x)).ToArray();

    private void Fail(RunState s, string reason)
    {
        Timers.Cancel("resend");
        _log.Warning("coordinator run [{0}] failed: {1}", s.Start.Run, reason);
        s.Submitter.Tell(new TrainingFailed(s.Start.Run, reason));
        _state = null;
    }

    private enum Phase
    {
        Preparing,
        Solving,
    }

    /// <summary>Re-send what has not been answered (private timer message).</summary>
    private sealed record ResendTick(string Run, int Iteration, Side Side, int Attempt);

    private sealed class RunState(StartTrainingRun start, IActorRef submitter, int userShards, int itemShards)
    {
        public StartTrainingRun Start { get; } = start;
        public IActorRef Submitter { get; set; } = submitter;
        public int UserShards { get; } = userShards;
        public int ItemShards { get; } = itemShards;
        public Phase Phase { get; set; } = Phase.Preparing;
        public Dictionary<(Side Side, int Shard), RunPrepared> Prepared { get; } = [];
        public Dictionary<int, HalfStepCompleted> Completed { get; } = [];
        public Dictionary<int, long> Published { get; } = [];
        public double[] GramUsers { get; set; } = [];
        public double[] GramItems { get; set; } = [];
        /// <summary>Q and the eigenvalues of the fixed side's Gram for the current CG half-step (empty otherwise).</summary>
        public float[] Rotation { get; set; } = [];
        public float[] Eigenvalues { get; set; } = [];
        public double ItemRegularization { get; set; }
        public double UserRegularization { get; set; }
        public double InitialLoss { get; set; } = double.NaN;
        public List<double> Losses { get; } = [];
        public int Iteration { get; set; }
        public Side Side { get; set; }
        public bool Evaluate { get; set; }
        public int Resends { get; set; }
        public Stopwatch Watch { get; } = Stopwatch.StartNew();
        public Stopwatch StepWatch { get; } = new();

        public IEnumerable<(Side Side, int Shard)> AllShards() =>
            Enumerable.Range(0, UserShards).Select(u => (Side.Users, u)).Concat(Enumerable.Range(0, ItemShards).Select(i => (Side.Items, i)));
    }
}
