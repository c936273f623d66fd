using WalsCluster.Core.LinearAlgebra;

namespace WalsCluster.Core.Tests.LinearAlgebra;

public sealed class KernelTests
{
    private static float[] RandomVector(Random random, int n) =>
        Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    [Fact]
    public void Vector_kernels_equal_their_scalar_references_for_lengths_0_to_257()
    {
        var random = new Random(1);
        for (var n = 0; n <= 257; n++)
        {
            var a = RandomVector(random, n);
            var b = RandomVector(random, n);
            Assert.Equal(ScalarKernels.Dot(a, b), VectorKernels.Dot(a, b), 1e-4f * Math.Max(1, n));

            var y1 = RandomVector(random, n);
            var y2 = (float[])y1.Clone();
            ScalarKernels.Axpy(0.37f, a, y1);
            VectorKernels.Axpy(0.37f, a, y2);
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(y1[i], y2[i], 1e-5f);
            }

            var (b1, q1, d1) = (RandomVector(random, n), RandomVector(random, n), RandomVector(random, n));
            var (b2, q2, d2) = ((float[])b1.Clone(), (float[])q1.Clone(), (float[])d1.Clone());
            var t1 = ScalarKernels.FirstPassEntry(a, b, 1.5f, -0.25f, b1, q1, d1);
            var copy = new float[n];
            var t2 = VectorKernels.FirstPassEntry(a, b, 1.5f, -0.25f, b2, q2, d2, copy);
            Assert.Equal(a, copy);
            Assert.Equal(t1, t2, 1e-4f * Math.Max(1, n));
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(b1[i], b2[i], 1e-4f);
                Assert.Equal(q1[i], q2[i], 1e-3f);
                Assert.Equal(d1[i], d2[i], 1e-4f);
            }
        }
    }

    [Fact]
    public void Squared_norm_equals_its_scalar_reference_and_is_finite_exactly_when_every_entry_is()
    {
        var random = new Random(3);
        for (var n = 0; n <= 257; n++)
        {
            var x = RandomVector(random, n);
            var expected = ScalarKernels.SquaredNorm(x);
            Assert.Equal(expected, VectorKernels.SquaredNorm(x), 1e-12 * Math.Max(1, expected));
            if (n == 0)
            {
                continue;
            }
            var at = random.Next(n);
            x[at] = float.MaxValue;
            Assert.True(double.IsFinite(VectorKernels.SquaredNorm(x)));
            foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                var y = (float[])x.Clone();
                y[random.Next(n)] = bad;
                Assert.False(double.IsFinite(VectorKernels.SquaredNorm(y)), $"n {n}, {bad}");
            }
        }
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(4, 8)]
    [InlineData(5, 31)]
    [InlineData(9, 32)]
    [InlineData(7, 64)]
    [InlineData(13, 100)]
    [InlineData(2, 257)]
    public void Blocked_row_kernels_equal_their_scalar_references(int n, int k)
    {
        var random = new Random(n * 7 + k);
        var rows = RandomVector(random, n * k);
        var p = RandomVector(random, k);
        var s = RandomVector(random, n);
        var t1 = new float[n];
        var t2 = new float[n];
        ScalarKernels.RowDots(rows, n, k, p, t1);
        VectorKernels.RowDots(rows, n, k, p, t2);
        for (var j = 0; j < n; j++)
        {
            Assert.Equal(t1[j], t2[j], 1e-4f * k);
        }
        foreach (var squares in new[] { false, true })
        {
            var q1 = RandomVector(random, k);
            var q2 = (float[])q1.Clone();
            ScalarKernels.AddWeightedRows(rows, n, k, s, q1, squares);
            VectorKernels.AddWeightedRows(rows, n, k, s, q2, squares);
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(q1[i], q2[i], 1e-4f * Math.Max(1, n));
            }
        }
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(13, 8)]
    [InlineData(50, 16)]
    [InlineData(49, 17)]
    [InlineData(100, 33)]
    [InlineData(61, 64)]
    [InlineData(20, 100)]
    [InlineData(9, 257)]
    public void Matrix_kernels_equal_their_scalar_references(int rows, int k)
    {
        var random = new Random(rows * 1000 + k);
        var a = RandomVector(random, rows * k);
        var m = RandomVector(random, k * k);
        var expected = new float[rows * k];
        ScalarKernels.Multiply(a, rows, k, m, expected);
        var actual = new float[rows * k];
        MatrixKernels.Multiply(a, rows, k, m, actual);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-4f * k);
        }
        var inPlace = (float[])a.Clone();
        MatrixKernels.MultiplyInPlace(inPlace, rows, k, m, threads: 2);
        Assert.Equal(actual, inPlace);

        var gExpected = new double[k * k];
        ScalarKernels.AddGram(a, rows, k, gExpected);
        var gSerial = new double[k * k];
        MatrixKernels.AddGram(a, rows, k, gSerial);
        var gParallel = new double[k * k];
        MatrixKernels.AddGram(a, rows, k, gParallel, threads: 2);
        for (var i = 0; i < gExpected.Length; i++)
        {
            Assert.Equal(gExpected[i], gSerial[i], 1e-4 * Math.Max(1, rows));
            Assert.Equal(gExpected[i], gParallel[i], 1e-4 * Math.Max(1, rows));
        }
    }

    [Fact]
    public void The_parallel_gram_depends_on_the_thread_count_only()
    {
        const int rows = 256 * 37 + 11, k = 24;
        var a = RandomVector(new Random(4), rows * k);
        foreach (var threads in new[] { 1, 2, 3 })
        {
            var first = new double[k * k];
            MatrixKernels.AddGram(a, rows, k, first, threads);
            for (var run = 0; run < 4; run++)
            {
                var again = new double[k * k];
                MatrixKernels.AddGram(a, rows, k, again, threads);
                Assert.Equal(first, again);
            }
        }
    }

    [Fact]
    public void Cholesky_solves_a_positive_definite_system_and_rejects_an_indefinite_one()
    {
        var a = new double[] { 4, 2, 0.4, 2, 5, 1, 0.4, 1, 3 };
        var b = new double[] { 1, 2, 3 };
        var copy = (double[])a.Clone();
        var x = (double[])b.Clone();
        Assert.True(Dense.CholeskySolveInPlace(copy, 3, x));
        for (var i = 0; i < 3; i++)
        {
            var s = 0.0;
            for (var j = 0; j < 3; j++)
            {
                s += a[i * 3 + j] * x[j];
            }
            Assert.Equal(b[i], s, 1e-10);
        }
        var indefinite = new double[] { 1, 2, 2, 1 };
        Assert.False(Dense.CholeskySolveInPlace(indefinite, 2, new double[] { 1, 1 }));
    }

    [Fact]
    public void Symmetric_eigendecomposition_reconstructs_the_matrix()
    {
        const int k = 9;
        var random = new Random(3);
        var a = RandomVector(random, 30 * k);
        var g = new double[k * k];
        ScalarKernels.AddGram(a, 30, k, g);
        var (q, values) = Dense.SymmetricEigen(g, k);
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                double s = 0;
                for (var p = 0; p < k; p++)
                {
                    s += (double)q[i * k + p] * values[p] * q[j * k + p];
                }
                Assert.Equal(g[i * k + j], s, 1e-4 * Math.Abs(g[0]));
            }
        }
    }
}

public sealed class CgKernelTests
{
    private static float[] V(Random random, int n, float lo = -1, float hi = 1) =>
        Enumerable.Range(0, n).Select(_ => lo + (float)random.NextDouble() * (hi - lo)).ToArray();

    [Fact]
    public void Fused_cg_kernels_equal_their_scalar_references_for_lengths_0_to_257()
    {
        var random = new Random(77);
        for (var k = 0; k <= 257; k++)
        {
            foreach (var jacobi in new[] { false, true })
            {
                var (eig, b, q, d, x) = (V(random, k, 0, 5), V(random, k), V(random, k), V(random, k, 0, 2), V(random, k));
                var s = (d0: new float[k], r: new float[k], m: new float[k], z: new float[k], p: new float[k]);
                var v = (d0: new float[k], r: new float[k], m: new float[k], z: new float[k], p: new float[k]);
                var expected = CgScalarKernels.Start(eig, 0.7f, 0.1f, jacobi, 0.1f, b, q, d, x, s.d0, s.r, s.m, s.z, s.p);
                var actual = CgKernels.Start(eig, 0.7f, 0.1f, jacobi, 0.1f, b, q, d, x, v.d0, v.r, v.m, v.z, v.p);
                Assert.Equal(expected.Rz, actual.Rz, 1e-3f * Math.Max(1, Math.Abs(expected.Rz)));
                Assert.Equal(expected.EigXX, actual.EigXX, 1e-3f * Math.Max(1, expected.EigXX));
                Assert.Equal(expected.XX, actual.XX, 1e-3f * Math.Max(1, expected.XX));
                AssertClose(s.d0, v.d0);
                AssertClose(s.r, v.r);
                AssertClose(s.m, v.m);
                AssertClose(s.z, v.z);
                AssertClose(s.p, v.p);

                var ap1 = new float[k];
                var ap2 = new float[k];
                CgScalarKernels.Direction(false, 0.3f, s.z, s.d0, s.p, ap1);
                CgKernels.Direction(false, 0.3f, s.z, s.d0, v.p, ap2);
                AssertClose(s.p, v.p);
                AssertClose(ap1, ap2);

                var (x1, x2) = ((float[])x.Clone(), (float[])x.Clone());
                var r1 = CgScalarKernels.Update(0.4f, s.p, ap1, s.m, x1, s.r, s.z);
                var r2 = CgKernels.Update(0.4f, s.p, ap1, s.m, x2, v.r, v.z);
                Assert.Equal(r1, r2, 1e-3f * Math.Max(1, Math.Abs(r1)));
                AssertClose(x1, x2);
                AssertClose(s.r, v.r);
                AssertClose(s.z, v.z);
            }
        }
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-4f * Math.Max(1, Math.Abs(expected[i])));
        }
    }
}

public sealed class FactorArraysTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(3_000_000)]
    public void Factor_arrays_are_zeroed_and_of_the_requested_length(int count)
    {
        var a = FactorArrays.Allocate(count);
        Assert.Equal(count, a.Length);
        Assert.All(a, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Large_factor_arrays_are_advised_to_use_huge_pages_on_linux()
    {
        var before = FactorArrays.HugePagesAdvised;
        FactorArrays.Allocate(4_000_000);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(FactorArrays.HugePagesAdvised > before, "madvise(MADV_HUGEPAGE) was not accepted for a 16 MB array.");
        }
        else
        {
            Assert.Equal(before, FactorArrays.HugePagesAdvised);
        }
    }
}
