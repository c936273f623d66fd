using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Synthetic;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>A projection fitted on warm items, with what the fit recorded.</summary>
public sealed record WarmProjection(ProjectionFit Fit, ProjectionFitInfo Info)
{
    public RidgeProjection Projection => Fit.Projection;
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
    /// <see cref="ProjectionFitter"/> picks mu by validation MSE and refits on all pairs.
    /// </summary>
    public static WarmProjection Fit(ReadOnlySpan<float> itemFactors, int k, ItemEmbeddings embeddings,
        IReadOnlyList<(int FactorRow, int EmbeddingRow)> pairs, double validationFraction = DefaultValidationFraction, ulong seed = 42)
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
            (j < validationCount ? validation : train).Add(embeddings.Vector(embeddingRow), itemFactors.Slice(factorRow * k, k));
        }
        var validationMeanSquare = validation.SumYY / validation.Count;
        var fit = ProjectionFitter.Fit(train, validation);
        var best = fit.Candidates.First(c => c.Mu == fit.Mu);
        return new WarmProjection(fit, new ProjectionFitInfo
        {
            TrainItems = (int)train.Count,
            ValidationItems = (int)validation.Count,
            ValidationMse = best.ValidationMse,
            ValidationMeanSquare = validationMeanSquare,
            ValidationFraction = validationFraction,
            Seed = seed,
        });
    }

    /// <summary>Fits on the items of <paramref name="model"/> that have a row in <paramref name="embeddings"/>.</summary>
    public static WarmProjection FitOnModel(FactorModel model, ItemEmbeddings embeddings, double validationFraction = DefaultValidationFraction, ulong seed = 42)
    {
        var pairs = new List<(int, int)>();
        for (var row = 0; row < embeddings.Count; row++)
        {
            var item = model.Items.IndexOf(embeddings.Ids[row]);
            if (item >= 0)
            {
                pairs.Add((item, row));
            }
        }
        return Fit(model.ItemFactors, model.Factors, embeddings, pairs, validationFraction, seed);
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
        var added = new List<int>();
        if (addTextOnlyItems)
        {
            for (var row = 0; row < embeddings.Count; row++)
            {
                if (!model.Items.Contains(embeddings.Ids[row]))
                {
                    added.Add(row);
                }
            }
        }
        var section = new ProjectionSection(embeddings.Settings, fit.Info with { ProjectedItems = added.Select(r => embeddings.Ids[r]).ToArray() }, fit.Projection);
        var sections = saved.OtherSections.Where(s => s.Name != ProjectionSection.Name).Append(section.ToModelSection()).ToList();
        if (added.Count == 0)
        {
            return (saved with { OtherSections = sections }, section);
        }
        var items = new IdMap(model.Items.Ids.Concat(added.Select(r => embeddings.Ids[r])));
        var factors = new float[(long)items.Count * k];
        model.ItemFactors.CopyTo(factors, 0);
        for (var j = 0; j < added.Count; j++)
        {
            fit.Projection.Apply(embeddings.Vector(added[j]), factors.AsSpan((model.Items.Count + j) * k, k));
        }
        var widened = new FactorModel(model.Users, items, k, model.UserFactors, factors, model.Options, model.Metadata);
        var train = new CsrMatrix(saved.Train.Rows, items.Count, saved.Train.RowStart, saved.Train.ColumnIndex, saved.Train.Values);
        return (new SavedModel(widened, train, sections), section);
    }
}
