using Akka.Actor;
using Akka.Hosting;
using WalsCluster.Actors.Embedding;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>Registry keys of the actors a WalsCluster node starts (resolve them with <see cref="IActorRegistry"/>).</summary>
public sealed class FactorShardRegionKey;

public sealed class TrainingCoordinatorKey;

public sealed class QueryRouterKey;

/// <summary>This node's <see cref="EmbeddingPool"/> (registered on nodes with the <c>embedder</c> role when
/// <c>wals.embedding.enabled</c>).</summary>
public sealed class EmbeddingPoolKey;

/// <summary>The router over every embedder node's pool (registered on every node).</summary>
public sealed class EmbeddingRouterKey;

/// <summary>Akka.Hosting wiring of a WalsCluster node by role.</summary>
public static class HostingExtensions
{
    /// <summary>
    /// The node's configuration (reference HOCON, the binary serializer for <see cref="IWalsMessage"/>, remoting on
    /// <paramref name="node"/>'s host:port, cluster roles and seeds) and, at start-up, the actors of its roles:
    /// <c>trainer</c> hosts factor shards and the coordinator singleton, <c>query</c> the router, <c>embedder</c> the
    /// embedding pool (when <c>wals.embedding.enabled</c>; the model is loaded as <c>wals.embedding.load</c> says); other
    /// roles get proxies. Settings (cluster and embedding) are read and validated before the system starts, so a bad key
    /// fails start-up with its name. <paramref name="sessions"/> creates the pool's encoder session per device (null: ONNX
    /// Runtime over <c>wals.embedding.model</c>).
    /// </summary>
    public static AkkaConfigurationBuilder WithWalsNode(this AkkaConfigurationBuilder builder, NodeAddress node, Akka.Configuration.Config? overlay = null,
        Func<string, IEmbeddingSession>? sessions = null)
    {
        var config = WalsSystem.Config(node, overlay);
        var settings = WalsSettings.FromConfig(config);
        ValidateEmbedding(config);
        builder.AddHocon(config, HoconAddMode.Prepend);
        builder.AddStartup((system, registry) =>
        {
            var actors = WalsSystem.Start(system, settings, node.Roles.ToArray(), sessions);
            registry.Register<FactorShardRegionKey>(actors.ShardRegion);
            registry.Register<TrainingCoordinatorKey>(actors.Coordinator);
            registry.Register<EmbeddingRouterKey>(actors.Embedding);
            if (!actors.Router.IsNobody())
            {
                registry.Register<QueryRouterKey>(actors.Router);
            }
            if (!actors.EmbeddingPool.IsNobody())
            {
                registry.Register<EmbeddingPoolKey>(actors.EmbeddingPool);
            }
        });
        return builder;
    }

    /// <summary>Reads every <c>wals.embedding</c> key of <paramref name="config"/>; throws naming the first bad one.</summary>
    public static void ValidateEmbedding(Akka.Configuration.Config config)
    {
        EmbeddingPoolSettings.FromConfig(config);
        EmbeddingServiceSettings.FromConfig(config);
        EmbeddingPipelineSettings.FromConfig(config);
    }

    /// <summary>A node with the <c>trainer</c> role (factor shards, coordinator singleton).</summary>
    public static AkkaConfigurationBuilder WithWalsTrainer(this AkkaConfigurationBuilder builder, string host, int port, IReadOnlyList<string> seeds) =>
        builder.WithWalsNode(new NodeAddress(host, port, seeds, [WalsSystem.TrainerRole]));

    /// <summary>A node with the <c>query</c> role (query router over the shard region proxy).</summary>
    public static AkkaConfigurationBuilder WithWalsQuery(this AkkaConfigurationBuilder builder, string host, int port, IReadOnlyList<string> seeds) =>
        builder.WithWalsNode(new NodeAddress(host, port, seeds, [WalsSystem.QueryRole]));

    /// <summary>A node with the <c>embedder</c> role (the embedding pool over <c>wals.embedding.devices</c>).</summary>
    public static AkkaConfigurationBuilder WithWalsEmbedder(this AkkaConfigurationBuilder builder, string host, int port, IReadOnlyList<string> seeds) =>
        builder.WithWalsNode(new NodeAddress(host, port, seeds, [WalsSystem.EmbedderRole]));
}
