using WalsCluster.Core.LinearAlgebra;

namespace WalsCluster.Core.Tests.LinearAlgebra;

public sealed class Int8KernelTests
{
    [Fact]
    public void Quantize_and_widen_equal_their_scalar_references_for_lengths_0_to_257()
    {
        var random = new Random(7);
        for (var n = 0; n <= 257; n++)
        {
            var row = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-3, 3)))).ToArray();
            var columnScales = Enumerable.Range(0, n).Select(_ => (float)Math.Pow(10, random.NextDouble() * 4 - 2)).ToArray();
            var inverse = columnScales.Select(s => 1f / s).ToArray();
            var expected = new sbyte[n];
            var actual = new sbyte[n];
            var expectedScale = ScalarKernels.QuantizeInt8(row, inverse, expected);
            var scale = Int8Kernels.Quantize(row, inverse, actual);
            Assert.Equal(expectedScale, scale);
            Assert.Equal(expected, actual);
            if (n > 0)
            {
                // The largest |y_j / s_j| maps to +-127.
                Assert.Equal(127, actual.Max(q => Math.Abs((int)q)));
            }

            var widened = new float[n + 1];
            widened[n] = 12345f;
            var reference = new float[n];
            ScalarKernels.WidenInt8(actual, scale, columnScales, reference);
            if (n > 0)
            {
                Int8Kernels.Widen(ref actual[0], scale, ref columnScales[0], ref widened[0], n);
            }
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(reference[i], widened[i]);
                // Half a step of the row's scale in the column's units, and a little for the float arithmetic.
                var bound = 0.5 * scale * columnScales[i] * (1 + 1e-5) + 1e-6 * Math.Abs(row[i]);
                Assert.True(Math.Abs(widened[i] - row[i]) <= bound, $"n {n}, entry {i}: {row[i]} became {widened[i]} (bound {bound})");
            }
            Assert.Equal(12345f, widened[n]);
        }
    }

    [Theory]
    [InlineData(float.NaN, 0)]
    [InlineData(float.PositiveInfinity, 3)]
    [InlineData(float.NegativeInfinity, 17)]
    [InlineData(float.NaN, 39)]
    public void A_non_finite_fixed_row_stops_the_copy(float bad, int at)
    {
        const int k = 40;
        var values = Enumerable.Range(0, 3 * k).Select(i => MathF.Sin(i)).ToArray();
        values[k + at] = bad;
        var error = Assert.Throws<WalsCluster.Core.Wals.NonFiniteFactorsException>(() => Int8Kernels.QuantizeParallel(values, k, 1));
        Assert.Contains("row 1", error.Message);
        Int8Kernels.ReleaseCopy(values);
    }

    [Fact]
    public void A_zero_row_quantizes_to_zeros_with_scale_zero()
    {
        var q = new sbyte[40];
        Assert.Equal(0f, Int8Kernels.Quantize(new float[40], Enumerable.Repeat(1f, 40).ToArray(), q));
        Assert.All(q, v => Assert.Equal(0, v));
    }

    [Fact]
    public void Column_scales_are_the_columns_root_mean_squares_given_or_computed_and_a_zero_column_gets_one()
    {
        const int rows = 3000, k = 5;
        var random = new Random(2);
        var values = new float[rows * k];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < k - 1; j++)
            {
                // Column j spreads about 10^(j - 2): the scales must follow it.
                values[i * k + j] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, j - 2));
            }
        }
        var sums = new double[k];
        for (var i = 0; i < rows * k; i++)
        {
            sums[i % k] += (double)values[i] * values[i];
        }
        var computed = Int8Kernels.QuantizeParallel(values, k, 2);
        var computedScales = (float[])computed.ColumnScales.Clone();
        for (var j = 0; j < k - 1; j++)
        {
            Assert.Equal(Math.Sqrt(sums[j] / rows), computedScales[j], Math.Sqrt(sums[j] / rows) * 1e-5);
        }
        Assert.Equal(1f, computedScales[k - 1]);
        var given = Int8Kernels.QuantizeParallel(values, k, 2, sums.Select(v => (float)v).ToArray());
        Assert.Same(computed, given);
        for (var j = 0; j < k; j++)
        {
            Assert.Equal(computedScales[j], given.ColumnScales[j], computedScales[j] * 1e-5f);
        }
        // Every row widens back within half a step, and each copy is counted.
        var before = Int8Kernels.CopiesMade;
        var copy = Int8Kernels.QuantizeParallel(values, k, 1);
        Assert.Equal(before + 1, Int8Kernels.CopiesMade);
        var row = new float[k];
        for (var i = 0; i < rows; i++)
        {
            ScalarKernels.WidenInt8(copy.Values.AsSpan(i * k, k), copy.RowScales[i], copy.ColumnScales, row);
            for (var j = 0; j < k; j++)
            {
                Assert.True(Math.Abs(row[j] - values[i * k + j]) <= 0.5 * copy.RowScales[i] * copy.ColumnScales[j] * (1 + 1e-5) + 1e-7);
            }
        }
        Int8Kernels.ReleaseCopy(values);
        Assert.NotSame(copy, Int8Kernels.QuantizeParallel(values, k, 1));
        Int8Kernels.ReleaseCopy(values);
    }
}
