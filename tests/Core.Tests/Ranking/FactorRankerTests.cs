using System.Diagnostics;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Sparse;
using Xunit.Abstractions;

namespace WalsCluster.Core.Tests.Ranking;

public sealed class FactorRankerTests(ITestOutputHelper output)
{
    private static double Dot(float[] x, int xRow, float[] y, int yRow, int k)
    {
        double sum = 0;
        for (var f = 0; f < k; f++)
        {
            sum += (double)x[xRow * k + f] * y[yRow * k + f];
        }
        return sum;
    }

    private static ScoredItem[] FullSort(float[] scores, int k, ISet<int> exclude) =>
        scores.Select((s, i) => new ScoredItem(i, s)).Where(x => !exclude.Contains(x.Item))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Item).Take(k).ToArray();

    public static IEnumerable<object[]> Sizes() =>
    [
        [5, 0, 3, 4],      // no items at all
        [5, 10, 4, 0],     // k = 0
        [7, 12, 1, 30],    // k larger than the items
        [9, 17, 257, 5],   // factors past a vector multiple, items past a panel
        [33, 100, 64, 10], // users past a block
        [70, 1000, 13, 25],
    ];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Batch_top_k_equals_the_single_user_path_and_a_full_sort_of_its_scores(int users, int items, int k, int topK)
    {
        var random = new Random(users * 7 + items + k);
        var x = TestData.RandomFactors(random, users * k);
        var y = TestData.RandomFactors(random, items * k);
        var train = TestData.RandomMatrix(random, users, items, 0.2);
        var ranker = new FactorRanker(x, users, y, items, k);
        var all = Enumerable.Range(0, users).ToArray();

        var batch = ranker.RecommendBatch(all, topK, train, new RecommendOptions { Threads = 2 });

        Assert.Equal(users, batch.Length);
        for (var u = 0; u < users; u++)
        {
            var single = ranker.Recommend(u, topK, train);
            Assert.Equal(single, batch[u]);

            var scores = new float[items];
            ranker.ScoreItems(x.AsSpan(u * k, k), scores);
            var trainItems = train.RowIndices(u).ToArray().ToHashSet();
            Assert.Equal(FullSort(scores, topK, trainItems), single);
            Assert.Equal(Math.Min(topK, items - trainItems.Count), single.Length);
            for (var i = 0; i < items; i++)
            {
                Assert.Equal(Dot(x, u, y, i, k), scores[i], 1e-4);
            }
        }
    }

    [Fact]
    public void Training_items_are_excluded_by_default_and_included_when_asked()
    {
        // k = 1: score = item value; the user has item 2 (the best) in training.
        var ranker = new FactorRanker([1f], 1, [0.1f, 0.5f, 0.9f, 0.3f], 4, 1);
        var train = TestData.Rows(4, [2]);

        Assert.Equal([1, 3, 0], ranker.Recommend(0, 5, train).Select(s => s.Item));
        Assert.Equal([2, 1, 3, 0], ranker.Recommend(0, 5, train, new RecommendOptions { ExcludeTrainingItems = false }).Select(s => s.Item));
        Assert.Equal([3, 0], ranker.Recommend(0, 5, train, new RecommendOptions { Exclude = [1] }).Select(s => s.Item));
        Assert.Equal([2, 1, 3, 0], ranker.Recommend(0, 5).Select(s => s.Item));
        Assert.Equal(ranker.Recommend(0, 5, train, new RecommendOptions { Exclude = [1] }),
            ranker.RecommendBatch([0], 5, train, new RecommendOptions { Exclude = [1] })[0]);
    }

    [Fact]
    public void Equal_scores_rank_the_lower_item_index_first()
    {
        var ranker = new FactorRanker([1f], 1, [0.5f, 0.7f, 0.5f, 0.7f, 0.5f], 5, 1);
        Assert.Equal([1, 3, 0, 2], ranker.Recommend(0, 4).Select(s => s.Item));
    }

    [Fact]
    public void A_model_with_nan_factors_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new FactorRanker([1f, float.NaN], 1, [1f, 2f], 1, 2));
    }

    [Fact]
    public void Similar_items_are_ranked_by_cosine_without_the_item_itself()
    {
        var random = new Random(11);
        const int items = 60, k = 9;
        var y = TestData.RandomFactors(random, items * k);
        y.AsSpan(5 * k, k).Clear(); // a zero vector: cosine 0 with everything
        var ranker = new FactorRanker([], 0, y, items, k);

        for (var item = 0; item < items; item += 7)
        {
            var similar = ranker.SimilarItems(item, 8);
            Assert.DoesNotContain(similar, s => s.Item == item);
            var expected = Enumerable.Range(0, items).Where(j => j != item)
                .Select(j => (Item: j, Cos: Cosine(y, item, j, k)))
                .OrderByDescending(t => t.Cos).ThenBy(t => t.Item).Take(8).ToArray();
            Assert.Equal(expected.Select(t => t.Cos), similar.Select(s => (double)s.Score), new ToleranceComparer(1e-5));
        }
        Assert.All(ranker.SimilarItems(5, 3), s => Assert.Equal(0f, s.Score));
    }

    [Fact]
    public void Popularity_ranks_items_by_users_with_a_positive_interaction_and_excludes_training_items()
    {
        // Item 1: 3 users, item 0: 2 users, item 2: 1 positive and 1 disliked (negative) entry, item 3: none.
        var train = CsrMatrix.FromCoordinates(4, 4,
            [0, 1, 2, 0, 1, 3, 2],
            [1, 1, 1, 0, 0, 2, 2],
            [1f, 2f, 1f, 1f, 5f, 1f, -1f]);
        var popularity = new PopularityRecommender(train);

        Assert.Equal([2f, 3f, 1f, 0f], popularity.Popularity.ToArray());
        Assert.Equal([2, 3], popularity.Recommend(0, 5).Select(s => s.Item)); // user 0 has items 0 and 1
        Assert.Equal([1, 0, 2, 3], popularity.Recommend(0, 5, new RecommendOptions { ExcludeTrainingItems = false }).Select(s => s.Item));
        Assert.Equal([1, 0], popularity.Recommend(3, 2).Select(s => s.Item));
        var batch = popularity.RecommendBatch([0, 1, 2, 3], 5);
        for (var u = 0; u < 4; u++)
        {
            Assert.Equal(popularity.Recommend(u, 5), batch[u]);
        }
    }

    [Fact]
    public void Batch_top_10_of_2000_users_over_17632_items_with_64_factors_gives_every_user_10_items()
    {
        var random = new Random(2024);
        const int users = 2000, items = 17632, k = 64;
        var ranker = new FactorRanker(TestData.RandomFactors(random, users * k), users, TestData.RandomFactors(random, items * k), items, k);
        var train = TestData.RandomMatrix(random, users, items, 20.0 / items);
        var all = Enumerable.Range(0, users).ToArray();
        var options = new RecommendOptions { Threads = 2 };
        ranker.RecommendBatch(all[..64], 10, train, options); // warm-up (JIT)

        var best = double.MaxValue;
        ScoredItem[][]? result = null;
        for (var run = 0; run < 3; run++)
        {
            var watch = Stopwatch.StartNew();
            result = ranker.RecommendBatch(all, 10, train, options);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        var gflops = 2.0 * users * items * k / best / 1e9;
        output.WriteLine($"Batch top-10, {users} users x {items} items x {k} factors, 2 threads: {best * 1000:F0} ms ({gflops:F1} GFLOP/s)");

        // Speed is measured by the benchmarks in bench/, not asserted here; the time is only printed.
        Assert.All(result!, r => Assert.Equal(10, r.Length));
    }

    private static double Cosine(float[] y, int a, int b, int k)
    {
        double dot = 0, na = 0, nb = 0;
        for (var f = 0; f < k; f++)
        {
            dot += (double)y[a * k + f] * y[b * k + f];
            na += (double)y[a * k + f] * y[a * k + f];
            nb += (double)y[b * k + f] * y[b * k + f];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;

        public int GetHashCode(double value) => 0;
    }
}
