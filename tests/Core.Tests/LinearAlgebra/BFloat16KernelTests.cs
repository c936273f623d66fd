using WalsCluster.Core.LinearAlgebra;

namespace WalsCluster.Core.Tests.LinearAlgebra;

public sealed class BFloat16KernelTests
{
    [Theory]
    [InlineData(0x3F800000u, 0x3F80)] // 1
    [InlineData(0xC0000000u, 0xC000)] // -2
    [InlineData(0x00000000u, 0x0000)]
    [InlineData(0x80000000u, 0x8000)] // -0
    [InlineData(0x3F808000u, 0x3F80)] // halfway between 0x3F80 (even) and 0x3F81: ties go to even
    [InlineData(0x3F818000u, 0x3F82)] // halfway between 0x3F81 (odd) and 0x3F82 (even)
    [InlineData(0x3F808001u, 0x3F81)] // just above halfway rounds up
    [InlineData(0x3F807FFFu, 0x3F80)] // just below halfway rounds down
    [InlineData(0xBF7FFFFFu, 0xBF80)] // the carry moves into the exponent: -0.99999994 rounds to -1
    public void Rounding_is_to_nearest_even(uint bits, int expected)
    {
        var value = BitConverter.UInt32BitsToSingle(bits);
        Assert.Equal((ushort)expected, ScalarKernels.ToBFloat16(value));
        var rounded = new ushort[1];
        BFloat16Kernels.Round([value], rounded);
        Assert.Equal((ushort)expected, rounded[0]);
        // And in the vector path (16 at a time).
        var many = new ushort[16];
        BFloat16Kernels.Round(Enumerable.Repeat(value, 16).ToArray(), many);
        Assert.All(many, h => Assert.Equal((ushort)expected, h));
    }

    [Fact]
    public void Round_and_widen_equal_their_scalar_references_for_lengths_0_to_257()
    {
        var random = new Random(5);
        for (var n = 0; n <= 257; n++)
        {
            var values = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-6, 6)))).ToArray();
            var rounded = new ushort[n];
            BFloat16Kernels.Round(values, rounded);
            var widened = new float[n + 1];
            widened[n] = 12345f;
            if (n > 0)
            {
                BFloat16Kernels.Widen(ref rounded[0], ref widened[0], n);
            }
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(ScalarKernels.ToBFloat16(values[i]), rounded[i]);
                Assert.Equal(ScalarKernels.FromBFloat16(rounded[i]), widened[i]);
                // Round to nearest with 8 significant bits: the relative error is at most 2^-8.
                Assert.True(Math.Abs(widened[i] - values[i]) <= Math.Abs(values[i]) * (1.0 / 256),
                    $"n {n}, entry {i}: {values[i]} rounded to {widened[i]}");
            }
            Assert.Equal(12345f, widened[n]);
        }
    }

    [Fact]
    public void Round_parallel_keeps_one_copy_per_array_until_released()
    {
        var values = Enumerable.Range(0, 70_000).Select(i => MathF.Sin(i) * 3).ToArray();
        var first = BFloat16Kernels.RoundParallel(values, 2);
        Assert.Equal(values.Select(ScalarKernels.ToBFloat16), first);
        values[69_999] = 1f;
        var second = BFloat16Kernels.RoundParallel(values, 2);
        Assert.Same(first, second);
        Assert.Equal(0x3F80, second[69_999]);
        BFloat16Kernels.ReleaseCopy(values);
        Assert.NotSame(first, BFloat16Kernels.RoundParallel(values, 1));
    }
}
