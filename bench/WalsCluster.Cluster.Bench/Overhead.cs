using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using WalsCluster.Actors;
using WalsCluster.Host.Cluster;
using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Cluster.Bench;

/// <summary>
/// Seconds per iteration of the same run on the single-process engine, on a cluster of 1 <c>wals node</c> process and
/// on 3 node processes on this machine, side by side in one run; and the factor-block bytes of every half-step
/// (what the shards sent, and what crossed the loopback interface between processes) beside the out-block formula.
/// Usage: overhead --input FILE [--iterations 3] [--factors 64] [--rows N (prefix)] [--nodes 1,3] [--no-engine]
/// </summary>
internal static class Overhead
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? input = null;
        int iterations = 3, factors = 64, rows = 0;
        var nodeCounts = new[] { 1, 3 };
        var engine = true;
        string? shards = null;
        for (var a = 0; a < args.Length; a++)
        {
            switch (args[a])
            {
                case "--input": input = args[++a]; break;
                case "--iterations": iterations = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
                case "--factors": factors = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
                case "--rows": rows = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
                case "--nodes": nodeCounts = args[++a].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--no-engine": engine = false; break;
                case "--shards": shards = args[++a]; break;
                default: throw new ArgumentException($"Unknown option '{args[a]}'.");
            }
        }
        if (input is null)
        {
            throw new ArgumentException("Option '--input' is required.");
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; load {LoadAverage()}");
        var watch = Stopwatch.StartNew();
        var table = InteractionLoader.Load(input, LoadOptions.Csv).Table;
        Console.WriteLine($"loaded {table.Users.Count:N0} users x {table.Items.Count:N0} items, {table.Count:N0} interactions in {watch.Elapsed.TotalSeconds:F1} s");
        if (rows > 0 && rows < table.Count)
        {
            table = Prefix(table, rows);
            Console.WriteLine($"PREFIX: the first {rows:N0} rows: {table.Users.Count:N0} users x {table.Items.Count:N0} items");
        }
        var options = new WalsOptions
        {
            Factors = factors,
            Iterations = iterations,
            Solver = WalsSolver.ConjugateGradient,
            CgSteps = 3,
            CgPreconditioner = CgPreconditioner.None,
            Transform = ConfidenceTransform.Log,
            Epsilon = 1,
            Beta = 0,
            Alpha = 1,
            UnobservedWeight = 1,
            Regularization = 0.05f,
            RegularizationExponent = 0,
            Seed = 42,
        }.Validate();
        Console.WriteLine($"options: k {factors}, CG 3 steps (no preconditioner), log transform, beta 0, alpha 1, lambda 0.05, {iterations} iterations, threads {options.EffectiveThreads}");
        // --shards U,I: the shard counts of the nodes and the client (a HOCON overlay file for the node processes).
        var overlay = "";
        if (shards is not null)
        {
            var counts = shards.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            overlay = $"wals.cluster.user-shards = {counts[0]}\nwals.cluster.item-shards = {counts[^1]}\n";
        }
        var overlayPath = Path.Combine(Path.GetTempPath(), $"wals-overhead-{Environment.ProcessId}.conf");
        File.WriteAllText(overlayPath, overlay);
        var settings = WalsSettings.FromConfig(ConfigurationFactory.ParseString(overlay));
        var formula = Formula(table, settings, factors);
        Console.WriteLine($"shards: {settings.UserShards} user, {settings.ItemShards} item; formula per user half-step {formula.UserRows:N0} rows in {formula.UserBlocks} blocks = {Mb(formula.UserBytes)} MB, per item half-step {formula.ItemRows:N0} rows in {formula.ItemBlocks} blocks = {Mb(formula.ItemBytes)} MB");

        var summary = new List<string>();
        var engineRuns = new List<double>();
        if (engine)
        {
            engineRuns.Add(Engine(table, options, summary, "engine (1 process), before the clusters"));
        }
        var clusterRows = new List<(int Nodes, double Mean, double Loss, string Line)>();
        foreach (var n in nodeCounts)
        {
            Console.WriteLine($"== cluster of {n} wals node process{(n == 1 ? "" : "es")} + this client process; load {LoadAverage()}");
            var (mean, loss, line) = await ClusterAsync(n, table, options, settings, formula, overlayPath);
            clusterRows.Add((n, mean, loss, line));
        }
        if (engine)
        {
            // Again after the clusters: the machine's load from other work changes during a run; the ratio uses the mean.
            engineRuns.Add(Engine(table, options, summary, "engine (1 process), after the clusters"));
        }
        var engineMean = engineRuns.Count > 0 ? engineRuns.Average() : double.NaN;
        foreach (var (n, mean, loss, line) in clusterRows)
        {
            var ratio = engineRuns.Count > 0 ? $"{mean / engineMean:F2}" : "-";
            summary.Add($"| {n}-node cluster | {mean:F3} | {line.Split('|')[0].Trim()} | {ratio} | {loss:G7} |{line[(line.IndexOf('|') + 1)..]}");
        }
        Console.WriteLine();
        Console.WriteLine($"| run | s per iteration (mean of {iterations}) | without the first | vs engine (mean of {iterations}, engine runs averaged) | final loss | factor-block MB per user / item half-step (sent by shards; formula {Mb(formula.UserBytes)} / {Mb(formula.ItemBytes)}) | loopback MB per user / item half-step (formula for cross-process pairs) |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | --- | --- |");
        summary.ForEach(Console.WriteLine);
        Console.WriteLine($"load at the end: {LoadAverage()}");
        return 0;
    }

    private static double Engine(InteractionTable table, WalsOptions options, List<string> summary, string label)
    {
        Console.WriteLine($"== {label} (WalsTrainer.Train); load {LoadAverage()}");
        GC.Collect();
        var matrix = table.ToUserItemMatrix();
        var watch = Stopwatch.StartNew();
        var trained = new WalsTrainer(options).Train(matrix);
        var total = watch.Elapsed.TotalSeconds;
        foreach (var h in trained.History)
        {
            Console.WriteLine($"  iteration {h.Iteration}: {h.Seconds:F3} s (users {h.UserSeconds:F3}, items {h.ItemSeconds:F3}), loss {h.Loss:G7}");
        }
        var mean = trained.History.Average(h => h.Seconds);
        var later = Later(trained.History.Select(h => h.Seconds).ToArray());
        Console.WriteLine($"  mean {mean:F3} s per iteration ({later:F3} s without the first); Train() {total:F1} s in all (building the weighted matrices and the final loss included)");
        summary.Add($"| {label} | {mean:F3} | {later:F3} | - | {trained.FinalLoss:G7} | - | - |");
        return mean;
    }

    private static async Task<(double Mean, double Loss, string Line)> ClusterAsync(int n, InteractionTable table, WalsOptions options, WalsSettings settings, Traffic formula, string overlayPath)
    {
        var total = Stopwatch.StartNew();
        // wals.dll is copied beside the bench (it references src/Host); only the nodes' warnings and errors are shown.
        using var nodes = LocalCluster.Start(n, line =>
        {
            if (line.Contains("[WARNING]") || line.Contains("[ERROR]"))
            {
                Console.Error.WriteLine("  " + line);
            }
        }, TimeSpan.FromSeconds(120), configPath: overlayPath, walsDll: Path.Combine(AppContext.BaseDirectory, "wals.dll"));
        Console.WriteLine($"  {n} node(s) up in {total.Elapsed.TotalSeconds:F1} s");
        await using var client = await WalsClient.ConnectAsync(nodes.Seed, TimeSpan.FromSeconds(60), ConfigurationFactory.ParseString(File.ReadAllText(overlayPath)));
        var samples = new List<(TrainingProgress Progress, long Loopback, double At)>();
        long loopbackStart = 0;
        double ingestedAt = 0;
        var clock = Stopwatch.StartNew();
        var trained = await client.TrainAsync(table, options, p =>
        {
            samples.Add((p, LoopbackBytes(), clock.Elapsed.TotalSeconds));
        }, ingested: i =>
        {
            loopbackStart = LoopbackBytes();
            ingestedAt = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"  ingested {i.Batches} batches, {Mb(i.Bytes)} MB in {i.Seconds:F1} s");
        });
        var completedAt = clock.Elapsed.TotalSeconds;
        var statuses = await client.StatusesAsync();
        var placement = statuses.ToDictionary(s => (s.Side, s.Shard), s => s.Address);
        foreach (var node in placement.GroupBy(p => p.Value).OrderBy(g => g.Key))
        {
            Console.WriteLine($"  {node.Key}: {string.Join(" ", node.Select(p => ShardNames.EntityId(p.Key.Side, p.Key.Shard)).Order())}");
        }
        var cross = Formula(table, settings, options.Factors, placement);
        var previous = loopbackStart;
        var userLoop = new List<long>();
        var itemLoop = new List<long>();
        foreach (var (p, loop, at) in samples)
        {
            var delta = loop - previous;
            previous = loop;
            (p.Side == Side.Users ? userLoop : itemLoop).Add(delta);
            Console.WriteLine($"  iteration {p.Iteration} {p.Side}: {p.Seconds:F3} s (slowest shard solve {p.SlowestShardSeconds:F3} s), blocks sent {Mb(p.FactorBytes)} MB, loopback {Mb(delta)} MB");
        }
        var perIteration = Enumerable.Range(1, options.Iterations).Select(t => samples.Where(s => s.Progress.Iteration == t).Sum(s => s.Progress.Seconds)).ToArray();
        var mean = perIteration.Average();
        var prepare = samples[0].At - ingestedAt - samples[0].Progress.Seconds;
        var peaks = nodes.PeakResidentMiB();
        Console.WriteLine($"  per iteration: {string.Join(", ", perIteration.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)))} s, mean {mean:F3} s; PrepareRun about {prepare:F1} s; from ingested to completed {completedAt - ingestedAt:F1} s; whole run with ingestion {trained.Completed.Seconds:F1} s coordinator time");
        Console.WriteLine($"  peak RSS per node process: {string.Join(", ", peaks.Select(p => $"{p:F0} MiB"))}; client {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB");
        Console.WriteLine($"  loopback formula (pairs on different processes): {Mb(cross.UserBytes)} MB per user half-step, {Mb(cross.ItemBytes)} MB per item half-step");
        Console.WriteLine($"  loopback over all {samples.Count} half-steps: measured {Mb(previous - loopbackStart)} MB, formula {Mb(userLoop.Count * cross.UserBytes + itemLoop.Count * cross.ItemBytes)} MB (the measure also holds Grams, acknowledgements and cluster gossip)");
        var sentUsers = samples.Where(s => s.Progress.Side == Side.Users).Average(s => (double)s.Progress.FactorBytes);
        var sentItems = samples.Where(s => s.Progress.Side == Side.Items).Average(s => (double)s.Progress.FactorBytes);
        var loss = trained.Completed.Losses.Length > 0 ? trained.Completed.Losses[^1] : trained.Completed.InitialLoss;
        return (mean, loss, $"{Later(perIteration):F3} | {Mb((long)sentUsers)} / {Mb((long)sentItems)} | {Mb((long)userLoop.Average())} / {Mb((long)itemLoop.Average())} ({Mb(cross.UserBytes)} / {Mb(cross.ItemBytes)}) |");
    }

    /// <summary>Rows, blocks and serialized bytes of the factor blocks of one user and one item half-step, by the out-block
    /// formula: the rows of item shard t that user shard s needs are { i in t : some u in s has (u, i) }, 4 (k + 1) bytes
    /// each, cut into parts of at most factor-block-bytes, each with a header. With a placement, only pairs on different nodes.</summary>
    internal static Traffic Formula(InteractionTable table, WalsSettings settings, int k, IReadOnlyDictionary<(Side, int), string>? placement = null)
    {
        var userShard = table.Users.Ids.Select(id => StableHash.ShardOf(id, settings.UserShards)).ToArray();
        var itemShard = table.Items.Ids.Select(id => StableHash.ShardOf(id, settings.ItemShards)).ToArray();
        var header = HeaderBytes();
        var rowsPerPart = Math.Max(1, settings.FactorBlockBytes / (4 * (k + 1)));
        var (userRows, userBlocks) = Pairs(table.UserIndex, table.ItemIndex, userShard, itemShard, table.Items.Count, settings.UserShards, settings.ItemShards, Side.Users);
        var (itemRows, itemBlocks) = Pairs(table.ItemIndex, table.UserIndex, itemShard, userShard, table.Users.Count, settings.ItemShards, settings.UserShards, Side.Items);
        return new Traffic(userRows, userBlocks, 4L * (k + 1) * userRows + header * userBlocks, itemRows, itemBlocks, 4L * (k + 1) * itemRows + header * itemBlocks);

        // For each solving shard s and fixed shard t: the distinct fixed rows of t that the rows of s touch.
        (long Rows, long Blocks) Pairs(int[] solvingIndex, int[] fixedIndex, int[] solvingShard, int[] fixedShard, int fixedCount, int solvingShards, int fixedShards, Side solving)
        {
            var needed = new bool[solvingShards][];
            for (var s = 0; s < solvingShards; s++)
            {
                needed[s] = new bool[fixedCount];
            }
            for (var e = 0; e < solvingIndex.Length; e++)
            {
                needed[solvingShard[solvingIndex[e]]][fixedIndex[e]] = true;
            }
            long rows = 0, blocks = 0;
            for (var s = 0; s < solvingShards; s++)
            {
                var perFixed = new long[fixedShards];
                for (var i = 0; i < fixedCount; i++)
                {
                    if (needed[s][i])
                    {
                        perFixed[fixedShard[i]]++;
                    }
                }
                for (var t = 0; t < fixedShards; t++)
                {
                    if (perFixed[t] == 0 || (placement is not null && placement[(solving, s)] == placement[(solving.Other(), t)]))
                    {
                        continue;
                    }
                    rows += perFixed[t];
                    blocks += (perFixed[t] + rowsPerPart - 1) / rowsPerPart;
                }
            }
            return (rows, blocks);
        }
    }

    /// <summary>Serialized size of a FactorBlock with no rows and a run id as long as the client's.</summary>
    private static long HeaderBytes()
    {
        using var system = ActorSystem.Create("header", ConfigurationFactory.ParseString(WalsSerializer.Hocon + "\nakka.loglevel = WARNING"));
        var block = new FactorBlock(new string('r', 32), 1, Side.Users, 0, 0, 0, 1, 0, [], []);
        return system.Serialization.FindSerializerFor(block).ToBinary(block).LongLength;
    }

    /// <summary>The table's first <paramref name="rows"/> interactions with ids renumbered (users and items that appear).</summary>
    private static InteractionTable Prefix(InteractionTable table, int rows)
    {
        var users = new IdMap();
        var items = new IdMap();
        var u = new int[rows];
        var i = new int[rows];
        for (var e = 0; e < rows; e++)
        {
            u[e] = users.GetOrAdd(table.Users[table.UserIndex[e]]);
            i[e] = items.GetOrAdd(table.Items[table.ItemIndex[e]]);
        }
        return new InteractionTable(users, items, u, i, table.Values.AsSpan(0, rows).ToArray());
    }

    /// <summary>Bytes received on the loopback interface so far (/proc/net/dev); every byte between node processes passes there.</summary>
    private static long LoopbackBytes()
    {
        foreach (var line in File.ReadLines("/proc/net/dev"))
        {
            var trimmed = line.TrimStart();
            if (trimmed.StartsWith("lo:", StringComparison.Ordinal))
            {
                return long.Parse(trimmed[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
            }
        }
        return -1;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>Mean of the iterations after the first (JIT, first-touch of buffers); the only one when there is one.</summary>
    private static double Later(double[] seconds) => seconds.Length > 1 ? seconds.Skip(1).Average() : seconds[0];

    private static string Mb(long bytes) => (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture);

    internal sealed record Traffic(long UserRows, long UserBlocks, long UserBytes, long ItemRows, long ItemBlocks, long ItemBytes);
}
