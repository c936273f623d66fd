using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>The factors a cluster run produced, gathered from the shards in the engine's global row order.</summary>
public sealed record ClusterTrainingResult(string Run, TrainingCompleted Completed, float[] UserFactors, float[] ItemFactors, IngestionSummary Ingestion, IReadOnlyList<TrainingProgress> Progress);

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
        var settings = WalsSettings.FromConfig(config);
        return new WalsClient(system, settings, WalsSystem.Start(system, settings, [WalsSystem.ClientRole]));
    }

    /// <summary>
    /// Ingests <paramref name="table"/>, trains it with <paramref name="options"/>, and gathers the factors.
    /// <paramref name="ingested"/> is called once ingestion is acknowledged, before the run starts (benchmarks sample there).
    /// </summary>
    public async Task<ClusterTrainingResult> TrainAsync(InteractionTable table, WalsOptions options, Action<TrainingProgress>? progress = null, CancellationToken cancellationToken = default,
        Action<IngestionSummary>? ingested = null)
    {
        options.Validate();
        var layout = await Actors.Coordinator.Ask<ClusterLayout>(GetClusterLayout.Instance, TimeSpan.FromSeconds(30), cancellationToken);
        if (layout.UserShards != Settings.UserShards || layout.ItemShards != Settings.ItemShards)
        {
            throw new InvalidOperationException($"The cluster has {layout.UserShards} user and {layout.ItemShards} item shards but this client is configured for {Settings.UserShards} and {Settings.ItemShards} (wals.cluster.user-shards / item-shards).");
        }
        var run = $"run-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..32];
        var ingestion = await Ingestion.RunAsync(System, Actors.ShardRegion, table, run, Settings, cancellationToken);
        ingested?.Invoke(ingestion);
        var channel = Channel.CreateUnbounded<object>();
        var listener = System.ActorOf(Props.Create(() => new Listener(channel.Writer)));
        var history = new List<TrainingProgress>();
        try
        {
            Actors.Coordinator.Tell(new StartTrainingRun(run, options.ToWire(), table.Users.Count, table.Items.Count,
                ingestion.UserShardRows, ingestion.UserShardEntries, ingestion.ItemShardRows, ingestion.ItemShardEntries), listener);
            TrainingCompleted? completed = null;
            while (completed is null)
            {
                var message = await channel.Reader.ReadAsync(cancellationToken);
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
                }
            }
            var users = await GatherAsync(run, Side.Users, table.Users.Count, options.Factors, cancellationToken);
            var items = await GatherAsync(run, Side.Items, table.Items.Count, options.Factors, cancellationToken);
            return new ClusterTrainingResult(run, completed, users, items, ingestion, history);
        }
        finally
        {
            System.Stop(listener);
        }
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
                var page = await Actors.ShardRegion.Ask<ShardFactors>(new GetShardFactors(run, side, s, offset, Settings.GatherRows), TimeSpan.FromSeconds(60), cancellationToken);
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
        Actors.Router.Ask<Recommendations>(query, Settings.QueryTimeout * 3 + TimeSpan.FromSeconds(5), cancellationToken);

    /// <summary>The gathered factors as the engine's saved model (same file format as <c>wals train</c>).</summary>
    public static SavedModel ToSavedModel(InteractionTable table, WalsOptions options, ClusterTrainingResult result, string source)
    {
        var metadata = new TrainingMetadata
        {
            IterationsCompleted = result.Completed.Iterations,
            TotalSeconds = result.Completed.Seconds,
            NonZeros = table.Count,
            FinalLoss = result.Completed.Losses.Length > 0 ? result.Completed.Losses[^1] : result.Completed.InitialLoss,
            Source = source,
        };
        var model = new FactorModel(table.Users, table.Items, options.Factors, result.UserFactors, result.ItemFactors, options, metadata);
        return new SavedModel(model, table.ToUserItemMatrix(), []);
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
