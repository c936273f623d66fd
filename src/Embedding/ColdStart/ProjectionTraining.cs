using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Synthetic;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>How much each warm item counts in the projection's least squares.</summary>
public enum ProjectionWeighting
{
    /// <summary>Every warm item counts once (DESIGN section 1's plain ridge).</summary>
    None,

    /// <summary>Item i counts w_i = 1 + floor(log2 n_i) times, n_i its number of training interactions: items whose factors
    /// rest on more interactions are fitted more closely (their y_i are less noisy and more often recommended).</summary>
    LogCount,

    /// <summary>Item i counts w_i = n_i times: the least squares runs over interactions rather than items, so the
    /// projection is fitted where recommendations happen (on ml-latest-small the best of the three for cold items).</summary>
    Count,
}

/// <summary>
/// A projection fitted on warm items, with what the fit recorded. When the embeddings carry metadata features,
/// <paramref name="QueryFit"/> is a second map fitted on their text part alone (same items, same split, its own mu):
/// a free-text query has a text vector and no genres, year or tags, so it is projected with that map rather than
/// with the full one and zeros for the features it lacks.
/// </summary>
public sealed record WarmProjection(ProjectionFit Fit, ProjectionFitInfo Info, ProjectionFit? QueryFit = null)
{
    public RidgeProjection Projection => Fit.Projection;

    /// <summary>The map for text-only vectors: <see cref="QueryFit"/>'s, or the full one when there are no metadata features.</summary>
    public RidgeProjection TextProjection => QueryFit?.Projection ?? Fit.Projection;
}

/// <summary>
/// Fits the text-to-factor projection on warm items (items with both a text embedding and trained factors) and gives
/// items without interactions their factors y_i = W^T e_i + b (DESIGN section 1). Single-process; the sums it builds
/// are the same ones item shards will compute in parts.
/// </summary>
public static class ProjectionTraining
{
    /// <summary>Default share of warm items held out to choose mu.</summary>
    public const double DefaultValidationFraction = 0.1;

    /// <summary>
    /// Fits W, b from the pairs (itemFactors row <c>pairs[j].FactorRow</c>, embeddings row <c>pairs[j].EmbeddingRow</c>):
    /// a seeded shuffle puts round(<paramref name="validationFraction"/> n) of them (at least 1) in the validation part,
    /// <see cref="ProjectionFitter"/> picks mu by validation MSE and refits on all pairs. With metadata features in the
    /// embeddings, and unless <paramref name="textQueries"/> is false, the text-only map for free-text queries is fitted
    /// the same way from the leading blocks of the same sums (<see cref="WarmProjection.QueryFit"/>).
    /// </summary>
    public static WarmProjection Fit(ReadOnlySpan<float> itemFactors, int k, ItemEmbeddings embeddings,
        IReadOnlyList<(int FactorRow, int EmbeddingRow)> pairs, double validationFraction = DefaultValidationFraction, ulong seed = 42,
        IReadOnlyList<int>? weights = null, bool textQueries = true)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
        {
            throw new ArgumentException($"The projection validation fraction {validationFraction} must be between 0 and 1 (exclusive).");
        }
        if (pairs.Count < 3)
        {
            throw new ArgumentException($"Fitting the projection needs at least 3 items with both text and trained factors; there are {pairs.Count}. " +
                "Check that the item-text ids are the item ids of the interactions.");
        }
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new Xoshiro256StarStar(seed).Shuffle(order.AsSpan());
        var validationCount = Math.Clamp((int)Math.Round(validationFraction * pairs.Count), 1, pairs.Count - 2);
        var train = new ProjectionSums(embeddings.Dimension, k);
        var validation = new ProjectionSums(embeddings.Dimension, k);
        for (var j = 0; j < order.Length; j++)
        {
            var (factorRow, embeddingRow) = pairs[order[j]];
            var sums = j < validationCount ? validation : train;
            // An integer weight w enters the sums exactly as w copies of the pair (weighted least squares).
            sums.Add(embeddings.Vector(embeddingRow), itemFactors.Slice(factorRow * k, k), weights?[order[j]] ?? 1);
        }
        var validationMeanSquare = validation.SumYY / validation.Count;
        var fit = ProjectionFitter.Fit(train, validation);
        var best = fit.Candidates.First(c => c.Mu == fit.Mu);
        var queryFit = textQueries ? ProjectionFitter.FitQueryMap(train, validation, embeddings.Settings.Metadata?.Count ?? 0) : null;
        return new WarmProjection(fit, new ProjectionFitInfo
        {
            QueryMu = queryFit?.Mu,
            TrainItems = pairs.Count - validationCount,
            ValidationItems = validationCount,
            ValidationMse = best.ValidationMse,
            ValidationMeanSquare = validationMeanSquare,
            ValidationFraction = validationFraction,
            Seed = seed,
        }, queryFit);
    }

    /// <summary>w_i of <paramref name="weighting"/> for an item with <paramref name="interactions"/> training interactions.</summary>
    public static int Weight(ProjectionWeighting weighting, int interactions) => weighting switch
    {
        ProjectionWeighting.None => 1,
        ProjectionWeighting.LogCount => interactions <= 1 ? 1 : 1 + System.Numerics.BitOperations.Log2((uint)interactions),
        ProjectionWeighting.Count => Math.Max(1, interactions),
        _ => throw new ArgumentOutOfRangeException(nameof(weighting), weighting, null),
    };

    /// <summary>Parses <c>none</c>, <c>log-count</c> or <c>count</c>.</summary>
    public static ProjectionWeighting ParseWeighting(string value) => value.Trim().ToLowerInvariant() switch
    {
        "none" => ProjectionWeighting.None,
        "log-count" or "logcount" => ProjectionWeighting.LogCount,
        "count" => ProjectionWeighting.Count,
        _ => throw new ArgumentException($"Projection weighting '{value}' is invalid: use none, log-count or count."),
    };

    /// <summary>Interactions per item (column counts of the user x item matrix).</summary>
    public static int[] ItemCounts(CsrMatrix userItems)
    {
        var counts = new int[userItems.Columns];
        foreach (var column in userItems.ColumnIndex)
        {
            counts[column]++;
        }
        return counts;
    }

    /// <summary>Fits on the items of <paramref name="saved"/> that have a row in <paramref name="embeddings"/>.</summary>
    public static WarmProjection FitOnModel(SavedModel saved, ItemEmbeddings embeddings, double validationFraction = DefaultValidationFraction, ulong seed = 42,
        ProjectionWeighting weighting = ProjectionWeighting.None)
    {
        var model = saved.Model;
        var counts = ItemCounts(saved.Train);
        var pairs = new List<(int, int)>();
        var weights = new List<int>();
        for (var row = 0; row < embeddings.Count; row++)
        {
            var item = model.Items.IndexOf(embeddings.Ids[row]);
            if (item >= 0 && counts[item] > 0)
            {
                pairs.Add((item, row));
                weights.Add(Weight(weighting, counts[item]));
            }
        }
        return Fit(model.ItemFactors, model.Factors, embeddings, pairs, validationFraction, seed, weights);
    }

    /// <summary>
    /// Returns <paramref name="saved"/> with the projection section (replacing an older one) and, unless
    /// <paramref name="addTextOnlyItems"/> is false, every embedded item the model does not know appended as a new item
    /// with factors W^T e + b (no interactions: the training matrix gets empty columns for them).
    /// </summary>
    public static (SavedModel Model, ProjectionSection Section) Attach(SavedModel saved, ItemEmbeddings embeddings, WarmProjection fit, bool addTextOnlyItems = true)
    {
        var model = saved.Model;
        var k = model.Factors;
        // Items the model does not know are added (text-only items). Items of the model without training interactions
        // (all theirs are in the test part) were left near 0 by training; with text they get W^T e + b in place, as the
        // cluster's item shards give them.
        var counts = ItemCounts(saved.Train);
        var added = new List<int>();
        var untrained = new List<(int Item, int Row)>();
        for (var row = 0; row < embeddings.Count; row++)
        {
            var item = model.Items.IndexOf(embeddings.Ids[row]);
            if (item < 0 && addTextOnlyItems)
            {
                added.Add(row);
            }
            else if (item >= 0 && counts[item] == 0)
            {
                untrained.Add((item, row));
            }
        }
        var section = new ProjectionSection(embeddings.Settings, fit.Info with { ProjectedItems = added.Select(r => embeddings.Ids[r]).ToArray() }, fit.Projection,
            fit.QueryFit?.Projection);
        var sections = saved.OtherSections.Where(s => s.Name != ProjectionSection.Name).Append(section.ToModelSection()).ToList();
        if (added.Count == 0 && untrained.Count == 0)
        {
            return (saved with { OtherSections = sections }, section);
        }
        var items = added.Count == 0 ? model.Items : new IdMap(model.Items.Ids.Concat(added.Select(r => embeddings.Ids[r])));
        var factors = new float[(long)items.Count * k];
        model.ItemFactors.CopyTo(factors, 0);
        foreach (var (item, row) in untrained)
        {
            fit.Projection.Apply(embeddings.Vector(row), factors.AsSpan(item * k, k));
        }
        for (var j = 0; j < added.Count; j++)
        {
            fit.Projection.Apply(embeddings.Vector(added[j]), factors.AsSpan((model.Items.Count + j) * k, k));
        }
        var widened = new FactorModel(model.Users, items, k, model.UserFactors, factors, model.Options, model.Metadata);
        var train = new CsrMatrix(saved.Train.Rows, items.Count, saved.Train.RowStart, saved.Train.ColumnIndex, saved.Train.Values);
        return (new SavedModel(widened, train, sections), section);
    }
}
