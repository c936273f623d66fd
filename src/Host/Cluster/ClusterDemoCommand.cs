using System.CommandLine;
using System.Diagnostics;
using WalsCluster.Actors;
using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;
using WalsCluster.Host.Cli;

namespace WalsCluster.Host.Cluster;

/// <summary>
/// <c>wals cluster-demo</c>: starts N <c>wals node</c> processes on 127.0.0.1 (free ports), trains the bundled data
/// across them, prints which node holds which shards and the per-half-step times, answers a few queries, and stops
/// the nodes (asking each to leave the cluster; killing only one that does not exit in time).
/// </summary>
internal static class ClusterDemoCommand
{
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Node processes to start.", DefaultValueFactory = _ => 3 };
        var input = new Option<string>("--input") { Description = "Interactions file.", DefaultValueFactory = _ => Path.Combine("data", "movielens-latest-small", "ratings.csv") };
        var format = new Option<string>("--format") { Description = "Format of --input.", DefaultValueFactory = _ => "movielens" };
        var factors = new Option<int>("--factors") { Description = "k.", DefaultValueFactory = _ => 32 };
        var iterations = new Option<int>("--iterations") { Description = "Iterations.", DefaultValueFactory = _ => 5 };
        var command = new Command("cluster-demo", "Start a local multi-process cluster, train the bundled data on it, query it, stop it.");
        foreach (var option in new Option[] { nodes, input, format, factors, iterations })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            var n = result.GetValue(nodes);
            if (n is < 1 or > 16)
            {
                throw new ArgumentException($"Option 'nodes' = {n} is invalid: use 1 to 16.");
            }
            var table = InteractionLoader.Load(result.GetValue(input)!, new LoadOptions { Format = InputOptions.ParseEnum<DataFormat>(result.GetValue(format)!, "format") }).Table;
            var options = new WalsOptions { Factors = result.GetValue(factors), Iterations = result.GetValue(iterations), Threads = Math.Max(1, Environment.ProcessorCount / n) }.Validate();
            using var cluster = LocalCluster.Start(n, line => Console.WriteLine("  " + line));
            var (_, code) = ClusterCommands.Run(cluster.Seed, async client =>
            {
                Console.WriteLine($"training {table.Users.Count:N0} users x {table.Items.Count:N0} items ({table.Count:N0} interactions), k = {options.Factors}, {options.Iterations} iterations on {n} nodes");
                var trained = await client.TrainAsync(table, options, p => Console.WriteLine("  " + ClusterCommands.Describe(p)));
                Console.WriteLine($"trained in {trained.Completed.Seconds:F2} s (ingestion {trained.Ingestion.Seconds:F2} s, {trained.Ingestion.Bytes / 1e6:F1} MB); final loss {trained.Completed.Losses[^1]:G7}");
                foreach (var group in (await client.StatusesAsync()).GroupBy(s => s.Address).OrderBy(g => g.Key))
                {
                    Console.WriteLine($"  {group.Key}: {string.Join(", ", group.Select(s => $"{ShardNames.EntityId(s.Side, s.Shard)} ({s.Rows} rows)"))}");
                }
                var queries = new IWalsMessage[]
                {
                    new Recommend(table.Users[0], 5),
                    new Recommend(table.Users[1], 5),
                    new SimilarItems(table.Items[0], 5),
                    new RecommendForItems([table.Items[0], table.Items[1], table.Items[2]], [5f, 4f, 3f], 5),
                };
                foreach (var q in queries)
                {
                    Console.Write($"  {q.GetType().Name} ");
                    ClusterCommands.Print(await client.AskAsync(q), json: false);
                }
                return (0, 0);
            });
            return code;
        }));
        return command;
    }
}

/// <summary>
/// N <c>wals node</c> child processes on 127.0.0.1 with free ports (the demo, the multi-process tests and the cluster
/// bench all start their nodes with it). Disposing asks each node to leave ("stop" on its standard input) and kills only
/// one that has not exited in 20 s.
/// </summary>
public sealed class LocalCluster : IDisposable
{
    private readonly List<Process> _nodes = [];

    private LocalCluster()
    {
    }

    public string Seed { get; private set; } = "";

    public IReadOnlyList<int> Ports { get; private set; } = [];

    public IReadOnlyList<Process> Processes => _nodes;

    /// <param name="count">Node processes to start.</param>
    /// <param name="log">Receives each node's "up" line and every non-empty line it writes to standard error.</param>
    /// <param name="timeout">How long to wait for every node to be up (default 60 s).</param>
    /// <param name="configPath">An overlay HOCON file for every node.</param>
    /// <param name="walsDll">The wals.dll to run with dotnet (default: this executable again).</param>
    /// <param name="nodeArguments">More <c>wals node</c> options for the node of each index (e.g. an HTTP port).</param>
    public static LocalCluster Start(int count, Action<string> log, TimeSpan? timeout = null, string? configPath = null, string? walsDll = null,
        Func<int, string>? nodeArguments = null)
    {
        var cluster = new LocalCluster();
        var wait = timeout ?? TimeSpan.FromSeconds(60);
        try
        {
            var ports = Enumerable.Range(0, count).Select(_ => WalsSystem.FreeLoopbackPort()).ToArray();
            cluster.Ports = ports;
            cluster.Seed = $"127.0.0.1:{ports[0]}";
            using var up = new CountdownEvent(count);
            for (var index = 0; index < ports.Length; index++)
            {
                var port = ports[index];
                var args = $"node --host 127.0.0.1 --port {port} --seed-nodes {cluster.Seed} --roles trainer,query --stop-on-stdin"
                    + (configPath is null ? "" : $" --config \"{configPath}\"") + (nodeArguments is null ? "" : $" {nodeArguments(index)}");
                var process = walsDll is null ? StartSelf(args) : Start("dotnet", $"\"{walsDll}\" {args}");
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data?.StartsWith(NodeCommand.UpLine, StringComparison.Ordinal) == true)
                    {
                        log($"node {port}: {e.Data}");
                        try
                        {
                            up.Signal();
                        }
                        catch (ObjectDisposedException)
                        {
                            // Start has already given up on this node.
                        }
                    }
                };
                process.ErrorDataReceived += (_, e) =>
                {
                    if (!string.IsNullOrWhiteSpace(e.Data))
                    {
                        log($"node {port} stderr: {e.Data}");
                    }
                };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                cluster._nodes.Add(process);
            }
            if (!up.Wait(wait))
            {
                throw new IOException($"Only {count - up.CurrentCount} of {count} nodes came up within {wait.TotalSeconds:0} s.");
            }
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Each node's peak resident memory in MiB (VmHWM of /proc; -1 where it cannot be read).</summary>
    public double[] PeakResidentMiB() => _nodes.Select(p =>
    {
        try
        {
            var line = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }).ToArray();

    /// <summary>Starts this executable again (the apphost, or dotnet wals.dll) with <paramref name="arguments"/>.</summary>
    private static Process StartSelf(string arguments)
    {
        var self = Environment.ProcessPath ?? throw new IOException("Cannot find the running executable.");
        var dll = typeof(LocalCluster).Assembly.Location;
        var viaDotnet = Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        return Start(self, viaDotnet ? $"\"{dll}\" {arguments}" : arguments);
    }

    private static Process Start(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return Process.Start(info) ?? throw new IOException($"Could not start {file} {arguments}.");
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            try
            {
                node.StandardInput.WriteLine("stop");
                node.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }
        foreach (var node in _nodes)
        {
            if (!node.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                node.Kill(entireProcessTree: true);
                node.WaitForExit(TimeSpan.FromSeconds(5));
            }
            node.Dispose();
        }
        _nodes.Clear();
    }
}
