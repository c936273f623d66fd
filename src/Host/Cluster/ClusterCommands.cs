using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using WalsCluster.Actors;
using WalsCluster.Core.Data;
using WalsCluster.Messages;
using WalsCluster.Host.Cli;

namespace WalsCluster.Host.Cluster;

/// <summary><c>wals cluster-train</c> and <c>wals cluster-recommend</c>: a client that joins a running cluster.</summary>
internal static class ClusterCommands
{
    public static Command CreateTrain()
    {
        var cluster = new Option<string>("--cluster") { Description = "HOST:PORT of a node of the cluster.", Required = true };
        var input = new InputOptions();
        var hyper = new HyperparameterOptions();
        var model = new Option<string?>("--model") { Description = "Where to write the trained model (the same file format as 'wals train')." };
        var json = Output.JsonOption();
        var command = new Command("cluster-train", "Train on a running cluster: ingest the file into the factor shards, run the half-steps there, gather the model. Same options as 'wals train' (without the split options).");
        command.Options.Add(cluster);
        input.AddTo(command);
        hyper.AddTo(command);
        command.Options.Add(model);
        command.Options.Add(json);
        command.SetAction(result => Output.Guard(() =>
        {
            var asJson = result.GetValue(json);
            var options = hyper.Read(result);
            var path = result.GetValue(input.Input)!;
            var watch = Stopwatch.StartNew();
            var table = InteractionLoader.Load(path, input.Read(result)).Table;
            Output.Note(asJson, $"loaded {table.Users.Count:N0} users, {table.Items.Count:N0} items, {table.Count:N0} interactions in {watch.Elapsed.TotalSeconds:F2} s");
            var (trained, _) = Run(result.GetValue(cluster)!, async client =>
            {
                var r = await client.TrainAsync(table, options, p => Output.Note(asJson, Describe(p)));
                return (r, 0);
            });
            var modelPath = result.GetValue(model);
            if (modelPath is not null)
            {
                WalsClient.ToSavedModel(table, options, trained, Path.GetFullPath(path)).Save(modelPath);
            }
            var c = trained.Completed;
            if (asJson)
            {
                Output.WriteJson(new JsonObject
                {
                    ["run"] = trained.Run,
                    ["users"] = table.Users.Count,
                    ["items"] = table.Items.Count,
                    ["nnz"] = table.Count,
                    ["iterations"] = c.Iterations,
                    ["total_seconds"] = c.Seconds,
                    ["initial_loss"] = c.InitialLoss,
                    ["loss"] = new JsonArray(c.Losses.Select(l => (JsonNode?)l).ToArray()),
                    ["ingest_seconds"] = trained.Ingestion.Seconds,
                    ["ingest_bytes"] = trained.Ingestion.Bytes,
                    ["model"] = modelPath,
                });
            }
            else
            {
                Console.WriteLine($"run {trained.Run}: {c.Iterations} iterations in {c.Seconds:F2} s, final loss {(c.Losses.Length > 0 ? c.Losses[^1] : c.InitialLoss):G7}" + (modelPath is null ? "" : $", model written to {modelPath}"));
            }
            return 0;
        }));
        return command;
    }

    public static Command CreateRecommend()
    {
        var cluster = new Option<string>("--cluster") { Description = "HOST:PORT of a node of the cluster.", Required = true };
        var user = new Option<string?>("--user") { Description = "Recommend for this trained user." };
        var item = new Option<string?>("--similar-to") { Description = "Items similar to this item (cosine of factors)." };
        var items = new Option<string?>("--items") { Description = "Fold in a new user from ITEM[:VALUE],... (value 1 when omitted)." };
        var k = new Option<int>("--k") { Description = "How many items.", DefaultValueFactory = _ => 10 };
        var json = Output.JsonOption();
        var command = new Command("cluster-recommend", "Ask a running cluster's query router: give one of --user, --similar-to, --items.");
        foreach (var option in new Option[] { cluster, user, item, items, k, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            var query = Query(result.GetValue(user), result.GetValue(item), result.GetValue(items), result.GetValue(k));
            var (reply, _) = Run(result.GetValue(cluster)!, async client => (await client.AskAsync(query), 0));
            Print(reply, result.GetValue(json));
            return reply.Failure is null ? 0 : 2;
        }));
        return command;
    }

    internal static IWalsMessage Query(string? user, string? similar, string? items, int k)
    {
        if ((user is null ? 0 : 1) + (similar is null ? 0 : 1) + (items is null ? 0 : 1) != 1)
        {
            throw new ArgumentException("Give exactly one of --user, --similar-to and --items.");
        }
        if (k < 1)
        {
            throw new ArgumentException($"Option 'k' = {k} is invalid: it must be at least 1.");
        }
        if (user is not null)
        {
            return new Recommend(user, k);
        }
        if (similar is not null)
        {
            return new SimilarItems(similar, k);
        }
        var parts = items!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ids = new string[parts.Length];
        var values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var colon = parts[i].LastIndexOf(':');
            ids[i] = colon < 0 ? parts[i] : parts[i][..colon];
            values[i] = colon < 0 ? 1f : float.TryParse(parts[i][(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"Option 'items': '{parts[i]}' is not ITEM:VALUE with a number.");
        }
        return new RecommendForItems(ids, values, k);
    }

    internal static void Print(Recommendations reply, bool json)
    {
        if (json)
        {
            Output.WriteJson(new JsonObject
            {
                ["query"] = reply.Query,
                ["items"] = new JsonArray(reply.Items.Select(i => (JsonNode?)new JsonObject { ["item"] = i.Id, ["score"] = i.Score }).ToArray()),
                ["missing_shards"] = new JsonArray(reply.MissingShards.Select(s => (JsonNode?)s).ToArray()),
                ["failure"] = reply.Failure,
            });
            return;
        }
        if (reply.Failure is not null)
        {
            Console.Error.WriteLine($"error: {reply.Failure}");
            return;
        }
        Console.WriteLine($"{reply.Query}: " + string.Join("  ", reply.Items.Select(i => $"{i.Id} ({i.Score:F4})"))
            + (reply.IsPartial ? $"  [partial: item shards {string.Join(",", reply.MissingShards)} did not answer]" : ""));
    }

    internal static string Describe(TrainingProgress p) =>
        $"iteration {p.Iteration,3} {(p.Side == Side.Users ? "users" : "items"),-5}: {p.Seconds:F3} s (slowest shard {p.SlowestShardSeconds:F3} s), {p.FactorBytes / 1e6:F2} MB factor blocks"
        + (double.IsNaN(p.LossAfterPreviousIteration) ? "" : $", loss before {p.LossAfterPreviousIteration:G7}") + (p.Resends > 0 ? $", {p.Resends} re-sends" : "");

    /// <summary>Connects, runs <paramref name="work"/>, leaves the cluster; errors of the cluster become clear messages.</summary>
    internal static (T, int) Run<T>(string seed, Func<WalsClient, Task<(T, int)>> work)
    {
        return RunAsync().GetAwaiter().GetResult();

        async Task<(T, int)> RunAsync()
        {
            WalsClient client;
            try
            {
                client = await WalsClient.ConnectAsync(seed, TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException e)
            {
                throw new IOException(e.Message, e);
            }
            await using (client)
            {
                try
                {
                    return await work(client);
                }
                catch (InvalidOperationException e)
                {
                    throw new IOException(e.Message, e);
                }
            }
        }
    }
}
