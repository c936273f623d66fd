using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.Tests;

public sealed class ProjectionTests
{
    private static (float[][] E, float[][] Y, float[] W, float[] B) LinearData(int n, int d, int k, double noise, int seed)
    {
        var rng = new Random(seed);
        double G() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var w = Enumerable.Range(0, d * k).Select(_ => (float)G()).ToArray();
        var b = Enumerable.Range(0, k).Select(_ => (float)(3 * G())).ToArray();
        var e = new float[n][];
        var y = new float[n][];
        for (int i = 0; i < n; i++)
        {
            e[i] = Enumerable.Range(0, d).Select(_ => (float)(G() + 0.5)).ToArray(); // not centred: the bias matters
            y[i] = new float[k];
            for (int c = 0; c < k; c++)
            {
                double acc = b[c];
                for (int a = 0; a < d; a++)
                {
                    acc += e[i][a] * w[a * k + c];
                }
                y[i][c] = (float)(acc + noise * G());
            }
        }
        return (e, y, w, b);
    }

    [Theory]
    [InlineData(200, 8, 3)]
    [InlineData(500, 32, 10)]
    [InlineData(50, 1, 1)]
    public void Fit_on_noiseless_linear_data_recovers_w_and_b(int n, int d, int k)
    {
        var (e, y, w, b) = LinearData(n, d, k, noise: 0, seed: n + d);
        var sums = new ProjectionSums(d, k);
        for (int i = 0; i < n; i++)
        {
            sums.Add(e[i], y[i]);
        }
        var p = RidgeProjection.Fit(sums, mu: 1e-6);
        // Tolerance 1e-3: float inputs, double sums, tiny ridge.
        for (int i = 0; i < w.Length; i++)
        {
            Assert.True(Math.Abs(w[i] - p.W[i]) < 1e-3, $"W[{i}] {w[i]} vs {p.W[i]}");
        }
        for (int c = 0; c < k; c++)
        {
            Assert.True(Math.Abs(b[c] - p.Bias[c]) < 1e-3, $"b[{c}] {b[c]} vs {p.Bias[c]}");
        }
        var projected = p.Apply(e[0]);
        for (int c = 0; c < k; c++)
        {
            Assert.True(Math.Abs(projected[c] - y[0][c]) < 1e-3);
        }
    }

    [Fact]
    public void Merged_partial_sums_equal_the_whole_data_sums()
    {
        var (e, y, _, _) = LinearData(300, 12, 5, noise: 0.1, seed: 3);
        var whole = new ProjectionSums(12, 5);
        var parts = Enumerable.Range(0, 4).Select(_ => new ProjectionSums(12, 5)).ToArray();
        for (int i = 0; i < e.Length; i++)
        {
            whole.Add(e[i], y[i]);
            parts[i % 4].Add(e[i], y[i]);
        }
        var merged = new ProjectionSums(12, 5);
        foreach (var part in parts)
        {
            merged.Add(ProjectionSums.FromBytes(part.ToBytes())); // as a coordinator receives them
        }
        AssertSameSums(whole, merged);
        // E^T E against a brute-force dense product.
        for (int a = 0; a < 12; a++)
        {
            for (int c = 0; c < 12; c++)
            {
                double dense = e.Sum(row => (double)row[a] * row[c]);
                Assert.Equal(dense, merged.EtE[a * 12 + c], 6);
            }
        }
        var p1 = RidgeProjection.Fit(whole, 0.5);
        var p2 = RidgeProjection.Fit(merged, 0.5);
        AssertClose(p1.W.Select(v => (double)v).ToArray(), p2.W.Select(v => (double)v).ToArray(), 1e-5);
    }

    /// <summary>Every accumulated sum of <paramref name="actual"/> equals <paramref name="expected"/>'s.</summary>
    private static void AssertSameSums(ProjectionSums expected, ProjectionSums actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        AssertClose(expected.SumE, actual.SumE);
        AssertClose(expected.SumY, actual.SumY);
        AssertClose(expected.EtE, actual.EtE);
        AssertClose(expected.EtY, actual.EtY);
        Assert.Equal(expected.SumYY, actual.SumYY, 6);
    }

    [Fact]
    public void A_weighted_pair_adds_what_that_many_copies_add()
    {
        var (e, y, _, _) = LinearData(40, 6, 3, noise: 0.2, seed: 9);
        var weighted = new ProjectionSums(6, 3);
        var copies = new ProjectionSums(6, 3);
        for (int i = 0; i < e.Length; i++)
        {
            var w = 1 + i % 5;
            weighted.Add(e[i], y[i], w);
            for (int c = 0; c < w; c++)
            {
                copies.Add(e[i], y[i]);
            }
        }
        AssertSameSums(copies, weighted);
        Assert.Throws<ArgumentOutOfRangeException>(() => weighted.Add(e[0], y[0], 0));
    }

    [Fact]
    public void Squared_error_from_sums_equals_the_row_by_row_error()
    {
        var (e, y, _, _) = LinearData(120, 6, 4, noise: 0.5, seed: 11);
        var sums = new ProjectionSums(6, 4);
        for (int i = 0; i < e.Length; i++)
        {
            sums.Add(e[i], y[i]);
        }
        var p = RidgeProjection.Fit(sums, 10);
        double direct = 0;
        for (int i = 0; i < e.Length; i++)
        {
            var yhat = p.Apply(e[i]);
            for (int c = 0; c < 4; c++)
            {
                direct += (yhat[c] - y[i][c]) * (double)(yhat[c] - y[i][c]);
            }
        }
        Assert.True(Math.Abs(direct - sums.SquaredError(p)) < 1e-6 * Math.Max(1, direct), $"{direct} vs {sums.SquaredError(p)}");
    }

    [Fact]
    public void Mu_selection_picks_a_small_mu_for_clean_data_and_a_large_one_for_noise()
    {
        // Clean, many rows: any shrinkage hurts, so the smallest candidate wins.
        var (e, y, _, _) = LinearData(400, 10, 3, noise: 0.01, seed: 5);
        var split = Enumerable.Range(0, 400).Select(i => i % 5 == 0).ToArray();
        var clean = ProjectionFitter.Fit(e, y, split);
        Assert.Equal(clean.Candidates.Min(c => c.Mu), clean.Mu);

        // Pure noise targets with few rows and many dimensions: the best map is (nearly) the constant mean.
        var rng = new Random(9);
        var noiseE = Enumerable.Range(0, 60).Select(_ => Enumerable.Range(0, 40).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
        var noiseY = Enumerable.Range(0, 60).Select(_ => new[] { (float)rng.NextDouble(), (float)rng.NextDouble() }).ToArray();
        var noisy = ProjectionFitter.Fit(noiseE, noiseY, Enumerable.Range(0, 60).Select(i => i % 3 == 0).ToArray());
        Assert.True(noisy.Mu >= noisy.Candidates[^3].Mu, $"mu {noisy.Mu}");
        var best = noisy.Candidates.Min(c => c.ValidationMse);
        Assert.Equal(best, noisy.Candidates.Single(c => c.Mu == noisy.Mu).ValidationMse);
        Assert.True(noisy.Candidates[0].ValidationMse > best * 1.5, "the least regularised candidate should overfit the noise");
    }

    [Fact]
    public void Projection_round_trips_through_bytes()
    {
        var (e, y, _, _) = LinearData(100, 5, 3, noise: 0.1, seed: 1);
        var sums = new ProjectionSums(5, 3);
        for (int i = 0; i < e.Length; i++)
        {
            sums.Add(e[i], y[i]);
        }
        var p = RidgeProjection.Fit(sums, 0.25);
        var q = RidgeProjection.FromBytes(p.ToBytes());
        Assert.Equal(p.W, q.W);
        Assert.Equal(p.Bias, q.Bias);
        Assert.Equal(0.25, q.Mu);
        Assert.Throws<InvalidDataException>(() => RidgeProjection.FromBytes(p.ToBytes().AsSpan(0, 30)));
    }

    [Fact]
    public void Bad_rows_and_too_few_items_are_rejected()
    {
        var sums = new ProjectionSums(2, 1);
        Assert.Throws<ArgumentException>(() => sums.Add([1f, float.NaN], [1f]));
        Assert.Throws<ArgumentException>(() => sums.Add([1f], [1f]));
        sums.Add([1f, 2f], [3f]);
        Assert.Throws<InvalidOperationException>(() => RidgeProjection.Fit(sums, 1));
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance = 1e-9)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
        }
    }
}
