using System.Globalization;
using System.Text.Json;
using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Bench.Embedding;

/// <summary>
/// How well free-text queries find what they name, on a MovieLens model trained with <c>--item-text</c>:
/// <code>
/// dotnet run -c Release --project bench/WalsCluster.Bench.Embedding -- text-queries --model M
///     [--movies data/movielens-latest-small] [--tags 40] [--k 20] [--threads 2] [--json]
/// </code>
/// Two query sets with a relevance that needs no judge: "a {genre} movie" for every genre (relevant: the movies of that
/// genre) and each of the most used tags as the query (relevant: the movies tagged with it). For each way of answering,
/// the mean precision@k over each set and the mean over the queries of the median number of training interactions
/// of the items returned (how much the answers lean to popular items). The ways: q . y_i with q = W^T e + b of the
/// item map (zeros for the metadata features, when the model has them), q . y_i with the text-only map, and
/// x . y_i with x = (w0 G + lambda_1 I)^-1 q (FoldIn.QueryVector), what <c>wals recommend --text</c> answers.
/// </summary>
internal static class TextQueries
{
    public static int Run(Program.Args options)
    {
        var modelPath = options.Get("model", "") is { Length: > 0 } m ? m : throw new ArgumentException("Give --model PATH (a model trained with --item-text).");
        var movies = options.Get("movies", Path.Combine("data", "movielens-latest-small"));
        var tagCount = int.Parse(options.Get("tags", "40"), CultureInfo.InvariantCulture);
        var k = int.Parse(options.Get("k", "20"), CultureInfo.InvariantCulture);
        var threads = int.Parse(options.Get("threads", "2"), CultureInfo.InvariantCulture);

        var saved = SavedModel.Load(modelPath);
        var section = ProjectionSection.Find(saved, modelPath) ?? throw new ArgumentException($"Model '{modelPath}' has no projection section: train it with --item-text.");
        var texts = ItemTexts.ReadMovieLens(Path.Combine(movies, "movies.csv"), Path.Combine(movies, "tags.csv"));
        var model = saved.Model;
        var itemTexts = Enumerable.Range(0, model.Items.Count).Select(i => texts.GetValueOrDefault(model.Items[i])).ToArray();

        var queries = new List<(string Set, string Text, Func<ItemText, bool> Relevant)>();
        foreach (var genre in texts.Values.SelectMany(t => t.Genres).Distinct(StringComparer.Ordinal).Where(g => g != "(no genres listed)").Order(StringComparer.Ordinal))
        {
            queries.Add(("genre", $"a {genre.ToLowerInvariant()} movie", t => t.Genres.Contains(genre)));
        }
        var tags = texts.Values.SelectMany(t => t.Tags.Select(x => x.ToLowerInvariant()).Distinct(StringComparer.Ordinal))
            .GroupBy(x => x, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Take(tagCount).Select(g => g.Key).ToList();
        foreach (var tag in tags)
        {
            queries.Add(("tag", tag, t => t.Tags.Any(x => string.Equals(x, tag, StringComparison.OrdinalIgnoreCase))));
        }

        using var encoder = TextEncoder.Create(ModelCatalog.Load(section.Embedding.Model), section.Embedding.ToEncoderOptions("cpu", threads));
        var vectors = encoder.Embed(queries.Select(q => q.Text).ToList());
        var counts = ProjectionTraining.ItemCounts(saved.Train);
        var ranker = new FactorRanker(model);
        var foldIn = new FoldIn(model);
        var textMap = section.ForTextQueries(modelPath);

        var ways = new List<(string Name, Func<float[], float[]> Query)>();
        if (section.Embedding.Metadata is { } metadata)
        {
            ways.Add(("item map, zero features, q . y", e => section.Projection.Apply([.. e, .. new float[metadata.Count]])));
        }
        ways.Add(("text map, q . y", e => textMap.Apply(e)));
        ways.Add(("text map, fold-in x . y (shipped)", e => foldIn.QueryVector(textMap.Apply(e))));

        var results = new List<Dictionary<string, object>>();
        Console.WriteLine($"{queries.Count(q => q.Set == "genre")} genre and {tags.Count} tag queries, precision@{k}; model {modelPath} ({model.Items.Count:N0} items, {model.Factors} factors)");
        foreach (var (name, query) in ways)
        {
            var precision = new Dictionary<string, List<double>>();
            var medians = new List<double>();
            for (var q = 0; q < queries.Count; q++)
            {
                var top = ranker.Recommend(query(vectors[q]), k);
                var hits = top.Count(s => itemTexts[s.Item] is { } t && queries[q].Relevant(t));
                (precision.TryGetValue(queries[q].Set, out var list) ? list : precision[queries[q].Set] = []).Add(hits / (double)k);
                var popularity = top.Select(s => (double)counts[s.Item]).Order().ToArray();
                medians.Add(popularity.Length == 0 ? 0 : popularity[popularity.Length / 2]);
            }
            var row = new Dictionary<string, object>
            {
                ["way"] = name,
                [$"genre_precision@{k}"] = Math.Round(precision["genre"].Average(), 4),
                [$"tag_precision@{k}"] = tags.Count > 0 ? Math.Round(precision["tag"].Average(), 4) : double.NaN,
                ["median_item_interactions"] = Math.Round(medians.Average(), 1),
            };
            results.Add(row);
            Console.WriteLine($"  {name,-36} genre {row[$"genre_precision@{k}"]:0.000}  tag {row[$"tag_precision@{k}"]:0.000}  median interactions of the answers {row["median_item_interactions"]:0}");
        }
        if (options.Has("json"))
        {
            Console.WriteLine(JsonSerializer.Serialize(results));
        }
        return 0;
    }
}
