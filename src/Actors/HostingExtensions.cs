using Akka.Actor;
using Akka.Hosting;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>Registry keys of the actors a WalsCluster node starts (resolve them with <see cref="IActorRegistry"/>).</summary>
public sealed class FactorShardRegionKey;

public sealed class TrainingCoordinatorKey;

public sealed class QueryRouterKey;

/// <summary>Akka.Hosting wiring of a WalsCluster node by role.</summary>
public static class HostingExtensions
{
    /// <summary>
    /// The node's configuration (reference HOCON, the binary serializer for <see cref="IWalsMessage"/>, remoting on
    /// <paramref name="node"/>'s host:port, cluster roles and seeds) and, at start-up, the actors of its roles:
    /// <c>trainer</c> hosts factor shards and the coordinator singleton, <c>query</c> the router; other roles get proxies.
    /// Settings are read and validated before the system starts, so a bad key fails start-up with its name.
    /// </summary>
    public static AkkaConfigurationBuilder WithWalsNode(this AkkaConfigurationBuilder builder, NodeAddress node, Akka.Configuration.Config? overlay = null)
    {
        var config = WalsSystem.Config(node, overlay);
        var settings = WalsSettings.FromConfig(config);
        builder.AddHocon(config, HoconAddMode.Prepend);
        builder.AddStartup((system, registry) =>
        {
            var actors = WalsSystem.Start(system, settings, node.Roles.ToArray());
            registry.Register<FactorShardRegionKey>(actors.ShardRegion);
            registry.Register<TrainingCoordinatorKey>(actors.Coordinator);
            if (!actors.Router.IsNobody())
            {
                registry.Register<QueryRouterKey>(actors.Router);
            }
        });
        return builder;
    }

    /// <summary>A node with the <c>trainer</c> role (factor shards, coordinator singleton).</summary>
    public static AkkaConfigurationBuilder WithWalsTrainer(this AkkaConfigurationBuilder builder, string host, int port, IReadOnlyList<string> seeds) =>
        builder.WithWalsNode(new NodeAddress(host, port, seeds, [WalsSystem.TrainerRole]));

    /// <summary>A node with the <c>query</c> role (query router over the shard region proxy).</summary>
    public static AkkaConfigurationBuilder WithWalsQuery(this AkkaConfigurationBuilder builder, string host, int port, IReadOnlyList<string> seeds) =>
        builder.WithWalsNode(new NodeAddress(host, port, seeds, [WalsSystem.QueryRole]));
}
