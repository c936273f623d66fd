using Akka.Actor;
using Akka.Cluster.Routing;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Routing;
using WalsCluster.Actors.Embedding;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>Where a node or client listens and which cluster it joins.</summary>
/// <param name="Host">Hostname or IP the node binds to and advertises (127.0.0.1 for a local cluster).</param>
/// <param name="Port">TCP port; 0 picks a free one (clients).</param>
/// <param name="SeedNodes">host:port of the seed nodes; empty means this node is the first seed itself.</param>
/// <param name="Roles">Cluster roles: <c>trainer</c> (factor shards and the coordinator), <c>query</c> (the router),
/// <c>embedder</c> (the embedding pool), <c>client</c>.</param>
public sealed record NodeAddress(string Host, int Port, IReadOnlyList<string> SeedNodes, IReadOnlyList<string> Roles);

/// <summary>
/// Wiring of the WalsCluster actors into an actor system: the HOCON (reference, serializer binding, remoting,
/// cluster), the factor shard region (entity per Akka shard, so allocation spreads the entities over trainer nodes),
/// the coordinator singleton, the embedding pool of an embedder node, the router over the cluster's embedding pools,
/// and the query router. The same calls back the Akka.Hosting extension methods.
/// </summary>
public static class WalsSystem
{
    /// <summary>The fixed actor system name: a node's address is just host:port.</summary>
    public const string SystemName = "wals";

    /// <summary>Type name of the factor shard region.</summary>
    public const string ShardTypeName = "wals-factor-shard";

    public const string CoordinatorName = "wals-coordinator";

    public const string RouterName = "wals-query-router";

    /// <summary>Name of the embedding pool under /user on an embedder node.</summary>
    public const string EmbeddingPoolName = "wals-embedding-pool";

    /// <summary>Name of the cluster router group over every embedder node's pool.</summary>
    public const string EmbeddingRouterName = "wals-embedding-router";

    public const string TrainerRole = "trainer";

    public const string QueryRole = "query";

    /// <summary>Hosts the embedding pool (one Embedder per device of <c>wals.embedding.devices</c>), ideally a GPU node.</summary>
    public const string EmbedderRole = "embedder";

    public const string ClientRole = "client";

    /// <summary>The full configuration of a node: <paramref name="overlay"/> over remoting/cluster settings over the reference.</summary>
    public static Config Config(NodeAddress node, Config? overlay = null)
    {
        foreach (var role in node.Roles)
        {
            if (role is not (TrainerRole or QueryRole or EmbedderRole or ClientRole))
            {
                throw new ConfigurationException($"Role '{role}' is unknown: use {TrainerRole}, {QueryRole}, {EmbedderRole} or {ClientRole}.");
            }
        }
        var seeds = (node.SeedNodes.Count == 0 ? [$"{node.Host}:{node.Port}"] : node.SeedNodes)
            .Select(s => $"\"akka.tcp://{SystemName}@{ParseHostPort(s, "seed-nodes")}\"");
        var hocon = $$"""
            akka.remote.dot-netty.tcp.hostname = "{{node.Host}}"
            akka.remote.dot-netty.tcp.port = {{node.Port}}
            akka.cluster.roles = [{{string.Join(", ", node.Roles.Select(r => $"\"{r}\""))}}]
            akka.cluster.seed-nodes = [{{string.Join(", ", seeds)}}]
            """;
        var config = ConfigurationFactory.ParseString(hocon)
            .WithFallback(ConfigurationFactory.ParseString(WalsSerializer.Hocon))
            .WithFallback(WalsSettings.Reference);
        return overlay is null ? config : overlay.WithFallback(config);
    }

    /// <summary>A TCP port free on 127.0.0.1 right now (for local nodes and tests; another process may take it later).</summary>
    public static int FreeLoopbackPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>"host:port" checked, with the option name in the error.</summary>
    public static string ParseHostPort(string text, string option)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            throw new ArgumentException($"Option '{option}' = '{text}' is invalid: use HOST:PORT with a port between 1 and 65535.");
        }
        return text;
    }

    /// <summary>Starts what <paramref name="roles"/> host: the shard region and coordinator singleton on trainer nodes (proxies
    /// elsewhere), the embedding pool on embedder nodes when <c>wals.embedding.enabled</c>, the router over the cluster's
    /// embedding pools everywhere, the query router on query nodes and clients. Returns the handles. The embedding settings
    /// are read from the system's configuration and validated here (a bad key fails start-up with its name).
    /// <paramref name="sessions"/> creates one encoder session per device (null: ONNX Runtime over <c>wals.embedding.model</c>).</summary>
    public static WalsActors Start(ActorSystem system, WalsSettings settings, IReadOnlyCollection<string> roles, Func<string, IEmbeddingSession>? sessions = null)
    {
        var config = system.Settings.Config;
        var pool = EmbeddingPoolSettings.FromConfig(config);
        var service = EmbeddingServiceSettings.FromConfig(config);
        var pipeline = EmbeddingPipelineSettings.FromConfig(config);
        var sharding = ClusterSharding.Get(system);
        IActorRef region;
        if (roles.Contains(TrainerRole))
        {
            region = sharding.Start(ShardTypeName, _ => FactorShard.Props(settings), ClusterShardingSettings.Create(system).WithRole(TrainerRole),
                new FactorShardExtractor());
            system.ActorOf(ClusterSingletonManager.Props(TrainingCoordinator.Props(settings), PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(TrainerRole)), CoordinatorName);
        }
        else
        {
            region = sharding.StartProxy(ShardTypeName, TrainerRole, new FactorShardExtractor());
        }
        var coordinator = system.ActorOf(ClusterSingletonProxy.Props($"/user/{CoordinatorName}",
            ClusterSingletonProxySettings.Create(system).WithRole(TrainerRole)), CoordinatorName + "-proxy");
        var localPool = roles.Contains(EmbedderRole) && service.Enabled
            ? system.ActorOf(EmbeddingPool.Props(pool, service.WithLoading(sessions ?? service.SessionFactory())), EmbeddingPoolName)
            : ActorRefs.Nobody;
        var poolPath = $"/user/{EmbeddingPoolName}";
        var embedding = system.ActorOf(new ClusterRouterGroup(new RoundRobinGroup([poolPath]),
            new ClusterRouterGroupSettings(int.MaxValue, [poolPath], allowLocalRoutees: true, useRole: EmbedderRole)).Props(), EmbeddingRouterName);
        var router = roles.Contains(QueryRole) || roles.Contains(ClientRole)
            ? system.ActorOf(QueryRouter.Props(settings, region, coordinator, embedding, pipeline.AskTimeout), RouterName)
            : ActorRefs.Nobody;
        return new WalsActors(region, coordinator, router) { Embedding = embedding, EmbeddingPool = localPool };
    }
}

/// <summary>The actors a node or client talks to.</summary>
public sealed record WalsActors(IActorRef ShardRegion, IActorRef Coordinator, IActorRef Router)
{
    /// <summary>The router over the embedding pools of the cluster's embedder nodes (round robin).</summary>
    public IActorRef Embedding { get; init; } = ActorRefs.Nobody;

    /// <summary>This node's own embedding pool; Nobody unless the node has the embedder role and embedding is enabled.</summary>
    public IActorRef EmbeddingPool { get; init; } = ActorRefs.Nobody;
}

/// <summary>
/// Routes <see cref="IShardMessage"/>s: entity id <c>user-N</c> / <c>item-N</c>, and one Akka shard per entity (shard id =
/// entity id), so that the allocation strategy spreads the factor shards themselves over the trainer nodes.
/// </summary>
public sealed class FactorShardExtractor : IMessageExtractor
{
    public string? EntityId(object message) => message switch
    {
        IShardMessage m => m.EntityId(),
        _ => null,
    };

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) => EntityId(message);

    public string ShardId(string entityId, object? messageHint = null) => entityId;
}
