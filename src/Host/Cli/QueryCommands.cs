using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Core.Model;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Host.Cli;

/// <summary><c>wals recommend</c> and <c>wals similar</c> against a local model file or, with <c>--cluster</c>, a running cluster.</summary>
internal static class QueryCommands
{
    public static Command CreateRecommend()
    {
        var model = new Option<string?>("--model") { Description = "The model file (or give --cluster)." };
        var cluster = new Option<string?>("--cluster") { Description = "HOST:PORT of a node of a running cluster: ask its query router instead of a model file (with --user, --items or --text)." };
        var foldIn = new Option<string?>("--items") { Description = "Fold in a user who is not in the model from ITEM[:VALUE],... (value 1 when omitted): one exact solve against the item factors." };
        var user = new Option<string?>("--user") { Description = "External user id (give --user or --text)." };
        var text = new Option<string?>("--text") { Description = "A free-text query: embedded as the model's items were (its 'projection' section, from 'wals train --item-text'), projected to q = W^T e + b (the text-only map with metadata features) and answered as the fold-in of one interaction at q, x = (w0 G + lambda I)^-1 q, scored x . y_i." };
        var embeddingModel = new Option<string?>("--embedding-model") { Description = "With --text: the encoder, when the one stored in the model has moved (default: the stored name or folder)." };
        var embeddingDevice = new Option<string>("--embedding-device") { Description = "With --text: cpu or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var embeddingThreads = new Option<int>("--embedding-threads") { Description = "With --text: ONNX Runtime intra-op threads; 0 = one per core.", DefaultValueFactory = _ => 0 };
        var k = new Option<int>("--k") { Description = "How many items.", DefaultValueFactory = _ => 10 };
        var includeSeen = new Option<bool>("--include-seen") { Description = "Also rank the items the user already has." };
        var json = Output.JsonOption();
        var command = new Command("recommend", "Top-k items for a user (excluding the user's training items), or for a free-text query (--text).");
        foreach (var option in new Option[] { model, cluster, user, foldIn, text, embeddingModel, embeddingDevice, embeddingThreads, k, includeSeen, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            if (result.GetValue(text) is { } words && string.IsNullOrWhiteSpace(words))
            {
                throw new ArgumentException("Option '--text' is empty: give the words to search for.");
            }
            if (result.GetValue(cluster) is { } address)
            {
                if (result.GetValue(model) is not null)
                {
                    throw new ArgumentException("Give --model or --cluster, not both.");
                }
                if (result.GetValue(text) is { } phrase)
                {
                    if (result.GetValue(user) is not null || result.GetValue(foldIn) is not null)
                    {
                        throw new ArgumentException("Give exactly one of --user, --items and --text.");
                    }
                    // The cluster embeds with its embedder nodes' encoder and projects with the coordinator's last fit.
                    return Cluster.ClusterCommands.Ask(address, new RecommendForText(phrase, CheckK(result.GetValue(k))), result.GetValue(json));
                }
                return Cluster.ClusterCommands.Ask(address, Cluster.ClusterCommands.Query(result.GetValue(user), null, result.GetValue(foldIn), result.GetValue(k), result.GetValue(includeSeen)),
                    result.GetValue(json));
            }
            var modelPath = result.GetValue(model) ?? throw new ArgumentException("Give --model PATH (or --cluster HOST:PORT).");
            if (result.GetValue(foldIn) is { } given)
            {
                if (result.GetValue(user) is not null || result.GetValue(text) is not null)
                {
                    throw new ArgumentException("Give exactly one of --user, --items and --text.");
                }
                var local = SavedModel.Load(modelPath);
                var parsed = (RecommendForItems)Cluster.ClusterCommands.Query(null, null, given, result.GetValue(k));
                var pairs = new List<(int Item, float Value)>();
                for (var i = 0; i < parsed.Items.Length; i++)
                {
                    var at = local.Model.Items.IndexOf(parsed.Items[i]);
                    if (at < 0)
                    {
                        throw new ArgumentException($"Item '{parsed.Items[i]}' is not in the model ({local.Model.Items.Count} items).");
                    }
                    pairs.Add((at, parsed.Values[i]));
                }
                var vector = new FoldIn(local.Model).Solve(pairs);
                var exclude = pairs.Select(p => p.Item).Distinct().Order().ToArray();
                var ranked = new FactorRanker(local.Model).Recommend(vector, CheckK(result.GetValue(k)), result.GetValue(includeSeen) ? default : exclude);
                Print(result.GetValue(json), "items", given, ranked, local.Model);
                return 0;
            }
            var saved = SavedModel.Load(modelPath);
            var query = result.GetValue(text);
            if (query is not null == result.GetValue(user) is not null)
            {
                throw new ArgumentException("Give exactly one of --user and --text.");
            }
            if (query is not null)
            {
                var asJson = result.GetValue(json);
                var section = ProjectionSection.Find(saved, modelPath)
                    ?? throw new ArgumentException($"Model '{modelPath}' has no projection section: train it with --item-text to answer text queries.");
                var settings = section.Embedding;
                var options = settings.ToEncoderOptions(result.GetValue(embeddingDevice)!, result.GetValue(embeddingThreads));
                using var encoder = EmbeddingRunner.CreateEncoder(result.GetValue(embeddingModel) ?? settings.Model, options, asJson);
                var now = EmbeddingSettings.From(encoder.Info);
                if (!now.SameEncoding(settings))
                {
                    throw new ArgumentException($"The encoder gives {now} but the projection was fitted on {settings}.");
                }
                // The text's point in the factor space, then the user who interacted with it alone (FoldIn.QueryVector).
                var itemVector = section.ForTextQueries(modelPath).Apply(encoder.Embed([query])[0]);
                var found = new FactorRanker(saved.Model).Recommend(new FoldIn(saved.Model).QueryVector(itemVector), CheckK(result.GetValue(k)));
                Print(asJson, "text", query, found, saved.Model);
                return 0;
            }
            var id = result.GetValue(user)!;
            var index = saved.Model.Users.IndexOf(id);
            if (index < 0)
            {
                throw new ArgumentException($"User '{id}' is not in the model ({saved.Model.Users.Count} users).");
            }
            var ranker = new FactorRanker(saved.Model);
            var items = ranker.Recommend(index, CheckK(result.GetValue(k)), saved.Train, new RecommendOptions { ExcludeTrainingItems = !result.GetValue(includeSeen) });
            Print(result.GetValue(json), "user", id, items, saved.Model);
            return 0;
        }));
        return command;
    }

    public static Command CreateSimilar()
    {
        var model = new Option<string?>("--model") { Description = "The model file (or give --cluster)." };
        var cluster = new Option<string?>("--cluster") { Description = "HOST:PORT of a node of a running cluster: ask its query router instead of a model file." };
        var item = new Option<string>("--item") { Description = "External item id.", Required = true };
        var k = new Option<int>("--k") { Description = "How many items.", DefaultValueFactory = _ => 10 };
        var json = Output.JsonOption();
        var command = new Command("similar", "The k items most similar to an item (cosine of item factors).");
        foreach (var option in new Option[] { model, cluster, item, k, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            if (result.GetValue(cluster) is { } address)
            {
                return Cluster.ClusterCommands.Ask(address, Cluster.ClusterCommands.Query(null, result.GetValue(item), null, result.GetValue(k)), result.GetValue(json));
            }
            var saved = SavedModel.Load(result.GetValue(model) ?? throw new ArgumentException("Give --model PATH (or --cluster HOST:PORT)."));
            var id = result.GetValue(item)!;
            var index = saved.Model.Items.IndexOf(id);
            if (index < 0)
            {
                throw new ArgumentException($"Item '{id}' is not in the model ({saved.Model.Items.Count} items).");
            }
            var items = new FactorRanker(saved.Model).SimilarItems(index, CheckK(result.GetValue(k)));
            Print(result.GetValue(json), "item", id, items, saved.Model);
            return 0;
        }));
        return command;
    }

    private static int CheckK(int k) => k >= 1 ? k : throw new ArgumentException($"Option 'k' = {k} is invalid: it must be >= 1.");

    private static void Print(bool json, string kind, string id, ScoredItem[] items, FactorModel model)
    {
        if (json)
        {
            Output.WriteJson(new JsonObject
            {
                [kind] = id,
                ["items"] = new JsonArray(items.Select(i => (JsonNode?)new JsonObject { ["item"] = model.Items[i.Item], ["score"] = i.Score }).ToArray()),
            });
            return;
        }
        var table = new Table().AddColumn("rank").AddColumn("item").AddColumn("score");
        for (var r = 0; r < items.Length; r++)
        {
            table.AddRow($"{r + 1}", Markup.Escape(model.Items[items[r].Item]), $"{items[r].Score:F4}");
        }
        AnsiConsole.Write(table);
    }
}
