using WalsCluster.Core.Metrics;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Tests.Ranking;

namespace WalsCluster.Core.Tests.Metrics;

public sealed class RankingMetricsTests
{
    // Six items 0..5, k = 3.
    // User 0: train {0}, test {1, 3}, recommended [2, 1, 4]: one hit, at position 1.
    // User 1: train {5}, test {0},    recommended [0, 3, 1]: one hit, at position 0.
    // User 2: train {1}, no test items: skipped by both definitions.

    private static (Func<int, IReadOnlyList<int>> Recommend, Core.Sparse.CsrMatrix Train, Core.Sparse.CsrMatrix Test) HandCase()
    {
        var train = TestData.Rows(6, [0], [5], [1]);
        var test = TestData.Rows(6, [1, 3], [0], []);
        int[][] lists = [[2, 1, 4], [0, 3, 1], [0, 2, 3]];
        return (u => lists[u], train, test);
    }

    private const double Log3 = 0.63092975357145743; // 1 / log2(3)

    [Fact]
    public void Standard_definitions_match_the_hand_computed_values()
    {
        var (recommend, train, test) = HandCase();
        var report = RankingMetrics.Evaluate(recommend, train, test, 3, MetricDefinitions.Standard);

        // precision: user 0 1/3, user 1 1/3 -> 1/3.
        Assert.Equal(1.0 / 3, report.Precision, 12);
        // recall: user 0 1/2, user 1 1/1 -> 0.75.
        Assert.Equal(0.75, report.Recall, 12);
        // AP: user 0 (1/2) / min(3, 2) = 0.25; user 1 (1/1) / min(3, 1) = 1 -> 0.625.
        Assert.Equal(0.625, report.MeanAveragePrecision, 12);
        // nDCG: user 0 (1/log2 3) / (1 + 1/log2 3) = 0.386852807...; user 1 1/1 -> mean.
        Assert.Equal((Log3 / (1 + Log3) + 1) / 2, report.Ndcg, 12);
        // AUC from the ranking (unlisted candidates tied last):
        // user 0: candidates {1..5}, positives {1, 3}, negatives {2, 4, 5}. Item 1 is below negative 2 and above 4, 5: 2 wins;
        //         item 3 (unlisted) ties with negative 5 (unlisted): 1/2. (2 + 0.5) / (2 * 3) = 0.41666...
        // user 1: candidates {0..4}, positive 0 ranked first above all 4 negatives: 1.
        Assert.Equal((2.5 / 6 + 1) / 2, report.Auc, 12);
        // coverage: users 0 and 1 recommend {2, 1, 4, 0, 3} = 5 of 6 items (user 2 is not evaluated).
        Assert.Equal(5.0 / 6, report.Coverage, 12);
        Assert.Equal(2, report.UsersEvaluated);
    }

    [Fact]
    public void Implicit_definitions_match_the_hand_computed_values_of_implicit_ranking_metrics_at_k()
    {
        var (recommend, train, test) = HandCase();
        var report = RankingMetrics.Evaluate(recommend, train, test, 3, MetricDefinitions.Implicit);

        // precision = relevant / pr_div = (1 + 1) / (min(3, 2) + min(3, 1)) = 2/3 (a ratio of totals, not the mean 0.75).
        Assert.Equal(2.0 / 3, report.Precision, 12);
        Assert.Equal(0.75, report.Recall, 12);
        // map: user 0 ap = 1/2 at position 1, / min(3, 2) = 0.25; user 1 ap = 1/1, / 1 = 1 -> 0.625.
        Assert.Equal(0.625, report.MeanAveragePrecision, 12);
        Assert.Equal((Log3 / (1 + Log3) + 1) / 2, report.Ndcg, 12);
        // auc, user 0: i=0 miss (auc += 0), i=1 hit (hit = 1), i=2 miss (auc += 1) -> auc 1, miss 2;
        //   num_pos 2, num_neg 6 - 2 = 4: auc += ((1 + 2) / 2) * (4 - 2) = 3 -> 4 / (2 * 4) = 0.5.
        // user 1: i=0 hit, i=1 and i=2 misses (auc += 1 each) -> 2; num_pos 1, num_neg 5: auc += ((1 + 1) / 2) * (5 - 2) = 3
        //   -> 5 / (1 * 5) = 1.  Mean 0.75.
        Assert.Equal(0.75, report.Auc, 12);
        Assert.Equal(5.0 / 6, report.Coverage, 12);
    }

    [Fact]
    public void A_list_shorter_than_k_counts_its_missing_positions_as_misses()
    {
        // Four items, k = 5, user: train {0}, test {2}; only three candidates exist: [2, 1, 3].
        var train = TestData.Rows(4, [0]);
        var test = TestData.Rows(4, [2]);
        var report = RankingMetrics.Evaluate(_ => [2, 1, 3], train, test, 5, MetricDefinitions.Implicit);
        // implicit: hit at i=0; misses at i=1..4 each add hit = 1 -> auc 4; miss = 4; num_pos 1, num_neg 3:
        // auc += ((1 + 1) / 2) * (3 - 4) = -1 -> 3 / 3 = 1. precision 1 / min(5, 1) = 1.
        Assert.Equal(1.0, report.Auc, 12);
        Assert.Equal(1.0, report.Precision, 12);
        var standard = RankingMetrics.Evaluate(_ => [2, 1, 3], train, test, 5, MetricDefinitions.Standard);
        Assert.Equal(1.0 / 5, standard.Precision, 12); // hits / k
        Assert.Equal(1.0, standard.Auc, 12);
    }

    [Fact]
    public void Standard_metrics_of_a_scorer_use_its_top_k_and_the_exact_auc_of_its_scores()
    {
        // One factor, user vector [1]: scores are the item values [0.5, 0.9, 0.1, 0.9, 0.3]. Train {4}, test {1, 2}.
        var ranker = new FactorRanker([1f], 1, [0.5f, 0.9f, 0.1f, 0.9f, 0.3f], 5, 1);
        var train = TestData.Rows(5, [4]);
        var test = TestData.Rows(5, [1, 2]);
        var report = RankingMetrics.Evaluate(ranker, train, test, 2, MetricDefinitions.Standard);

        // Top-2 of candidates {0, 1, 2, 3}: items 1 and 3 tie at 0.9, the lower index first: [1, 3]; one hit at position 0.
        Assert.Equal(0.5, report.Precision, 6);
        Assert.Equal(0.5, report.Recall, 6);
        Assert.Equal(0.5, report.MeanAveragePrecision, 6);  // (1/1) / min(2, 2)
        Assert.Equal(1 / (1 + Log3), report.Ndcg, 6);        // 1 / (1 + 1/log2 3) = 0.61314719...
        // AUC: positives 1 (0.9), 2 (0.1); negatives 0 (0.5), 3 (0.9).
        // (1 vs 0) win, (1 vs 3) tie 1/2, (2 vs 0) loss, (2 vs 3) loss: 1.5 / 4 = 0.375.
        Assert.Equal(0.375, report.Auc, 12);
        Assert.Equal(2.0 / 5, report.Coverage, 12);
        Assert.Equal(0.375, report["auc"], 12);
        Assert.Equal(["precision@2", "recall@2", "map@2", "ndcg@2", "auc", "coverage"], report.Values.Select(v => v.Key));
    }

    [Fact]
    public void Exact_auc_by_counting_and_by_sorting_matches_a_brute_force_count_over_all_pairs()
    {
        var random = new Random(9);
        foreach (var items in new[] { 2, 5, 40, 300 })
        {
            // Few distinct scores, so ties between positives and negatives happen.
            var scores = Enumerable.Range(0, items).Select(_ => (float)random.Next(0, 6)).ToArray();
            var train = Enumerable.Range(0, items).Where(_ => random.NextDouble() < 0.2).ToArray();
            var test = Enumerable.Range(0, items).Where(i => random.NextDouble() < 0.3 && (i % 3 != 0 || !train.Contains(i))).ToArray();
            var candidates = Enumerable.Range(0, items).Where(i => !train.Contains(i)).ToArray();
            var positives = candidates.Where(test.Contains).ToArray();
            var negatives = candidates.Where(i => !test.Contains(i)).ToArray();
            double? expected = null;
            if (positives.Length > 0 && negatives.Length > 0)
            {
                double wins = 0;
                foreach (var p in positives)
                {
                    foreach (var n in negatives)
                    {
                        wins += scores[p] > scores[n] ? 1 : scores[p] == scores[n] ? 0.5 : 0;
                    }
                }
                expected = wins / (positives.Length * (double)negatives.Length);
            }
            var actual = RankingMetrics.AucFromScores(scores, train, test);
            Assert.Equal(expected.HasValue, actual.HasValue);
            if (expected is { } e)
            {
                Assert.Equal(e, actual!.Value, 12);
                var positiveScores = positives.Select(p => scores[p]).ToList();
                Assert.Equal(e, RankingMetrics.AucByCounting(scores, train, positiveScores, negatives.Length), 12);
                Assert.Equal(e, RankingMetrics.AucBySorting(scores, train, test, positiveScores, negatives.Length), 12);
            }
        }
    }

    [Fact]
    public void Evaluating_a_scorer_equals_evaluating_its_top_k_lists_except_for_the_auc()
    {
        var random = new Random(4);
        const int users = 60, items = 80, k = 6;
        var ranker = new FactorRanker(TestData.RandomFactors(random, users * k), users, TestData.RandomFactors(random, items * k), items, k);
        var train = TestData.RandomMatrix(random, users, items, 0.15);
        var test = TestData.RandomMatrix(random, users, items, 0.05);
        foreach (var definitions in new[] { MetricDefinitions.Standard, MetricDefinitions.Implicit })
        {
            var fromScorer = RankingMetrics.Evaluate(ranker, train, test, 10, definitions, threads: 2);
            var fromLists = RankingMetrics.Evaluate(u => ranker.Recommend(u, 10, train).Select(s => s.Item).ToArray(), train, test, 10, definitions);
            Assert.Equal(fromLists.Precision, fromScorer.Precision, 12);
            Assert.Equal(fromLists.Recall, fromScorer.Recall, 12);
            Assert.Equal(fromLists.MeanAveragePrecision, fromScorer.MeanAveragePrecision, 12);
            Assert.Equal(fromLists.Ndcg, fromScorer.Ndcg, 12);
            Assert.Equal(fromLists.Coverage, fromScorer.Coverage, 12);
            if (definitions == MetricDefinitions.Implicit)
            {
                Assert.Equal(fromLists.Auc, fromScorer.Auc, 12); // implicit's AUC only reads the top-k list
            }
            Assert.InRange(fromScorer.Auc, 0, 1);
        }
    }

    [Fact]
    public void The_popularity_baseline_can_be_evaluated_like_the_model()
    {
        var train = TestData.Rows(4, [0, 1], [0, 2], [0], []);
        var test = TestData.Rows(4, [2], [1], [3], [0]);
        var report = RankingMetrics.Evaluate(new PopularityRecommender(train), train, test, 1, MetricDefinitions.Standard);
        // Popularity [3, 1, 1, 0]. Top-1: user 0 -> 2 (ties 2 over 3), user 1 -> 1, user 2 -> 1, user 3 -> 0.
        // Hits: users 0, 1 and 3; user 2 misses. precision 3/4.
        Assert.Equal(0.75, report.Precision, 12);
        Assert.Equal(3.0 / 4, report.Coverage, 12); // {0, 1, 2}
    }

    [Fact]
    public void A_cut_off_below_one_is_rejected()
    {
        var (recommend, train, test) = HandCase();
        Assert.Throws<ArgumentOutOfRangeException>(() => RankingMetrics.Evaluate(recommend, train, test, 0));
    }
}
