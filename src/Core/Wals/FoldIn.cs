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
        var w0 = options.UnobservedWeight;
        var a = new double[k * k];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = w0 * _gram[i];
        }
        var lambda = WeightedInteractions.RowRegularization(merged.Count, _model.Items.Count, options);
        for (var i = 0; i < k; i++)
        {
            a[i * k + i] += lambda;
        }
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
        if (!Dense.CholeskySolveInPlace(a, k, b))
        {
            throw new NonFiniteFactorsException("The fold-in system is not positive definite; raise the regularization.");
        }
        var x = new float[k];
        for (var i = 0; i < k; i++)
        {
            x[i] = (float)b[i];
        }
        return x;
    }
}
