using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using WalsCluster.Actors;
using WalsCluster.Core.Data;
using WalsCluster.Core.Jobs;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Messages;
using WalsCluster.Host.Cli;

namespace WalsCluster.Host.Cluster;

/// <summary>The item texts of <c>wals train --cluster --item-text</c>: the source, the projection options, and whether items
/// with text but no interactions are sent (they become the cluster's cold items).</summary>
internal sealed record ItemTextRequest(string Source, double ValidationFraction, ProjectionWeighting Weighting, bool AddTextOnlyItems, bool MetadataFeatures = false);

/// <summary>The client side of <c>wals train --cluster</c>, <c>wals recommend --cluster</c> and <c>wals similar --cluster</c>.</summary>
internal static class ClusterCommands
{
    /// <summary>Loads the input here, ingests it into the cluster's factor shards, trains there, and writes the gathered model.</summary>
    public static int TrainOnCluster(string cluster, string path, LoadOptions load, WalsOptions options, string? modelPath, bool asJson, ItemTextRequest? texts = null,
        double? testFraction = null, string? testPath = null)
    {
        var watch = Stopwatch.StartNew();
        var table = InteractionLoader.Load(path, load).Table;
        Output.Note(asJson, $"loaded {table.Users.Count:N0} users, {table.Items.Count:N0} items, {table.Count:N0} interactions in {watch.Elapsed.TotalSeconds:F2} s");
        // The same split as the local 'wals train' (TrainingJob.Split): the cluster trains on the training part only.
        if (testFraction is not null && modelPath is null)
        {
            throw new ArgumentException("--test-fraction with --cluster needs --model: the held-out part is written beside it as MODEL.test.csv.");
        }
        var (train, test) = TrainingJob.Split(table, load, testFraction, testPath, (ulong)options.Seed, message => Output.Note(asJson, message));
        table = train;
        var testRows = test?.Count ?? 0L;
        // Written beside the model once it is saved, as by the local 'wals train' (TrainingJob.Save).
        var testSplitPath = test is not null && modelPath is not null ? TrainingJob.TestSplitPath(modelPath) : null;
        ItemTextInput? itemText = null;
        if (texts is not null)
        {
            var records = ItemTextFile.Read(texts.Source);
            var kept = texts.AddTextOnlyItems ? records : records.Where(r => table.Items.Contains(r.Id)).ToList();
            Output.Note(asJson, $"read {records.Count:N0} item texts from {texts.Source}" + (kept.Count == records.Count ? "" : $"; sending the {kept.Count:N0} of trained items"));
            itemText = new ItemTextInput(kept, texts.ValidationFraction, texts.Weighting);
            if (texts.MetadataFeatures)
            {
                var fields = EmbeddingRunner.MovieLensFields(texts.Source);
                var metadata = MetadataFeatures.Of(fields.Values);
                Output.Note(asJson, EmbeddingRunner.Describe(metadata));
                itemText = itemText with { Metadata = metadata, Fields = fields };
            }
        }
        var (trained, _) = Run(cluster, async client =>
        {
            var r = await client.TrainAsync(table, options, p => Output.Note(asJson, Describe(p)), itemText: itemText,
                embedded: e => Output.Note(asJson, $"embedded {e.Texts:N0} texts ({e.Dimension} dimensions) in {e.Seconds:F1} s ({e.Texts / Math.Max(e.Seconds, 1e-9):F1} texts/s), " +
                    $"{e.Requests:N0} pool requests, {e.BusyAnswers:N0} busy answers retried, {e.Batches:N0} shard batches; {e.ItemsWithoutInteractions:N0} items have no interactions"));
            return (r, 0);
        });
        var fit = trained.Projection?.Fit;
        if (trained.Projection is { } p)
        {
            Output.Note(asJson, $"projection {p.Encoder.Dimension} -> {options.Factors} ({p.Encoder}): mu {fit!.Mu:G3} chosen on {fit.ValidationItems} held-out warm items " +
                $"(validation MSE {fit.ValidationMse:G4} vs mean |y|^2 {fit.ValidationMeanSquare:G4}), fitted on {fit.TrainItems + fit.ValidationItems} items; {fit.ColdItems} cold items got factors");
        }
        if (modelPath is not null)
        {
            TrainingJob.Save(WalsClient.ToSavedModel(table, options, trained, Path.GetFullPath(path), testSplitPath), modelPath, test);
            if (testSplitPath is not null)
            {
                Output.Note(asJson, $"test part written to {testSplitPath}");
            }
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
                ["test_rows"] = testRows,
                ["test_split"] = testSplitPath,
                ["iterations"] = c.Iterations,
                ["total_seconds"] = c.Seconds,
                ["initial_loss"] = c.InitialLoss,
                ["loss"] = new JsonArray(c.Losses.Select(l => (JsonNode?)l).ToArray()),
                ["ingest_seconds"] = trained.Ingestion.Seconds,
                ["ingest_bytes"] = trained.Ingestion.Bytes,
                ["model"] = modelPath,
                ["projection"] = trained.Projection is not { } projection ? null : WithPipeline(
                    Output.ProjectionJson(projection.Encoder, fit!.Mu, fit.TrainItems, fit.ValidationItems, fit.ValidationMse, fit.ValidationMeanSquare, fit.ColdItems,
                        projection.QueryProjection?.Mu), projection),
            });
        }
        else
        {
            Console.WriteLine($"run {trained.Run}: {c.Iterations} iterations in {c.Seconds:F2} s, final loss {(c.Losses.Length > 0 ? c.Losses[^1] : c.InitialLoss):G7}" + (modelPath is null ? "" : $", model written to {modelPath}"));
        }
        return 0;
    }

    /// <summary>The cluster's extras of the projection object: embedding and fitting times, busy answers.</summary>
    private static JsonObject WithPipeline(JsonObject json, ClusterProjection projection)
    {
        json["embed_seconds"] = projection.Pipeline.Seconds;
        json["busy_answers"] = projection.Pipeline.BusyAnswers;
        json["fit_seconds"] = projection.Fit.Seconds;
        return json;
    }

    /// <summary>Asks the cluster's query router; exit code 2 when the reply is a failure.</summary>
    public static int Ask(string cluster, IWalsMessage query, bool json)
    {
        var (reply, _) = Run(cluster, async client => (await client.AskAsync(query), 0));
        Print(reply, json);
        return reply.Failure is null ? 0 : 2;
    }

    internal static IWalsMessage Query(string? user, string? similar, string? items, int k, bool includeSeen = false)
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
            return new Recommend(user, k, includeSeen);
        }
        if (similar is not null)
        {
            return new SimilarItems(similar, k);
        }
        var parts = items!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new ArgumentException("Option 'items' names no items: give ITEM[:VALUE],...");
        }
        var ids = new string[parts.Length];
        var values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var colon = parts[i].LastIndexOf(':');
            ids[i] = colon < 0 ? parts[i] : parts[i][..colon];
            if (ids[i].Length == 0)
            {
                throw new ArgumentException($"Option 'items': '{parts[i]}' has no item id.");
            }
            values[i] = colon < 0 ? 1f : float.TryParse(parts[i][(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v) ? v
                : throw new ArgumentException($"Option 'items': '{parts[i]}' is not ITEM:VALUE with a finite number.");
        }
        var sums = new Dictionary<string, float>(StringComparer.Ordinal);
        for (var i = 0; i < ids.Length; i++)
        {
            if (!float.IsFinite(sums[ids[i]] = sums.GetValueOrDefault(ids[i]) + values[i]))
            {
                throw new ArgumentException($"Option 'items': the values of item '{ids[i]}' add up to more than a float holds.");
            }
        }
        return new RecommendForItems(ids, values, k, includeSeen);
    }

    /// <summary>The JSON of a router's reply (<c>--json</c> and the HTTP API).</summary>
    internal static JsonObject ReplyJson(Recommendations reply) => new()
    {
        ["query"] = reply.Query,
        ["items"] = new JsonArray(reply.Items.Select(i => (JsonNode?)new JsonObject { ["item"] = i.Id, ["score"] = i.Score }).ToArray()),
        ["missing_shards"] = new JsonArray(reply.MissingShards.Select(s => (JsonNode?)s).ToArray()),
        ["failure"] = reply.Failure,
    };

    internal static void Print(Recommendations reply, bool json)
    {
        if (json)
        {
            Output.WriteJson(ReplyJson(reply));
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
        + (double.IsNaN(p.LossAfterPreviousIteration) ? "" : $", loss before {p.LossAfterPreviousIteration:G7}")
        + (double.IsNaN(p.LossAfterIteration) ? "" : $", loss after {p.LossAfterIteration:G7}") + (p.Resends > 0 ? $", {p.Resends} re-sends" : "");

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
                catch (Akka.Actor.AskTimeoutException e)
                {
                    throw new IOException($"The cluster did not answer in time ({e.Message}).", e);
                }
            }
        }
    }
}
