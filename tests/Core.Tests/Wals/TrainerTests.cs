using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Tests.Wals;

public sealed class TrainerTests
{
    [Theory]
    [InlineData(ConfidenceTransform.Log, 0f)]
    [InlineData(ConfidenceTransform.Linear, 0.5f)]
    [InlineData(ConfidenceTransform.Binary, 1f)]
    public void The_full_loss_never_increases_across_cholesky_iterations(ConfidenceTransform transform, float nu)
    {
        var r = DenseReference.RandomMatrix(new Random(17), 40, 60, 0.15, allowNegative: false);
        var o = new WalsOptions { Factors = 6, Solver = WalsSolver.Cholesky, Iterations = 12, Transform = transform, Alpha = 2f, Regularization = 0.1f, RegularizationExponent = nu, Threads = 2 };
        var trained = new WalsTrainer(o).Train(r);
        var previous = trained.InitialLoss;
        Assert.Equal(12, trained.History.Count);
        foreach (var report in trained.History)
        {
            Assert.True(report.Loss <= previous * (1 + 1e-6), $"Iteration {report.Iteration}: loss {report.Loss} > previous {previous}.");
            previous = report.Loss;
        }
        Assert.True(trained.FinalLoss < trained.InitialLoss * 0.9);
    }

    [Fact]
    public void Reported_losses_equal_the_dense_objective_of_the_factors()
    {
        var r = DenseReference.RandomMatrix(new Random(23), 20, 25, 0.2, allowNegative: false);
        var o = new WalsOptions { Factors = 4, Iterations = 3, Regularization = 0.2f, Threads = 2 };
        var trained = new WalsTrainer(o).Train(r);
        var (c, p) = DenseReference.DenseWeights(r, o);
        var expected = DenseReference.Loss(c, p, trained.UserFactors, trained.ItemFactors, 4, o, DenseReference.RowCounts(r), DenseReference.RowCounts(r.Transpose()));
        Assert.Equal(expected, trained.FinalLoss, expected * 1e-4);
    }

    [Fact]
    public void Without_regularization_and_with_more_factors_than_items_cg_stays_bounded()
    {
        // Regression: with lambda 0 a singular G gives diagonal entries of 0 up to rounding, and the Jacobi floor of 1e-12
        // multiplied rounding noise by 1e12: the factors grew to 1e7 and the reported loss went negative.
        var r = DenseReference.RandomMatrix(new Random(3), 10, 6, 0.3, allowNegative: true);
        var o = new WalsOptions { Factors = 16, Iterations = 10, Regularization = 0, Threads = 1 };
        var trained = new WalsTrainer(o).Train(r);
        Assert.All(trained.History, h => Assert.True(h.Loss >= -1e-4, $"reported loss {h.Loss}")); // a perfect fit is possible: 0 up to rounding
        Assert.True(trained.UserFactors.Concat(trained.ItemFactors).Max(MathF.Abs) < 1e3, "the factors blew up");
        var (c, p) = DenseReference.DenseWeights(r, o);
        var expected = DenseReference.Loss(c, p, trained.UserFactors, trained.ItemFactors, 16, o, DenseReference.RowCounts(r), DenseReference.RowCounts(r.Transpose()));
        Assert.True(Math.Abs(expected - trained.FinalLoss) <= 1e-3 + 1e-3 * expected, $"reported {trained.FinalLoss}, the dense objective {expected}");
    }

    [Fact]
    public void A_row_without_interactions_or_any_weight_gets_zero_factors_from_cholesky()
    {
        // Regression: with w0 = 0 and a frequency-scaled lambda (nu > 0) an empty row has A_u = 0, which Cholesky refused.
        var r = CsrMatrix.FromCoordinates(4, 3, [0, 0, 2, 3], [0, 1, 1, 2], [1f, 2f, 3f, 1f]); // user 1 has nothing
        var o = new WalsOptions { Factors = 3, Iterations = 2, Solver = WalsSolver.Cholesky, UnobservedWeight = 0, RegularizationExponent = 1, Regularization = 0.1f, Threads = 1 };
        var trained = new WalsTrainer(o).Train(r);
        Assert.Equal(new float[3], trained.UserFactors.AsSpan(3, 3).ToArray());
        Assert.All(trained.UserFactors.Concat(trained.ItemFactors), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed()
    {
        var r = DenseReference.RandomMatrix(new Random(29), 30, 30, 0.2, allowNegative: false);
        var o = new WalsOptions { Factors = 8, Iterations = 4, Threads = 1, Seed = 5 };
        var a = new WalsTrainer(o).Train(r);
        var b = new WalsTrainer(o).Train(r);
        Assert.Equal(a.UserFactors, b.UserFactors);
        Assert.Equal(a.ItemFactors, b.ItemFactors);
    }

    [Fact]
    public void Cg_and_cholesky_training_reach_similar_losses()
    {
        var r = DenseReference.RandomMatrix(new Random(31), 50, 70, 0.1, allowNegative: false);
        var o = new WalsOptions { Factors = 8, Iterations = 10, Threads = 2 };
        var cg = new WalsTrainer(o).Train(r);
        var chol = new WalsTrainer(o with { Solver = WalsSolver.Cholesky }).Train(r);
        Assert.True(Math.Abs(cg.FinalLoss - chol.FinalLoss) <= 0.02 * chol.FinalLoss, $"CG {cg.FinalLoss} vs Cholesky {chol.FinalLoss}");
    }
}
