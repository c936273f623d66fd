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
