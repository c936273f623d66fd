using System.CommandLine;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WalsCluster.Actors;

namespace WalsCluster.Host.Cluster;

/// <summary>
/// <c>wals node</c>: runs one cluster node until it is stopped (Ctrl+C, SIGTERM, or "stop" / end of input with
/// --stop-on-stdin). Values come from the options, else appsettings.json / environment variables
/// (Wals__Host, Wals__Port, Wals__SeedNodes, Wals__Roles, Wals__Config), else the defaults.
/// </summary>
internal static class NodeCommand
{
    /// <summary>The line a node prints once it is an Up member (the demo and the tests wait for it).</summary>
    public const string UpLine = "wals node up:";

    public static Command Create()
    {
        var host = new Option<string?>("--host") { Description = "Hostname or IP to bind and advertise (default 127.0.0.1)." };
        var port = new Option<int?>("--port") { Description = "TCP port (default 4053)." };
        var seeds = new Option<string?>("--seed-nodes") { Description = "HOST:PORT[,HOST:PORT...] of the seed nodes; omitted: this node is the first seed." };
        var roles = new Option<string?>("--roles") { Description = "trainer,query,embedder (default all three): trainer hosts factor shards and the coordinator, query the router, embedder the embedding pool (wals.embedding)." };
        var config = new Option<string?>("--config") { Description = "A HOCON overlay over hocon/reference.conf (e.g. wals.cluster.user-shards)." };
        var stdin = new Option<bool>("--stop-on-stdin") { Description = "Leave the cluster and exit when standard input says 'stop' or ends (for supervisors and tests)." };
        var command = new Command("node", "Run a WalsCluster node (Akka.NET cluster member, actor system 'wals').");
        foreach (var option in new Option[] { host, port, seeds, roles, config, stdin })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Cli.Output.Guard(() =>
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            var section = builder.Configuration.GetSection("Wals");
            var node = new NodeAddress(
                result.GetValue(host) ?? section["Host"] ?? "127.0.0.1",
                result.GetValue(port) ?? (int.TryParse(section["Port"], out var p) ? p : 4053),
                Split(result.GetValue(seeds) ?? section["SeedNodes"]).Select(s => WalsSystem.ParseHostPort(s, "seed-nodes")).ToArray(),
                Split(result.GetValue(roles) ?? section["Roles"] ?? "trainer,query,embedder"));
            var overlayPath = result.GetValue(config) ?? section["Config"];
            var overlay = overlayPath is null ? null : Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(overlayPath));
            var nodeConfig = WalsSystem.Config(node, overlay);
            WalsSettings.FromConfig(nodeConfig);
            HostingExtensions.ValidateEmbedding(nodeConfig);
            builder.Services.AddAkka(WalsSystem.SystemName, (akka, _) =>
            {
                akka.WithWalsNode(node, overlay);
                akka.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() =>
                    Console.Out.WriteLine($"{UpLine} akka.tcp://{WalsSystem.SystemName}@{node.Host}:{node.Port} roles [{string.Join(",", node.Roles)}]")));
            });
            using var app = builder.Build();
            if (result.GetValue(stdin))
            {
                var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
                _ = Task.Run(() =>
                {
                    string? line;
                    while ((line = Console.In.ReadLine()) is not null && line.Trim() != "stop")
                    {
                    }
                    lifetime.StopApplication();
                });
            }
            app.Run();
            return 0;
        }));
        return command;
    }

    private static string[] Split(string? text) =>
        text is null ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
