using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Tests.Wals;

public sealed class HalfStepTests
{
    public static TheoryData<int, int, int, int> Problems => new()
    {
        // seed, users, items, k
        { 1, 7, 11, 1 },
        { 2, 9, 13, 3 },
        { 3, 12, 20, 8 },
        { 4, 15, 24, 17 },
        { 5, 6, 40, 33 },
    };

    private static IEnumerable<WalsOptions> OptionVariants(int k)
    {
        yield return new WalsOptions { Factors = k, Transform = ConfidenceTransform.Log, Alpha = 2f, Beta = 1f, Regularization = 0.1f, Threads = 2 };
        yield return new WalsOptions { Factors = k, Transform = ConfidenceTransform.Linear, Alpha = 0.5f, Beta = 0f, UnobservedWeight = 0.3f, Regularization = 0.5f, Threads = 1 };
        yield return new WalsOptions { Factors = k, Transform = ConfidenceTransform.Binary, Alpha = 3f, Regularization = 0.05f, RegularizationExponent = 0.5f, Threads = 2 };
        yield return new WalsOptions { Factors = k, Transform = ConfidenceTransform.Power, Exponent = 0.7f, Alpha = 1f, Epsilon = 2f, Regularization = 0.2f, RegularizationExponent = 1f, Threads = 2 };
    }

    private static (CsrMatrix R, float[] Y, float[] X) Problem(int seed, int users, int items, int k)
    {
        var random = new Random(seed);
        var r = DenseReference.RandomMatrix(random, users, items, 0.3, allowNegative: true);
        var y = Enumerable.Range(0, items * k).Select(_ => (float)(random.NextDouble() - 0.3)).ToArray();
        var x = Enumerable.Range(0, users * k).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray();
        return (r, y, x);
    }

    private static double[] Gram(float[] y, int rows, int k)
    {
        var g = new double[k * k];
        ScalarKernels.AddGram(y, rows, k, g);
        return g;
    }

    private static void AssertClose(double[] expected, float[] actual, double relative)
    {
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Length; i++)
        {
            var tolerance = relative * Math.Max(scale, 1e-3);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                $"Entry {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance:g3}).");
        }
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Cholesky_half_step_matches_the_dense_solution(int seed, int users, int items, int k)
    {
        foreach (var options in OptionVariants(k))
        {
            var o = options with { Solver = WalsSolver.Cholesky };
            var (r, y, x) = Problem(seed, users, items, k);
            var (c, p) = DenseReference.DenseWeights(r, o);
            var expected = DenseReference.SolveRows(c, p, y, k, o, DenseReference.RowCounts(r));
            HalfStep.Solve(WeightedInteractions.Build(r, o), y, Gram(y, items, k), x, items, o);
            AssertClose(expected, x, 1e-4);
        }
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Conjugate_gradient_with_k_steps_matches_the_dense_solution(int seed, int users, int items, int k)
    {
        foreach (var preconditioner in new[] { CgPreconditioner.None, CgPreconditioner.Jacobi })
        {
            foreach (var options in OptionVariants(k))
            {
                // In exact arithmetic CG converges in k steps. In float, the Jacobi-preconditioned CG (the default)
                // does so here; plain CG on the worse-conditioned systems loses conjugacy and needs more steps.
                var steps = preconditioner == CgPreconditioner.Jacobi ? k : 3 * k;
                var o = options with { Solver = WalsSolver.ConjugateGradient, CgSteps = steps, CgPreconditioner = preconditioner };
                var (r, y, x) = Problem(seed, users, items, k);
                var (c, p) = DenseReference.DenseWeights(r, o);
                var expected = DenseReference.SolveRows(c, p, y, k, o, DenseReference.RowCounts(r));
                HalfStep.Solve(WeightedInteractions.Build(r, o), y, Gram(y, items, k), x, items, o);
                AssertClose(expected, x, 1e-3);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Conjugate_gradient_with_k_steps_equals_cholesky(int seed, int users, int items, int k)
    {
        var o = new WalsOptions { Factors = k, Regularization = 0.1f, Alpha = 2f, Threads = 2 };
        var (r, y, x) = Problem(seed, users, items, k);
        var xCholesky = (float[])x.Clone();
        var rows = WeightedInteractions.Build(r, o);
        HalfStep.Solve(rows, y, Gram(y, items, k), xCholesky, items, o with { Solver = WalsSolver.Cholesky });
        HalfStep.Solve(rows, y, Gram(y, items, k), x, items, o with { CgSteps = k });
        AssertClose(xCholesky.Select(v => (double)v).ToArray(), x, 1e-3);
    }

    [Fact]
    public void Unpreconditioned_cg_in_the_eigenbasis_follows_plain_cg_in_the_original_basis()
    {
        // CG is invariant under an orthogonal change of basis: three steps in the eigenbasis of G give the
        // iterates of textbook CG on A_u = w0 G + sum (c - w0) y y^T + lambda I, formed densely here.
        const int k = 12;
        var o = new WalsOptions { Factors = k, CgSteps = 3, CgPreconditioner = CgPreconditioner.None, Regularization = 0.1f, Threads = 1 };
        var (r, y, x) = Problem(9, 10, 30, k);
        var rows = WeightedInteractions.Build(r, o);
        var gram = Gram(y, 30, k);
        var expected = new double[x.Length];
        for (var u = 0; u < r.Rows; u++)
        {
            var a = new double[k * k];
            var b = new double[k];
            for (var i = 0; i < k * k; i++)
            {
                a[i] = o.UnobservedWeight * gram[i];
            }
            for (var i = 0; i < k; i++)
            {
                a[i * k + i] += o.Regularization;
            }
            for (var e = r.RowStart[u]; e < r.RowStart[u + 1]; e++)
            {
                var item = r.ColumnIndex[e];
                for (var s = 0; s < k; s++)
                {
                    b[s] += rows.Cp[e] * y[item * k + s];
                    for (var t = 0; t < k; t++)
                    {
                        a[s * k + t] += rows.Cw[e] * y[item * k + s] * y[item * k + t];
                    }
                }
            }
            var xu = Enumerable.Range(0, k).Select(s => (double)x[u * k + s]).ToArray();
            var res = Enumerable.Range(0, k).Select(s => b[s] - Enumerable.Range(0, k).Sum(t => a[s * k + t] * xu[t])).ToArray();
            var dir = (double[])res.Clone();
            var rr = res.Sum(v => v * v);
            for (var step = 0; step < 3; step++)
            {
                var ad = Enumerable.Range(0, k).Select(s => Enumerable.Range(0, k).Sum(t => a[s * k + t] * dir[t])).ToArray();
                var alpha = rr / dir.Zip(ad, (d1, d2) => d1 * d2).Sum();
                for (var s = 0; s < k; s++)
                {
                    xu[s] += alpha * dir[s];
                    res[s] -= alpha * ad[s];
                }
                var rrNew = res.Sum(v => v * v);
                for (var s = 0; s < k; s++)
                {
                    dir[s] = res[s] + rrNew / rr * dir[s];
                }
                rr = rrNew;
            }
            Array.Copy(xu, 0, expected, u * k, k);
        }
        HalfStep.Solve(rows, y, gram, x, 30, o);
        AssertClose(expected, x, 2e-3);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(130)]
    public void Cg_reading_rows_in_place_equals_cg_on_gathered_rows(int k)
    {
        var o = new WalsOptions { Factors = k, CgSteps = 3, Regularization = 0.1f, Threads = 2 };
        var (r, y, x) = Problem(13, 9, 50, k);
        var rows = WeightedInteractions.Build(r, o);
        var eig = Enumerable.Range(0, k).Select(i => 0.5f + i).ToArray();
        var gathered = (float[])x.Clone();
        var inPlace = (float[])x.Clone();
        var a = HalfStep.SolveConjugateGradientInEigenbasis(rows, y, eig, gathered, 50, o, HalfStep.MaxGatherFloats);
        var b = HalfStep.SolveConjugateGradientInEigenbasis(rows, y, eig, inPlace, 50, o, maxGatherFloats: 0);
        AssertClose(gathered.Select(v => (double)v).ToArray(), inPlace, 1e-5);
        Assert.Equal(a.ObservedLoss, b.ObservedLoss, Math.Abs(a.ObservedLoss) * 1e-6);
    }

    [Theory]
    [InlineData(GatherPrecision.BFloat16, 7, 3)]
    [InlineData(GatherPrecision.BFloat16, 64, 3)]
    [InlineData(GatherPrecision.BFloat16, 130, 2)]
    [InlineData(GatherPrecision.Int8, 8, 1)]
    [InlineData(GatherPrecision.Int8, 37, 2)]
    public void Cg_on_rounded_gathers_equals_float32_cg_on_the_widened_rows(GatherPrecision precision, int k, int seed)
    {
        var o = new WalsOptions { Factors = k, CgSteps = 3, Regularization = 0.1f, Threads = 2 };
        var (r, y, x) = Problem(seed, 9, 50, k);
        var rows = WeightedInteractions.Build(r, o);
        var eig = Enumerable.Range(0, k).Select(i => 0.5f + i).ToArray();
        var widened = Widened(precision, y, k, eig);
        Assert.NotEqual(y, widened);
        var onWidened = (float[])x.Clone();
        var rounded = (float[])x.Clone();
        var a = HalfStep.SolveConjugateGradientInEigenbasis(rows, widened, eig, onWidened, 50, o);
        var b = HalfStep.SolveConjugateGradientInEigenbasis(rows, y, eig, rounded, 50, o with { GatherPrecision = precision });
        BFloat16Kernels.ReleaseCopy(y);
        Int8Kernels.ReleaseCopy(y);
        // The same rows (widened as the gathers widen them) and the same float32 arithmetic: the same bits.
        Assert.Equal(onWidened, rounded);
        Assert.Equal(a.ObservedLoss, b.ObservedLoss);
    }

    /// <summary>The fixed rows as a rounded gather reads them, widened by the scalar references.</summary>
    private static float[] Widened(GatherPrecision precision, float[] y, int k, float[] eig)
    {
        if (precision == GatherPrecision.BFloat16)
        {
            return y.Select(v => ScalarKernels.FromBFloat16(ScalarKernels.ToBFloat16(v))).ToArray();
        }
        var copy = Int8Kernels.QuantizeParallel(y, k, 1, eig);
        var widened = new float[y.Length];
        for (var i = 0; i < y.Length / k; i++)
        {
            ScalarKernels.WidenInt8(copy.Values.AsSpan(i * k, k), copy.RowScales[i], copy.ColumnScales, widened.AsSpan(i * k, k));
        }
        return widened;
    }

    [Theory]
    [InlineData(GatherPrecision.BFloat16)]
    [InlineData(GatherPrecision.Int8)]
    public void Training_with_rounded_gathers_reaches_the_float32_objective_and_repeats_bit_for_bit(GatherPrecision precision)
    {
        var random = new Random(21);
        var r = DenseReference.RandomMatrix(random, 60, 80, 0.2, allowNegative: false);
        var o = new WalsOptions { Factors = 16, Iterations = 8, Regularization = 0.1f, Alpha = 2f, Threads = 2 };
        var exact = new WalsTrainer(o).Train(r);
        var rounded = new WalsTrainer(o with { GatherPrecision = precision }).Train(r);
        Assert.NotEqual(exact.UserFactors, rounded.UserFactors);
        Assert.Equal(exact.FinalLoss, rounded.FinalLoss, Math.Abs(exact.FinalLoss) * 2e-3);
        Assert.True(rounded.History.Zip(rounded.History.Skip(1)).All(pair => pair.Second.Loss <= pair.First.Loss * (1 + 1e-4)),
            $"The objective rose between iterations with {precision} gathers.");
        // The int8 column scales come from the eigenvalues, so they must not depend on how the threads shared the Gram matrix.
        var again = new WalsTrainer(o with { GatherPrecision = precision }).Train(r);
        Assert.Equal(rounded.UserFactors, again.UserFactors);
        Assert.Equal(rounded.ItemFactors, again.ItemFactors);
    }

    [Fact]
    public void Loss_terms_of_a_half_step_match_the_dense_objective()
    {
        const int k = 5;
        var o = new WalsOptions { Factors = k, Regularization = 0.3f, RegularizationExponent = 0.5f, UnobservedWeight = 0.7f, Threads = 2 };
        var (r, y, x) = Problem(11, 8, 14, k);
        var users = WeightedInteractions.Build(r, o);
        var items = users.Transpose();
        var (c, p) = DenseReference.DenseWeights(r, o);
        var expected = DenseReference.Loss(c, p, x, y, k, o, DenseReference.RowCounts(r), DenseReference.RowCounts(r.Transpose()));
        var direct = WalsTrainer.Loss(users, items, x, y, o);
        Assert.Equal(expected, direct, expected * 1e-5);
        foreach (var solver in new[] { WalsSolver.Cholesky, WalsSolver.ConjugateGradient })
        {
            var step = HalfStep.Solve(users, y, Gram(y, 14, k), (float[])x.Clone(), 14, o with { Solver = solver });
            var fromStep = step.LossBefore + WalsTrainer.RegularizationOf(items, y, 8, o);
            Assert.Equal(expected, fromStep, expected * 1e-4);
        }
    }

    [Fact]
    public void A_non_finite_factor_stops_the_half_step_with_an_error()
    {
        const int k = 4;
        var (r, y, x) = Problem(3, 5, 9, k);
        y[7] = float.NaN;
        foreach (var solver in new[] { WalsSolver.Cholesky, WalsSolver.ConjugateGradient })
        {
            var o = new WalsOptions { Factors = k, Solver = solver, Threads = 1 };
            var gram = Gram(y, 9, k);
            Assert.ThrowsAny<Exception>(() => HalfStep.Solve(WeightedInteractions.Build(r, o), y, gram, (float[])x.Clone(), 9, o));
        }
    }

    [Fact]
    public void Transposed_weights_follow_their_entries()
    {
        var o = new WalsOptions { Factors = 2 };
        var r = DenseReference.RandomMatrix(new Random(5), 13, 17, 0.4, allowNegative: true);
        var w = WeightedInteractions.Build(r, o);
        var t = w.Transpose();
        var direct = WeightedInteractions.Build(r.Transpose(), o);
        Assert.Equal(direct.Cw, t.Cw);
        Assert.Equal(direct.Cp, t.Cp);
    }
}
