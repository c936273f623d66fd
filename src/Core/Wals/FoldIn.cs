using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Model;

namespace WalsCluster.Core.Wals;

/// <summary>
/// Fold-in of a user who is not in the model: one exact solve of the user half-step against the model's fixed item
/// factors Y, x = (w0 G + sum_i (c_i - w0) y_i y_i^T + lambda_u I)^-1 sum_i c_i p_i y_i over the given (item, value)
/// pairs, with c and p from the model's confidence settings and lambda_u = lambda (n + w0 N_items)^nu, in double
/// precision (Cholesky). This is the same system the Cholesky half-step solves for a trained user.
/// </summary>
public sealed class FoldIn
{
    private readonly FactorModel _model;
    private readonly double[] _gram;

    public FoldIn(FactorModel model)
    {
        _model = model;
        _gram = new double[model.Factors * model.Factors];
        MatrixKernels.AddGram(model.ItemFactors, model.Items.Count, model.Factors, _gram, model.Options.EffectiveThreads);
    }

    /// <summary>
    /// The query vector of a user whose only interaction is an item with factors <paramref name="itemVector"/> that the
    /// model does not hold (a text projected into the factor space): x = (w0 G + lambda_1 I)^-1 q, lambda_1 the
    /// regularization of a row with one entry. The fold-in of that one interaction is this vector times
    /// c p / (1 + (c - w0) q^T (w0 G + lambda_1 I)^-1 q) (Sherman-Morrison), a positive number, so it ranks the items the
    /// same whatever the confidence; this form leaves the confidence out. Against scoring with q itself, x weighs each
    /// direction of the factor space by the inverse of how much the items' factors spread along it (the eigenvalues of
    /// w0 G + lambda_1 I), as the user half-step does for a real user; on MovieLens text queries that finds more of what
    /// they name (docs/benchmarks.md, "Text queries").
    /// </summary>
    public float[] QueryVector(ReadOnlySpan<float> itemVector) => QueryVector(_gram, _model.Items.Count, itemVector, _model.Options);

    /// <summary><see cref="QueryVector(ReadOnlySpan{float})"/> from the item Gram G (row-major k x k, double) of
    /// <paramref name="itemCount"/> items, with the model's w0 and lambda from <paramref name="options"/>.</summary>
    public static float[] QueryVector(ReadOnlySpan<double> gram, int itemCount, ReadOnlySpan<float> itemVector, WalsOptions options)
    {
        var k = itemVector.Length;
        if (gram.Length != k * k)
        {
            throw new ArgumentException($"The query vector has {k} values but the Gram is {gram.Length} values (expected {k * k}).", nameof(itemVector));
        }
        var a = Regularized(gram, k, options.UnobservedWeight, WeightedInteractions.RowRegularization(1, itemCount, options));
        var b = new double[k];
        for (var i = 0; i < k; i++)
        {
            b[i] = itemVector[i];
        }
        return SolveInPlace(a, k, b, "The text query's system");
    }

    /// <summary>The user vector for the given item indices and raw values (duplicates are summed, as in training).</summary>
    public float[] Solve(IReadOnlyList<(int Item, float Value)> interactions)
    {
        var k = _model.Factors;
        var options = _model.Options;
        var merged = new SortedDictionary<int, float>();
        foreach (var (item, value) in interactions)
        {
            if ((uint)item >= (uint)_model.Items.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(interactions), item, $"Item index {item} is outside the model's {_model.Items.Count} items.");
            }
            merged[item] = merged.GetValueOrDefault(item) + value;
        }
        if (merged.Count == 0)
        {
            // b = 0, so x = 0 (also when w0 = 0 and a frequency-scaled lambda leave A = 0).
            return new float[k];
        }
        var w0 = options.UnobservedWeight;
        var a = Regularized(_gram, k, w0, WeightedInteractions.RowRegularization(merged.Count, _model.Items.Count, options));
        var b = new double[k];
        foreach (var (item, value) in merged)
        {
            var (c, p) = WeightedInteractions.Confidence(value, options);
            var y = _model.ItemVector(item);
            for (var i = 0; i < k; i++)
            {
                b[i] += (double)c * p * y[i];
                var w = (double)(c - w0) * y[i];
                for (var j = 0; j < k; j++)
                {
                    a[i * k + j] += w * y[j];
                }
            }
        }
        return SolveInPlace(a, k, b, "The fold-in system");
    }

    /// <summary>w0 G + lambda I (row-major k x k).</summary>
    private static double[] Regularized(ReadOnlySpan<double> gram, int k, float w0, float lambda)
    {
        var a = new double[k * k];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = w0 * gram[i];
        }
        for (var i = 0; i < k; i++)
        {
            a[i * k + i] += lambda;
        }
        return a;
    }

    /// <summary>
    /// The fold-in from terms summed elsewhere (the cluster's item shards send G, the low-rank part
    /// L = sum (c - w0) y y^T and b = sum c p y in parts): x = (w0 G + L + lambda_n I)^-1 b, lambda_n the regularization of
    /// a row with <paramref name="entries"/> entries among <paramref name="itemCount"/> items. <paramref name="b"/> is
    /// overwritten; null when the system is not positive definite.
    /// </summary>
    public static float[]? TrySolve(ReadOnlySpan<double> gram, ReadOnlySpan<double> lowRank, double[] b, int entries, int itemCount, WalsOptions options)
    {
        var k = b.Length;
        if (entries == 0)
        {
            return new float[k];
        }
        var a = Regularized(gram, k, options.UnobservedWeight, WeightedInteractions.RowRegularization(entries, itemCount, options));
        for (var i = 0; i < a.Length; i++)
        {
            a[i] += lowRank[i];
        }
        return Dense.CholeskySolveInPlace(a, k, b) ? ToFloats(b) : null;
    }

    /// <summary>Solves a x = b by Cholesky (a and b are overwritten) and returns x in float; <paramref name="what"/> names the system in the error.</summary>
    private static float[] SolveInPlace(double[] a, int k, double[] b, string what) =>
        Dense.CholeskySolveInPlace(a, k, b) ? ToFloats(b) : throw new NonFiniteFactorsException($"{what} is not positive definite; raise the regularization.");

    private static float[] ToFloats(double[] values)
    {
        var x = new float[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            x[i] = (float)values[i];
        }
        return x;
    }
}
