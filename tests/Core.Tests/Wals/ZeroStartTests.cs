using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Tests.Wals;

/// <summary>CG rows started from zero (<see cref="WalsOptions.ZeroStart"/>) and the loss computed at the end of a half-step.</summary>
public sealed class ZeroStartTests
{
    private static (WeightedInteractions Users, WeightedInteractions Items, float[] Y, float[] X, float[] Eigenvalues) RotatedProblem(int seed, int users, int items, int k, WalsOptions o)
    {
        var random = new Random(seed);
        var r = DenseReference.RandomMatrix(random, users, items, 0.3, allowNegative: false);
        var y = Enumerable.Range(0, items * k).Select(_ => (float)(random.NextDouble() - 0.3)).ToArray();
        var x = Enumerable.Range(0, users * k).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray();
        var gram = new double[k * k];
        ScalarKernels.AddGram(y, items, k, gram);
        var (q, eigenvalues) = Dense.SymmetricEigen(gram, k);
        // Both sides in the eigenbasis of G_Y, as the trainer holds them during a user half-step.
        MatrixKernels.MultiplyInPlace(y, items, k, q, 1);
        MatrixKernels.MultiplyInPlace(x, users, k, q, 1);
        var weighted = WeightedInteractions.Build(r, o);
        return (weighted, weighted.Transpose(), y, x, eigenvalues);
    }

    [Theory]
    [InlineData(5, 1)]
    [InlineData(16, 2)]
    [InlineData(37, 3)]
    public void A_zero_start_is_the_warm_solve_from_zero_whatever_the_factors_held(int k, int seed)
    {
        var o = new WalsOptions { Factors = k, CgSteps = 3, Regularization = 0.2f, Alpha = 2f, Threads = 2 };
        var (users, _, y, x, eig) = RotatedProblem(seed, 11, 23, k, o);
        var fromZero = new float[x.Length];
        var warmFromZero = HalfStep.SolveConjugateGradientInEigenbasis(users, y, eig, fromZero, 23, o);
        var garbage = x.Select(v => v * 1000 + 7).ToArray();
        var zero = HalfStep.SolveConjugateGradientInEigenbasis(users, y, eig, garbage, 23, o, zeroStart: true, lossAfter: false);
        // t = y . 0 = 0 exactly, so skipping the dot products changes no bit.
        Assert.Equal(fromZero, garbage);
        Assert.Equal(0, zero.ObservedLoss);
        Assert.Equal(0, zero.ImplicitLoss);
        Assert.Equal(0, zero.RegularizationBefore);
        Assert.Equal(warmFromZero.RegularizationAfter, zero.RegularizationAfter);
        Assert.True(double.IsNaN(zero.LossAfter), "The loss after was not asked for.");
    }

    [Theory]
    [InlineData(4, 1, false, 1 << 24)]
    [InlineData(13, 2, true, 1 << 24)]
    [InlineData(13, 2, false, 0)]
    [InlineData(40, 3, true, 0)]
    public void The_loss_after_a_half_step_is_the_objective_at_the_new_factors(int k, int seed, bool zeroStart, int maxGatherFloats)
    {
        var o = new WalsOptions { Factors = k, CgSteps = 2, Regularization = 0.3f, RegularizationExponent = 0.5f, UnobservedWeight = 0.7f, Alpha = 3f, Threads = 2 };
        var (users, items, y, x, eig) = RotatedProblem(seed, 14, 19, k, o);
        var step = HalfStep.SolveConjugateGradientInEigenbasis(users, y, eig, x, 19, o, maxGatherFloats, zeroStart, lossAfter: true);
        var expected = WalsTrainer.Loss(users, items, x, y, o);
        var fromStep = step.LossAfter + WalsTrainer.RegularizationOf(items, y, 14, o);
        Assert.Equal(expected, fromStep, Math.Abs(expected) * 1e-5);
    }

    [Theory]
    [InlineData(ZeroStartSides.Users)]
    [InlineData(ZeroStartSides.Items)]
    [InlineData(ZeroStartSides.Both)]
    public void Training_with_a_zero_start_reports_the_true_objective_and_reaches_the_warm_one(ZeroStartSides sides)
    {
        var random = new Random(31);
        var r = DenseReference.RandomMatrix(random, 70, 50, 0.2, allowNegative: false);
        var o = new WalsOptions { Factors = 12, Iterations = 10, CgSteps = 3, Regularization = 0.1f, Alpha = 2f, Threads = 2 };
        var warm = new WalsTrainer(o).Train(r);
        var zero = new WalsTrainer(o with { ZeroStart = sides }).Train(r);
        var users = WeightedInteractions.Build(r, o);
        var items = users.Transpose();
        var truth = WalsTrainer.Loss(users, items, zero.UserFactors, zero.ItemFactors, o);
        Assert.Equal(truth, zero.FinalLoss, Math.Abs(truth) * 1e-5);
        Assert.Equal(warm.InitialLoss, zero.InitialLoss, Math.Abs(warm.InitialLoss) * 1e-5);
        Assert.Equal(o.Iterations, zero.History.Count);
        Assert.True(zero.History[^1].Loss < zero.History[0].Loss, "Training from zero starts did not lower the objective.");
        // Fewer effective CG steps per row than a warm start, so at most a little above its objective.
        Assert.InRange(zero.FinalLoss, warm.FinalLoss * (1 - 1e-3), warm.FinalLoss * (1 + 5e-3));
    }

    [Theory]
    [InlineData(WalsSolver.ConjugateGradient, GatherPrecision.Float32)]
    [InlineData(WalsSolver.Cholesky, GatherPrecision.Float32)]
    public void The_loss_reported_after_the_item_half_step_is_the_objective_of_the_final_factors(WalsSolver solver, GatherPrecision precision)
    {
        var r = DenseReference.RandomMatrix(new Random(12), 45, 60, 0.25, allowNegative: false);
        var o = new WalsOptions { Factors = 7, Iterations = 4, Solver = solver, GatherPrecision = precision, Regularization = 0.2f, UnobservedWeight = 0.6f, Alpha = 2f, Threads = 2 };
        var trained = new WalsTrainer(o).Train(r);
        var users = WeightedInteractions.Build(r, o);
        var truth = WalsTrainer.Loss(users, users.Transpose(), trained.UserFactors, trained.ItemFactors, o);
        Assert.Equal(truth, trained.FinalLoss, Math.Abs(truth) * 1e-6);
    }

    [Fact]
    public void Zero_iterations_with_a_zero_start_still_report_the_initial_objective()
    {
        var r = DenseReference.RandomMatrix(new Random(4), 9, 12, 0.4, allowNegative: false);
        var o = new WalsOptions { Factors = 3, Iterations = 0, ZeroStart = ZeroStartSides.Users, Threads = 1 };
        var trained = new WalsTrainer(o).Train(r);
        var warm = new WalsTrainer(o with { ZeroStart = ZeroStartSides.None }).Train(r);
        Assert.Empty(trained.History);
        Assert.Equal(warm.InitialLoss, trained.InitialLoss, Math.Abs(warm.InitialLoss) * 1e-9);
    }

    [Fact]
    public void A_zero_start_with_the_cholesky_solver_is_refused()
    {
        var o = new WalsOptions { Solver = WalsSolver.Cholesky, ZeroStart = ZeroStartSides.Users };
        var error = Assert.Throws<ArgumentException>(() => o.Validate());
        Assert.Contains("cg-zero-start", error.Message);
        Assert.Throws<ArgumentException>(() => new WalsOptions { ZeroStart = (ZeroStartSides)4 }.Validate());
    }
}
