using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;
using WalsCluster.Actors.Embedding;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>The factors a cluster run produced, gathered from the shards in the engine's global row order.</summary>
public sealed record ClusterTrainingResult(string Run, TrainingCompleted Completed, float[] UserFactors, float[] ItemFactors, IngestionSummary Ingestion, IReadOnlyList<TrainingProgress> Progress)
{
    /// <summary>The projection fitted from the item texts, when the run had them.</summary>
    public ClusterProjection? Projection { get; init; }
}

/// <summary>Item texts for a cluster run: the records (<see cref="ItemTextFile.Read"/>), the share of warm items held out
/// to choose mu, the weighting of warm items in the least squares, and optionally metadata features
/// (<see cref="MetadataFeatures"/>, with the items' fields by id) that the client appends to each item's vector.</summary>
public sealed record ItemTextInput(IReadOnlyList<ItemTextRecord> Records, double ValidationFraction = ProjectionTraining.DefaultValidationFraction,
    ProjectionWeighting Weighting = ProjectionWeighting.None, MetadataFeatures? Metadata = null, IReadOnlyDictionary<string, ItemText>? Fields = null)
{
    /// <summary>The metadata features of item <paramref name="id"/> (zeros when it has no fields).</summary>
    public float[] FeaturesOf(string id) => Metadata!.FeaturesOf(Fields?.GetValueOrDefault(id));
}

/// <summary>
/// What the embedding pipeline and the coordinator's fit produced: the pipeline's summary, the encoder's settings (as the
/// embedder nodes report them), the fit, and the cold items (text, no interactions) with their projected factors, in
/// global order (ids, k factors each), and the share of warm items that was held out (by <see cref="ProjectionSplit"/>).
/// </summary>
public sealed record ClusterProjection(EmbeddingPipelineSummary Pipeline, EmbeddingSettings Encoder, ProjectionFitted Fit, string[] ColdIds, float[] ColdFactors, double ValidationFraction)
{
    public RidgeProjection Projection => RidgeProjection.FromBytes(Fit.Projection);

    /// <summary>The text-only map of free-text queries (with metadata features), else null.</summary>
    public RidgeProjection? QueryProjection => Fit.QueryProjection is { } query ? RidgeProjection.FromBytes(query) : null;
}

/// <summary>
/// A short-lived cluster member with role <c>client</c> (no shards on it): submits runs (ingestion, StartTrainingRun,
/// progress, gathering the factors) and asks queries through a local <see cref="QueryRouter"/> over the shard region proxy.
/// </summary>
public sealed class WalsClient : IAsyncDisposable
{
    private WalsClient(ActorSystem system, WalsSettings settings, WalsActors actors)
    {
        System = system;
        Settings = settings;
        Actors = actors;
    }

    public ActorSystem System { get; }
    public WalsSettings Settings { get; }
    public WalsActors Actors { get; }

    /// <summary>The client's <c>wals.embedding.pipeline</c> settings.</summary>
    public EmbeddingPipelineSettings Pipeline => EmbeddingPipelineSettings.FromConfig(System.Settings.Config);

    /// <summary>Joins the cluster at <paramref name="seed"/> (host:port) and waits until this member is up.</summary>
    public static async Task<WalsClient> ConnectAsync(string seed, TimeSpan timeout, Config? overlay = null, string host = "127.0.0.1")
    {
        var quiet = Akka.Configuration.ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.log-dead-letters-during-shutdown = off");
        var config = WalsSystem.Config(new NodeAddress(host, 0, [WalsSystem.ParseHostPort(seed, "cluster")], [WalsSystem.ClientRole]), overlay is null ? quiet : overlay.WithFallback(quiet));
        var system = ActorSystem.Create(WalsSystem.SystemName, config);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        if (await Task.WhenAny(up.Task, Task.Delay(timeout)) != up.Task)
        {
            await system.Terminate();
            throw new TimeoutException($"Could not join the cluster at {seed} within {timeout.TotalSeconds:0} s (is a node running there?).");
        }
        var settings = await ClusterLayoutAsync(system, WalsSettings.FromConfig(config), timeout);
        return new WalsClient(system, settings, WalsSystem.Start(system, settings, [WalsSystem.ClientRole]));
    }

    /// <summary>
    /// The shard counts are the cluster's: the client takes them from the training coordinator, so that a client needs
    /// no configuration of its own to ingest into, gather from and route queries to a cluster whose nodes run, say,
    /// <c>user-shards = 1</c>. When no coordinator answers within <paramref name="timeout"/> (at most 15 s; no trainer node yet) the
    /// client keeps its configured counts, and <see cref="TrainAsync"/> checks them against the cluster again.
    /// </summary>
    private static async Task<WalsSettings> ClusterLayoutAsync(ActorSystem system, WalsSettings configured, TimeSpan timeout)
    {
        var proxy = system.ActorOf(ClusterSingletonProxy.Props($"/user/{WalsSystem.CoordinatorName}",
            ClusterSingletonProxySettings.Create(system).WithRole(WalsSystem.TrainerRole)), WalsSystem.CoordinatorName + "-layout");
        try
        {
            var layout = await proxy.Ask<ClusterLayout>(GetClusterLayout.Instance, timeout < TimeSpan.FromSeconds(15) ? timeout : TimeSpan.FromSeconds(15));
            // The nodes' configuration decides the client-side settings too (zero: a coordinator that does not send them).
            return configured with
            {
                UserShards = layout.UserShards,
                ItemShards = layout.ItemShards,
                IngestBatchEntries = layout.IngestBatchEntries > 0 ? layout.IngestBatchEntries : configured.IngestBatchEntries,
                IngestParallelism = layout.IngestParallelism > 0 ? layout.IngestParallelism : configured.IngestParallelism,
                IngestAskTimeout = layout.IngestAskTimeoutMs > 0 ? TimeSpan.FromMilliseconds(layout.IngestAskTimeoutMs) : configured.IngestAskTimeout,
                IngestAttempts = layout.IngestAttempts > 0 ? layout.IngestAttempts : configured.IngestAttempts,
                GatherRows = layout.GatherRows > 0 ? layout.GatherRows : configured.GatherRows,
            };
        }
        catch (AskTimeoutException)
        {
            return configured;
        }
        finally
        {
            system.Stop(proxy);
        }
    }

    /// <summary>
    /// Ingests <paramref name="table"/>, trains it with <paramref name="options"/>, and gathers the factors.
    /// <paramref name="ingested"/> is called once ingestion is acknowledged, before the run starts (benchmarks sample there).
    /// With <paramref name="itemText"/> the texts are streamed through the cluster's embedding pools into the item shards
    /// before the run starts (<see cref="EmbeddingPipeline"/>), the coordinator fits the projection after the last
    /// iteration, and the result carries it with the cold items' factors (<see cref="ClusterTrainingResult.Projection"/>).
    /// </summary>
    public async Task<ClusterTrainingResult> TrainAsync(InteractionTable table, WalsOptions options, Action<TrainingProgress>? progress = null, CancellationToken cancellationToken = default,
        Action<IngestionSummary>? ingested = null, ItemTextInput? itemText = null, Action<EmbeddingPipelineSummary>? embedded = null)
    {
        options.Validate();
        var layout = await Actors.Coordinator.Ask<ClusterLayout>(GetClusterLayout.Instance, TimeSpan.FromSeconds(30), cancellationToken);
        if (layout.UserShards != Settings.UserShards || layout.ItemShards != Settings.ItemShards)
        {
            throw new InvalidOperationException($"The cluster has {layout.UserShards} user and {layout.ItemShards} item shards but this client is configured for {Settings.UserShards} and {Settings.ItemShards} (wals.cluster.user-shards / item-shards).");
        }
        var run = $"run-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..32];
        // The listener gets every reply of the run; the coordinator holds the cluster for the run while it lives.
        var channel = Channel.CreateUnbounded<object>();
        var listener = System.ActorOf(Props.Create(() => new Listener(channel.Writer)));
        try
        {
            await ReserveAsync(run, listener, channel.Reader, cancellationToken);
            return await TrainReservedAsync(run, listener, channel.Reader, table, options, progress, cancellationToken, ingested, itemText, embedded);
        }
        finally
        {
            Actors.Coordinator.Tell(new ReleaseTrainingRun(run), listener);
            System.Stop(listener);
        }
    }

    /// <summary>How long the client waits for news of its run before it asks the coordinator whether it still holds the run.</summary>
    private TimeSpan QuietPeriod => Settings.ResendAfter > TimeSpan.FromSeconds(30) ? Settings.ResendAfter : TimeSpan.FromSeconds(30);

    private async Task ReserveAsync(string run, IActorRef listener, ChannelReader<object> replies, CancellationToken cancellationToken)
    {
        Actors.Coordinator.Tell(new ReserveTrainingRun(run), listener);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                if (await replies.ReadAsync(wait.Token) is TrainingRunReserved reserved && reserved.Run == run)
                {
                    if (reserved.Failure is not null)
                    {
                        throw new InvalidOperationException(reserved.Failure);
                    }
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException("The training coordinator did not answer the reservation of a run within 30 s.");
        }
    }

    /// <summary>
    /// The next message of the run. When none comes for <see cref="QuietPeriod"/>, asks the coordinator whether it still
    /// holds the run: a coordinator that moved to another node (its node left) knows nothing of it, and waiting on would
    /// never end.
    /// </summary>
    private async Task<object> NextAsync(string run, ChannelReader<object> replies, CancellationToken cancellationToken)
    {
        var unanswered = 0;
        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(QuietPeriod);
            try
            {
                return await replies.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
            try
            {
                var layout = await Actors.Coordinator.Ask<ClusterLayout>(GetClusterLayout.Instance, TimeSpan.FromSeconds(15), cancellationToken);
                if (layout.ActiveRun != run)
                {
                    throw new InvalidOperationException($"The training coordinator no longer holds run '{run}' (it holds {(layout.ActiveRun is null ? "none" : $"'{layout.ActiveRun}'")}): " +
                        "its node probably left, and a run does not survive that. Train again.");
                }
                unanswered = 0;
            }
            catch (AskTimeoutException) when (++unanswered < 4)
            {
            }
            catch (AskTimeoutException)
            {
                throw new InvalidOperationException($"The training coordinator has not answered for {unanswered} x 15 s while run '{run}' was waited for.");
            }
        }
    }

    private async Task<ClusterTrainingResult> TrainReservedAsync(string run, IActorRef listener, ChannelReader<object> replies, InteractionTable table, WalsOptions options,
        Action<TrainingProgress>? progress, CancellationToken cancellationToken, Action<IngestionSummary>? ingested, ItemTextInput? itemText, Action<EmbeddingPipelineSummary>? embedded)
    {
        var ingestion = await Ingestion.RunAsync(System, Actors.ShardRegion, table, run, Settings, cancellationToken);
        ingested?.Invoke(ingestion);
        EmbeddingSettings? encoder = null;
        EmbeddingPipelineSummary? pipeline = null;
        ProjectionRequest? request = null;
        if (itemText is not null)
        {
            encoder = await EncoderSettingsAsync(cancellationToken);
            var items = EmbeddingPipeline.Assign(itemText.Records, table.Items, itemText.Metadata is null ? null : itemText.FeaturesOf);
            pipeline = await EmbeddingPipeline.RunAsync(System, Actors.Embedding, Actors.ShardRegion, items, run, Settings.ItemShards, table.Items.Count, Pipeline, Settings, cancellationToken);
            embedded?.Invoke(pipeline);
            if (pipeline.Dimension != encoder.Dimension)
            {
                throw new InvalidOperationException($"The embedders report {encoder.Dimension}-dimensional vectors ({encoder}) but sent {pipeline.Dimension}.");
            }
            request = new ProjectionRequest(itemText.ValidationFraction, (byte)itemText.Weighting, pipeline.ShardItems, itemText.Metadata?.Count ?? 0);
            if (itemText.Metadata is { } metadata)
            {
                // The model file's projection section: the vectors the projection takes are the encoder's plus the features.
                encoder = encoder.WithMetadata(metadata);
            }
        }
        var history = new List<TrainingProgress>();
        Actors.Coordinator.Tell(new StartTrainingRun(run, options.ToWire(), table.Users.Count, table.Items.Count,
            ingestion.UserShardRows, ingestion.UserShardEntries, ingestion.ItemShardRows, ingestion.ItemShardEntries, request), listener);
        TrainingCompleted? completed = null;
        ProjectionFitted? fitted = null;
        while (completed is null || (request is not null && fitted is null))
        {
            var message = await NextAsync(run, replies, cancellationToken);
            switch (message)
            {
                case TrainingProgress p when p.Run == run:
                    history.Add(p);
                    progress?.Invoke(p);
                    break;
                case TrainingCompleted c when c.Run == run:
                    completed = c;
                    break;
                case TrainingFailed f:
                    throw new InvalidOperationException($"Training run {f.Run} failed: {f.Reason}");
                case ProjectionFitted p when p.Run == run:
                    fitted = p;
                    break;
                case ProjectionFailed f when f.Run == run:
                    throw new InvalidOperationException($"The projection of run {f.Run} failed: {f.Reason}");
            }
        }
        var userFactors = await GatherAsync(run, Side.Users, table.Users.Count, options.Factors, cancellationToken);
        var itemFactors = await GatherAsync(run, Side.Items, table.Items.Count, options.Factors, cancellationToken);
        ClusterProjection? projection = null;
        if (fitted is not null)
        {
            var (ids, factors) = await GatherColdAsync(run, table.Items.Count, fitted.ColdItems, options.Factors, cancellationToken);
            projection = new ClusterProjection(pipeline!, encoder!, fitted, ids, factors, itemText!.ValidationFraction);
        }
        return new ClusterTrainingResult(run, completed, userFactors, itemFactors, ingestion, history) { Projection = projection };
    }

    /// <summary>
    /// Rows per gather page: <see cref="WalsSettings.GatherRows"/>, or fewer when that many rows of k floats and an index
    /// (4 (k + 1) bytes each) would not fit in a remote frame (k = 256 at the default 16,384 rows did not).
    /// </summary>
    /// <param name="k">Factors per row.</param>
    /// <param name="extraBytesPerRow">What else a row carries (an id string for cold items).</param>
    public int GatherPageRows(int k, int extraBytesPerRow = 0)
    {
        var frame = WalsSettings.MaximumFrameBytes(System.Settings.Config) ?? long.MaxValue;
        var fit = (frame - WalsSettings.FrameHeadroomBytes) / (4L * (k + 1) + extraBytesPerRow);
        return (int)Math.Clamp(fit, 1, Settings.GatherRows);
    }

    /// <summary>All factor rows of one side, in global row order, read shard by shard in pages.</summary>
    public async Task<float[]> GatherAsync(string run, Side side, int count, int k, CancellationToken cancellationToken = default)
    {
        var factors = new float[(long)count * k];
        var seen = 0;
        var shards = side == Side.Users ? Settings.UserShards : Settings.ItemShards;
        for (var s = 0; s < shards; s++)
        {
            for (var offset = 0; ;)
            {
                var page = await Actors.ShardRegion.Ask<ShardFactors>(new GetShardFactors(run, side, s, offset, GatherPageRows(k)), TimeSpan.FromSeconds(60), cancellationToken);
                if (page.Failure is not null)
                {
                    throw new InvalidOperationException(page.Failure);
                }
                for (var j = 0; j < page.Rows.Length; j++)
                {
                    page.Values.AsSpan(j * k, k).CopyTo(factors.AsSpan(page.Rows[j] * k, k));
                }
                seen += page.Rows.Length;
                offset += page.Rows.Length;
                if (offset >= page.TotalRows || page.Rows.Length == 0)
                {
                    break;
                }
            }
        }
        return seen == count ? factors : throw new InvalidOperationException($"Gathered {seen} {side} rows, expected {count}.");
    }

    /// <summary>The cold items of every item shard (ids and factors), in global order (their globals are
    /// <paramref name="knownItems"/>, <paramref name="knownItems"/> + 1, ...: checked).</summary>
    public async Task<(string[] Ids, float[] Factors)> GatherColdAsync(string run, int knownItems, int count, int k, CancellationToken cancellationToken = default)
    {
        var ids = new string[count];
        var factors = new float[(long)count * k];
        var seen = 0;
        for (var s = 0; s < Settings.ItemShards; s++)
        {
            for (var offset = 0; ;)
            {
                var page = await Actors.ShardRegion.Ask<ColdItemFactors>(new GetColdItems(run, Side.Items, s, offset, GatherPageRows(k, extraBytesPerRow: 256)), TimeSpan.FromSeconds(60), cancellationToken);
                if (page.Failure is not null)
                {
                    if (page.TotalRows == 0 && offset == 0)
                    {
                        break;
                    }
                    throw new InvalidOperationException(page.Failure);
                }
                for (var j = 0; j < page.Ids.Length; j++)
                {
                    var c = page.Globals[j] - knownItems;
                    if ((uint)c >= (uint)count || ids[c] is not null)
                    {
                        throw new InvalidOperationException($"Cold item '{page.Ids[j]}' of item-{s} has global index {page.Globals[j]}, outside {knownItems}..{knownItems + count - 1} or taken twice.");
                    }
                    ids[c] = page.Ids[j];
                    page.Values.AsSpan(j * k, k).CopyTo(factors.AsSpan(c * k, k));
                }
                seen += page.Ids.Length;
                offset += page.Ids.Length;
                if (offset >= page.TotalRows || page.Ids.Length == 0)
                {
                    break;
                }
            }
        }
        return seen == count ? (ids, factors) : throw new InvalidOperationException($"Gathered {seen} cold items, the coordinator reported {count}.");
    }

    /// <summary>How the cluster's embedders embed (asks one pool; loads a lazily loaded model).</summary>
    public async Task<EmbeddingSettings> EncoderSettingsAsync(CancellationToken cancellationToken = default)
    {
        var pipeline = Pipeline;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var report = await Actors.Embedding.Ask<EncoderSettingsReport>(GetEncoderSettings.Instance, pipeline.AskTimeout, cancellationToken);
                return report.Failure is null ? EmbeddingSettings.FromJson(report.SettingsJson, "the embedder's settings")
                    : throw new InvalidOperationException($"The embedding pool cannot embed: {report.Failure}");
            }
            catch (AskTimeoutException) when (attempt < pipeline.Attempts)
            {
            }
            catch (AskTimeoutException)
            {
                throw new InvalidOperationException($"No embedding pool answered within {pipeline.AskTimeout.TotalSeconds:0.###} s, {pipeline.Attempts} times " +
                    $"(is a node with the '{WalsSystem.EmbedderRole}' role and wals.embedding.enabled = on up?).");
            }
        }
    }

    /// <summary>Where every shard lives and what it holds.</summary>
    public async Task<IReadOnlyList<ShardStatus>> StatusesAsync(CancellationToken cancellationToken = default)
    {
        var asks = Enumerable.Range(0, Settings.UserShards).Select(s => new GetShardStatus(Side.Users, s))
            .Concat(Enumerable.Range(0, Settings.ItemShards).Select(s => new GetShardStatus(Side.Items, s)))
            .Select(m => Actors.ShardRegion.Ask<ShardStatus>(m, TimeSpan.FromSeconds(30), cancellationToken));
        return await Task.WhenAll(asks);
    }

    /// <summary>Asks the local router (reply within the router's per-shard timeouts).</summary>
    public Task<Recommendations> AskAsync(IWalsMessage query, CancellationToken cancellationToken = default) =>
        Actors.Router.Ask<Recommendations>(query, ReplyTimeout(query), cancellationToken);

    /// <summary>How long <see cref="AskAsync"/> waits (<see cref="QueryRouter.ReplyTimeout"/>).</summary>
    public TimeSpan ReplyTimeout(IWalsMessage query) => QueryRouter.ReplyTimeout(Settings, Pipeline.AskTimeout, query is RecommendForText);

    /// <summary>The gathered factors as the engine's saved model (same file format as <c>wals train</c>).</summary>
    public static SavedModel ToSavedModel(InteractionTable table, WalsOptions options, ClusterTrainingResult result, string source, string? testSplitPath = null)
    {
        var metadata = new TrainingMetadata
        {
            TestSplitPath = testSplitPath,
            IterationsCompleted = result.Completed.Iterations,
            TotalSeconds = result.Completed.Seconds,
            NonZeros = table.Count,
            FinalLoss = result.Completed.Losses.Length > 0 ? result.Completed.Losses[^1] : result.Completed.InitialLoss,
            Source = source,
        };
        var model = new FactorModel(table.Users, table.Items, options.Factors, result.UserFactors, result.ItemFactors, options, metadata);
        var saved = new SavedModel(model, table.ToUserItemMatrix(), []);
        return result.Projection is { } projection ? WithProjection(saved, projection) : saved;
    }

    /// <summary>
    /// The model with the cluster's projection as the single-process <c>ProjectionTraining.Attach</c> writes it: the
    /// <c>projection</c> section (encoder settings, fit figures, W, b) and the cold items appended after the trained items
    /// (in the order of the item-text source) with their projected factors and empty training columns.
    /// </summary>
    public static SavedModel WithProjection(SavedModel saved, ClusterProjection projection)
    {
        var model = saved.Model;
        var k = model.Factors;
        var fit = projection.Fit;
        var info = new ProjectionFitInfo
        {
            TrainItems = fit.TrainItems,
            ValidationItems = fit.ValidationItems,
            ValidationMse = fit.ValidationMse,
            ValidationMeanSquare = fit.ValidationMeanSquare,
            ValidationFraction = projection.ValidationFraction,
            // The cluster holds out by a hash of the item id (ProjectionSplit), not by a seeded shuffle: no seed.
            Seed = 0,
            ProjectedItems = projection.ColdIds,
        };
        var query = projection.QueryProjection;
        var section = new ProjectionSection(projection.Encoder, info with { QueryMu = query?.Mu }, projection.Projection, query);
        var sections = saved.OtherSections.Where(s => s.Name != ProjectionSection.Name).Append(section.ToModelSection()).ToList();
        if (projection.ColdIds.Length == 0)
        {
            return saved with { OtherSections = sections };
        }
        var items = new IdMap(model.Items.Ids.Concat(projection.ColdIds));
        var factors = new float[(long)items.Count * k];
        model.ItemFactors.CopyTo(factors, 0);
        projection.ColdFactors.CopyTo(factors, (long)model.Items.Count * k);
        var widened = new FactorModel(model.Users, items, k, model.UserFactors, factors, model.Options, model.Metadata);
        var train = new CsrMatrix(saved.Train.Rows, items.Count, saved.Train.RowStart, saved.Train.ColumnIndex, saved.Train.Values);
        return new SavedModel(widened, train, sections);
    }

    /// <summary>Leaves the cluster and stops the actor system.</summary>
    public async ValueTask DisposeAsync()
    {
        var cluster = Cluster.Get(System);
        var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberRemoved(() => left.TrySetResult());
        await cluster.LeaveAsync();
        await Task.WhenAny(left.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        await System.Terminate();
    }

    /// <summary>Receives the coordinator's replies for a run and hands them to the waiting task.</summary>
    private sealed class Listener : ReceiveActor
    {
        public Listener(ChannelWriter<object> writer)
        {
            ReceiveAny(m => writer.TryWrite(m));
        }
    }
}
