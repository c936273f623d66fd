using WalsCluster.Core.Ranking;

namespace WalsCluster.Core.Tests.Ranking;

public sealed class ScoreKernelTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // Users around the 4-row tile, items around the 16-wide panel.
        int[] ms = [0, 1, 3, 4, 5, 9];
        int[] ns = [0, 1, 15, 16, 17, 40];
        var random = new Random(1);
        foreach (var m in ms)
        {
            foreach (var n in ns)
            {
                yield return [m, n, random.Next(1, 258)];
            }
        }
    }

    [Fact]
    public void Tiled_kernel_matches_the_scalar_reference_for_every_factor_count_from_1_to_257()
    {
        var random = new Random(7);
        for (var k = 1; k <= 257; k++)
        {
            const int m = 6, n = 21;
            AssertMatchesReference(random, m, n, k);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Tiled_kernel_matches_the_scalar_reference_at_edge_shapes(int m, int n, int k) =>
        AssertMatchesReference(new Random(m * 1000 + n * 10 + k), m, n, k);

    [Fact]
    public void One_row_scored_alone_is_bit_identical_to_the_same_row_in_a_tile()
    {
        var random = new Random(3);
        const int k = 37, n = 50;
        var users = TestData.RandomFactors(random, 4 * k);
        var items = new PackedPanels(TestData.RandomFactors(random, n * k), n, k);
        var tile = new float[4 * items.PaddedRowCount];
        ScoreKernels.ScoreRows(users, 4, items, 0, items.PanelCount, tile, items.PaddedRowCount);
        for (var r = 0; r < 4; r++)
        {
            var alone = new float[items.PaddedRowCount];
            ScoreKernels.ScoreRows(users.AsSpan(r * k, k), 1, items, 0, items.PanelCount, alone, items.PaddedRowCount);
            Assert.Equal(tile.AsSpan(r * items.PaddedRowCount, items.PaddedRowCount).ToArray(), alone);
        }
    }

    private static void AssertMatchesReference(Random random, int m, int n, int k)
    {
        var a = TestData.RandomFactors(random, m * k);
        var b = TestData.RandomFactors(random, n * k);
        var fast = new float[m * n];
        var reference = new float[m * n];
        ScoreKernels.MultiplyTransposed(a, b, fast, m, n, k);
        ScoreKernels.MultiplyTransposedReference(a, b, reference, m, n, k);
        for (var u = 0; u < m; u++)
        {
            for (var i = 0; i < n; i++)
            {
                // Tolerance: both sums round k products in float; the error is bounded by k * eps * sum |a_f b_f|.
                double magnitude = 0;
                for (var f = 0; f < k; f++)
                {
                    magnitude += Math.Abs(a[u * k + f] * b[i * k + f]);
                }
                var tolerance = 2 * k * 6e-8 * magnitude + 1e-7;
                Assert.True(Math.Abs(fast[u * n + i] - reference[u * n + i]) <= tolerance,
                    $"m={m} n={n} k={k} ({u},{i}): kernel {fast[u * n + i]} vs reference {reference[u * n + i]}, tolerance {tolerance}");
            }
        }
    }
}
