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
/// (Wals__Host, Wals__Port, Wals__SeedNodes, Wals__Roles, Wals__Config, Wals__HttpPort, Wals__HttpHost,
/// Wals__HttpMaxConcurrent), else the defaults. With an HTTP port the node also serves queries over HTTP
/// (<see cref="HttpQueryService"/>).
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
        var httpPort = new Option<int?>("--http-port") { Description = "Serve HTTP queries (GET /v1/recommend, /v1/similar, /v1/health) on this port; needs the query role. Default: no HTTP." };
        var httpHost = new Option<string?>("--http-host") { Description = "Address the HTTP API listens on (default: --host)." };
        var httpConcurrent = new Option<int?>("--http-max-concurrent") { Description = "HTTP queries in flight at most; more are answered 503 (default 64)." };
        var command = new Command("node", "Run a WalsCluster node (Akka.NET cluster member, actor system 'wals').");
        foreach (var option in new Option[] { host, port, seeds, roles, config, stdin, httpPort, httpHost, httpConcurrent })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Cli.Output.Guard(() =>
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            var section = builder.Configuration.GetSection("Wals");
            var nodePort = CheckPort(result.GetValue(port) ?? Int(section["Port"], "Wals:Port") ?? 4053, "port");
            var nodeRoles = Split(result.GetValue(roles) ?? section["Roles"] ?? "trainer,query,embedder");
            if (nodeRoles.Length == 0)
            {
                throw new ArgumentException("Option 'roles' is empty: give one or more of trainer, query, embedder (or leave it out for all three).");
            }
            var node = new NodeAddress(
                result.GetValue(host) ?? section["Host"] ?? "127.0.0.1",
                nodePort,
                Split(result.GetValue(seeds) ?? section["SeedNodes"]).Select(s => WalsSystem.ParseHostPort(s, "seed-nodes")).ToArray(),
                nodeRoles);
            var overlayPath = result.GetValue(config) ?? section["Config"];
            var overlay = overlayPath is null ? null : Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(overlayPath));
            var nodeConfig = WalsSystem.Config(node, overlay);
            if (node.Roles.Contains(WalsSystem.EmbedderRole) && !nodeConfig.GetBoolean("wals.embedding.enabled"))
            {
                // The embedding routers of the cluster route to every node with the role; one without a pool would leave
                // the requests sent to it unanswered until they time out, so a node with embedding off does not take it.
                node = node with { Roles = node.Roles.Where(r => r != WalsSystem.EmbedderRole).ToArray() };
                if (node.Roles.Count == 0)
                {
                    throw new ArgumentException("The node's only role is 'embedder' but wals.embedding.enabled = off: it would have nothing to do.");
                }
                Console.Error.WriteLine($"wals.embedding.enabled = off: the node does not take the '{WalsSystem.EmbedderRole}' role (roles {string.Join(",", node.Roles)}).");
                nodeConfig = WalsSystem.Config(node, overlay);
            }
            var settings = WalsSettings.FromConfig(nodeConfig);
            HostingExtensions.ValidateEmbedding(nodeConfig);
            var http = HttpOptions(result.GetValue(httpPort) ?? Int(section["HttpPort"], "Wals:HttpPort"), result.GetValue(httpHost) ?? section["HttpHost"] ?? node.Host,
                result.GetValue(httpConcurrent) ?? Int(section["HttpMaxConcurrent"], "Wals:HttpMaxConcurrent") ?? 64, node, settings,
                Actors.Embedding.EmbeddingPipelineSettings.FromConfig(nodeConfig).AskTimeout);
            if (http is not null)
            {
                builder.Services.AddSingleton(http);
                builder.Services.AddHostedService<HttpQueryService>();
            }
            builder.Services.AddAkka(WalsSystem.SystemName, (akka, _) =>
            {
                akka.WithWalsNode(node, overlay);
                akka.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() =>
                    Console.Out.WriteLine($"{UpLine} akka.tcp://{WalsSystem.SystemName}@{node.Host}:{node.Port} roles [{string.Join(",", node.Roles)}]")));
            });
            using var app = builder.Build();
            if (result.GetValue(stdin))
            {
                // Watched once the host has started: a stop asked for during start-up (standard input already at its
                // end) would cancel the start and fail the command instead of leaving the cluster.
                var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
                lifetime.ApplicationStarted.Register(() => _ = Task.Run(() =>
                {
                    string? line;
                    while ((line = Console.In.ReadLine()) is not null && line.Trim() != "stop")
                    {
                    }
                    lifetime.StopApplication();
                }));
            }
            app.Run();
            return 0;
        }));
        return command;
    }

    /// <summary>The HTTP API's settings, or null without a port; a port without the query role fails start-up.</summary>
    private static HttpQueryOptions? HttpOptions(int? port, string host, int maxConcurrent, NodeAddress node, WalsSettings settings, TimeSpan embedTimeout)
    {
        if (port is null)
        {
            return null;
        }
        CheckPort(port.Value, "http-port");
        if (maxConcurrent < 1)
        {
            throw new ArgumentException($"Option 'http-max-concurrent' = {maxConcurrent} is invalid: it must be at least 1.");
        }
        if (!node.Roles.Contains(WalsSystem.QueryRole))
        {
            throw new ArgumentException($"Option 'http-port' needs the '{WalsSystem.QueryRole}' role (this node has {string.Join(",", node.Roles)}): the HTTP API asks the node's query router.");
        }
        // Long enough for any query, a text query included.
        return new HttpQueryOptions(host, port.Value, maxConcurrent, QueryRouter.ReplyTimeout(settings, embedTimeout, text: true));
    }

    private static int CheckPort(int port, string option) => port is >= 1 and <= 65535
        ? port
        : throw new ArgumentException($"Option '{option}' = {port} is invalid: it must be between 1 and 65535.");

    private static int? Int(string? text, string key) =>
        text is null ? null
        : int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value
        : throw new ArgumentException($"Setting '{key}' = '{text}' is not a whole number.");

    private static string[] Split(string? text) =>
        text is null ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
