using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Model;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Tests.Wals;

public sealed class FoldInTests
{
    [Theory]
    [InlineData(ConfidenceTransform.Log, 0f)]
    [InlineData(ConfidenceTransform.Linear, 0.5f)]
    public void Folding_in_a_users_items_gives_the_cholesky_half_step_solution(ConfidenceTransform transform, float nu)
    {
        const int k = 6;
        var r = DenseReference.RandomMatrix(new Random(41), 12, 30, 0.25, allowNegative: true);
        var options = new WalsOptions { Factors = k, Transform = transform, Alpha = 2f, Regularization = 0.3f, RegularizationExponent = nu, Threads = 1, Solver = WalsSolver.Cholesky };
        var y = WalsTrainer.InitialFactors(30, k, 3, 1f);
        var x = new float[12 * k];
        var gram = new double[k * k];
        MatrixKernels.AddGram(y, 30, k, gram, 1);
        HalfStep.SolveCholesky(WeightedInteractions.Build(r, options), y, gram, x, 30, options);

        var users = new IdMap(Enumerable.Range(0, 12).Select(i => $"u{i}"));
        var items = new IdMap(Enumerable.Range(0, 30).Select(i => $"i{i}"));
        var model = new FactorModel(users, items, k, x, y, options, new TrainingMetadata());
        var foldIn = new FoldIn(model);
        for (var u = 0; u < 12; u++)
        {
            var pairs = r.RowIndices(u).ToArray().Zip(r.RowValues(u).ToArray()).Select(p => (p.First, p.Second)).ToList();
            var folded = foldIn.Solve(pairs);
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(x[u * k + i], folded[i], 1e-4f);
            }
        }
    }

    [Theory]
    [InlineData(ConfidenceTransform.Log, 0f, 1f)]
    [InlineData(ConfidenceTransform.Linear, 0.5f, 4f)]
    public void A_text_query_vector_is_the_fold_in_of_its_one_item_up_to_a_positive_factor(ConfidenceTransform transform, float nu, float value)
    {
        // Sherman-Morrison: the fold-in of the single interaction (j, value) is (w0 G + lambda_1 I)^-1 y_j times
        // c p / (1 + (c - w0) y_j^T (w0 G + lambda_1 I)^-1 y_j), so QueryVector(y_j) must be parallel to it with that factor.
        const int k = 5, items = 40;
        var options = new WalsOptions { Factors = k, Transform = transform, Alpha = 3f, Regularization = 0.7f, RegularizationExponent = nu, UnobservedWeight = 0.8f, Threads = 1 };
        var y = WalsTrainer.InitialFactors(items, k, 9, 1f);
        var model = new FactorModel(new IdMap(["a"]), new IdMap(Enumerable.Range(0, items).Select(i => $"i{i}")), k, new float[k], y, options, new TrainingMetadata());
        var foldIn = new FoldIn(model);
        var gram = new double[k * k];
        MatrixKernels.AddGram(y, items, k, gram, 1);
        var lambda = WeightedInteractions.RowRegularization(1, items, options);
        var (c, p) = WeightedInteractions.Confidence(value, options);
        foreach (var j in new[] { 0, 17, 39 })
        {
            var q = y.AsSpan(j * k, k).ToArray();
            var direction = foldIn.QueryVector(q);
            // q^T A^-1 q, A = w0 G + lambda_1 I, from the direction itself (A^-1 q = direction).
            var quadratic = q.Zip(direction).Sum(t => (double)t.First * t.Second);
            var expectedFactor = c * p / (1 + (c - options.UnobservedWeight) * quadratic);
            var folded = foldIn.Solve([(j, value)]);
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(folded[i], (float)(expectedFactor * direction[i]), 1e-5f);
            }
            // And A x = q holds for the direction, checked against the dense system.
            for (var i = 0; i < k; i++)
            {
                var row = Enumerable.Range(0, k).Sum(l => (options.UnobservedWeight * gram[i * k + l] + (i == l ? lambda : 0)) * direction[l]);
                Assert.Equal(q[i], row, 1e-4);
            }
        }
        Assert.Throws<ArgumentException>(() => foldIn.QueryVector(new float[k + 1]));
    }

    [Fact]
    public void Fold_in_sums_duplicate_items_and_rejects_unknown_indices()
    {
        const int k = 3;
        var options = new WalsOptions { Factors = k, Threads = 1 };
        var y = WalsTrainer.InitialFactors(5, k, 1, 1f);
        var model = new FactorModel(new IdMap(["a"]), new IdMap(["p", "q", "r", "s", "t"]), k, new float[k], y, options, new TrainingMetadata());
        var foldIn = new FoldIn(model);
        Assert.Equal(foldIn.Solve([(1, 5f)]), foldIn.Solve([(1, 2f), (1, 3f)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => foldIn.Solve([(7, 1f)]));
    }
}
