using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Metrics;

/// <summary>Which formulas the ranking metrics follow.</summary>
public enum MetricDefinitions
{
    /// <summary>
    /// Textbook per-user definitions, averaged over users with at least one test item: precision = hits / k,
    /// recall = hits / |T_u|, AP@k = (1 / min(k, |T_u|)) sum over hit positions of precision at that position,
    /// nDCG with binary relevance and IDCG over min(k, |T_u|) positions, and AUC the exact ROC AUC of the full score
    /// vector over all non-training items (positives: test items), by Mann-Whitney, averaged over users that have
    /// both a positive and a negative.
    /// </summary>
    Standard,

    /// <summary>
    /// The definitions of the implicit library 0.7.x (implicit/evaluation.pyx, ranking_metrics_at_k): users without test
    /// items are skipped; precision = (sum of hits) / (sum of min(K, |T_u|)) over users (a ratio of totals, not a mean);
    /// MAP and nDCG as in Standard but with the per-user mean; AUC is implicit's "limited AUC" from the top-K list only.
    /// implicit has no recall: recall here is the Standard per-user hits / |T_u|, averaged over the same users.
    /// </summary>
    Implicit,
}

/// <summary>The result of one evaluation, with the named values of <see cref="Values"/>.</summary>
public sealed record MetricsReport(
    int K,
    MetricDefinitions Definitions,
    double Precision,
    double Recall,
    double MeanAveragePrecision,
    double Ndcg,
    double Auc,
    double Coverage,
    int UsersEvaluated)
{
    /// <summary>The values by name: <c>precision@K</c>, <c>recall@K</c>, <c>map@K</c>, <c>ndcg@K</c>, <c>auc</c>,
    /// <c>coverage</c> (K replaced by the cut-off, e.g. <c>precision@10</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values =>
    [
        new($"precision@{K}", Precision),
        new($"recall@{K}", Recall),
        new($"map@{K}", MeanAveragePrecision),
        new($"ndcg@{K}", Ndcg),
        new("auc", Auc),
        new("coverage", Coverage),
    ];

    /// <summary>The value named <paramref name="key"/> (see <see cref="Values"/>).</summary>
    public double this[string key] =>
        Values.FirstOrDefault(v => v.Key == key) is { Key: not null } hit
            ? hit.Value
            : throw new KeyNotFoundException($"No metric '{key}'; the report has {string.Join(", ", Values.Select(v => v.Key))}.");
}

/// <summary>
/// Ranking metrics at a cut-off k for a recommender evaluated on a held-out test matrix (user x item), with the items
/// of the training matrix excluded from every ranking.
/// </summary>
public static class RankingMetrics
{
    /// <summary>
    /// Evaluates a scorer (the factor model, a baseline): for every user with test items, its full score vector gives
    /// the top-k list (training items excluded, ties to the lower index) and, for <see cref="MetricDefinitions.Standard"/>,
    /// the exact AUC. Parallel over users on <paramref name="threads"/> threads (0 = all cores); results do not depend on it.
    /// </summary>
    public static MetricsReport Evaluate(IItemScorer scorer, CsrMatrix train, CsrMatrix test, int k,
        MetricDefinitions definitions = MetricDefinitions.Standard, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        CheckInputs(train, test, k);
        if (scorer.ItemCount != test.Columns)
        {
            throw new ArgumentException($"The scorer has {scorer.ItemCount} items but the test matrix {test.Columns} columns.", nameof(scorer));
        }
        if (scorer.UserCount < test.Rows)
        {
            throw new ArgumentException($"The scorer has {scorer.UserCount} users but the test matrix {test.Rows} rows.", nameof(scorer));
        }
        var users = UsersWithTestItems(test);
        var perUser = new UserMetrics[users.Length];
        var lists = new int[users.Length][];
        var capacity = Math.Min(k, test.Columns);
        using var selectors = new ThreadLocal<TopKSelector>(() => new TopKSelector(capacity));
        scorer.ScoreUsers(users, threads, (slot, user, scores) =>
        {
            var selector = selectors.Value!;
            selector.Clear();
            var trainRow = train.RowIndices(user);
            TopK.AddExcluding(selector, scores, trainRow, default);
            var ranked = selector.ToSortedArray();
            var items = new int[ranked.Length];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = ranked[i].Item;
            }
            lists[slot] = items;
            double? auc = definitions == MetricDefinitions.Standard ? AucFromScores(scores, trainRow, test.RowIndices(user)) : null;
            perUser[slot] = ForUser(items, user, train, test, k, definitions, auc);
        });
        return Reduce(perUser, lists, test.Columns, k, definitions);
    }

    /// <summary>
    /// Evaluates any recommender given as a function from user to ranked item list (best first; only the first k are
    /// used; it should leave out the user's training items, which are never counted as hits or candidates). Without scores,
    /// the Standard AUC ranks the listed candidates in list order above every unlisted candidate, the unlisted ones tied
    /// (each tie counts 1/2); it is the exact ROC AUC when the list holds every candidate.
    /// </summary>
    public static MetricsReport Evaluate(Func<int, IReadOnlyList<int>> recommend, CsrMatrix train, CsrMatrix test, int k,
        MetricDefinitions definitions = MetricDefinitions.Standard)
    {
        ArgumentNullException.ThrowIfNull(recommend);
        CheckInputs(train, test, k);
        var users = UsersWithTestItems(test);
        var perUser = new UserMetrics[users.Length];
        var lists = new int[users.Length][];
        for (var slot = 0; slot < users.Length; slot++)
        {
            var user = users[slot];
            var ranked = recommend(user) ?? throw new InvalidOperationException($"The recommender returned null for user {user}.");
            var items = ranked.Take(k).ToArray();
            foreach (var item in items)
            {
                if ((uint)item >= (uint)test.Columns)
                {
                    throw new InvalidOperationException($"The recommender returned item {item} for user {user}, outside 0..{test.Columns - 1}.");
                }
            }
            lists[slot] = items;
            double? auc = definitions == MetricDefinitions.Standard
                ? AucFromRanking(ranked, train.RowIndices(user), test.RowIndices(user), test.Columns)
                : null;
            perUser[slot] = ForUser(items, user, train, test, k, definitions, auc);
        }
        return Reduce(perUser, lists, test.Columns, k, definitions);
    }

    /// <summary>
    /// Exact ROC AUC of one user's scores over the candidates (all items not in <paramref name="sortedTrain"/>), with the
    /// test items among them as positives: the Mann-Whitney statistic P(score of a positive &gt; score of a negative),
    /// a tie counting 1/2. O(n log |P|): the positive scores are sorted and each negative binary-searched. Null when the
    /// candidates hold no positive or no negative.
    /// </summary>
    public static double? AucFromScores(ReadOnlySpan<float> scores, ReadOnlySpan<int> sortedTrain, ReadOnlySpan<int> sortedTest)
    {
        var positives = new List<float>(sortedTest.Length);
        foreach (var item in sortedTest)
        {
            if (!Contains(sortedTrain, item))
            {
                positives.Add(scores[item]);
            }
        }
        var candidates = scores.Length - CountDistinctInRange(sortedTrain, scores.Length);
        long negatives = candidates - positives.Count;
        if (positives.Count == 0 || negatives <= 0)
        {
            return null;
        }
        if (positives.Count <= CountingAucMaxPositives)
        {
            return AucByCounting(scores, sortedTrain, positives, negatives);
        }
        return AucBySorting(scores, sortedTrain, sortedTest, positives, negatives);
    }

    /// <summary>Up to this many positives, <see cref="AucByCounting"/> (P vector passes over the scores) beats sorting.</summary>
    internal const int CountingAucMaxPositives = 48;

    /// <summary>
    /// Mann-Whitney by counting: for each positive score s_p, #(items with s &lt; s_p) and #(s == s_p) over all items in one
    /// vector pass, then the non-negatives (training items and the positives themselves) taken back out one by one.
    /// </summary>
    internal static double AucByCounting(ReadOnlySpan<float> scores, ReadOnlySpan<int> sortedTrain, List<float> positives, long negatives)
    {
        long twiceWins = 0;
        foreach (var sp in positives)
        {
            CountBelowAndEqual(scores, sp, out var below, out var equal);
            for (var t = 0; t < sortedTrain.Length; t++)
            {
                var item = sortedTrain[t];
                if ((uint)item >= (uint)scores.Length || (t > 0 && sortedTrain[t - 1] == item))
                {
                    continue;
                }
                var s = scores[item];
                below -= s < sp ? 1 : 0;
                equal -= s == sp ? 1 : 0;
            }
            foreach (var other in positives)
            {
                below -= other < sp ? 1 : 0;
                equal -= other == sp ? 1 : 0;
            }
            twiceWins += 2 * below + equal;
        }
        return twiceWins / (2.0 * positives.Count * negatives);
    }

    private static void CountBelowAndEqual(ReadOnlySpan<float> scores, float value, out long below, out long equal)
    {
        long lt = 0, eq = 0;
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(value);
            var ltAcc = Vector256<int>.Zero;
            var eqAcc = Vector256<int>.Zero;
            ref var start = ref MemoryMarshal.GetReference(scores);
            for (; i + 8 <= scores.Length; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)i);
                // A true lane is all ones (-1 as int): subtracting counts it.
                ltAcc -= Vector256.LessThan(x, v).AsInt32();
                eqAcc -= Vector256.Equals(x, v).AsInt32();
            }
            lt = Vector256.Sum(ltAcc);
            eq = Vector256.Sum(eqAcc);
        }
        for (; i < scores.Length; i++)
        {
            lt += scores[i] < value ? 1 : 0;
            eq += scores[i] == value ? 1 : 0;
        }
        below = lt;
        equal = eq;
    }

    /// <summary>Mann-Whitney by sorting the positive scores and binary-searching each negative: O(n log P).</summary>
    internal static double AucBySorting(ReadOnlySpan<float> scores, ReadOnlySpan<int> sortedTrain, ReadOnlySpan<int> sortedTest, List<float> positives, long negatives)
    {
        var sorted = positives.ToArray();
        Array.Sort(sorted);
        // sum over negatives s of #(positives > s) + 1/2 #(positives == s), doubled to stay in integers.
        long twiceWins = 0;
        int q = 0, t = 0;
        for (var item = 0; item < scores.Length; item++)
        {
            while (t < sortedTrain.Length && sortedTrain[t] < item)
            {
                t++;
            }
            if (t < sortedTrain.Length && sortedTrain[t] == item)
            {
                continue;
            }
            while (q < sortedTest.Length && sortedTest[q] < item)
            {
                q++;
            }
            if (q < sortedTest.Length && sortedTest[q] == item)
            {
                continue; // a positive
            }
            var s = scores[item];
            var below = LowerBound(sorted, s);   // positives < s
            var notAbove = UpperBound(sorted, s); // positives <= s
            twiceWins += 2L * (sorted.Length - notAbove) + (notAbove - below);
        }
        return twiceWins / (2.0 * sorted.Length * negatives);
    }

    /// <summary>
    /// ROC AUC of a ranked list over the candidates (items not in <paramref name="sortedTrain"/>): listed candidates rank in
    /// list order above every unlisted candidate, and unlisted candidates are tied. Null without a positive or a negative.
    /// </summary>
    public static double? AucFromRanking(IReadOnlyList<int> ranked, ReadOnlySpan<int> sortedTrain, ReadOnlySpan<int> sortedTest, int itemCount)
    {
        var candidates = itemCount - CountDistinctInRange(sortedTrain, itemCount);
        var positiveCount = 0;
        foreach (var item in sortedTest)
        {
            if (!Contains(sortedTrain, item))
            {
                positiveCount++;
            }
        }
        long negatives = candidates - positiveCount;
        if (positiveCount == 0 || negatives <= 0)
        {
            return null;
        }
        var seen = new HashSet<int>();
        long negativesAbove = 0, listedPositives = 0, listedNegatives = 0;
        double wins = 0;
        foreach (var item in ranked)
        {
            if ((uint)item >= (uint)itemCount || Contains(sortedTrain, item) || !seen.Add(item))
            {
                continue; // not a candidate, or a repeat
            }
            if (Contains(sortedTest, item))
            {
                wins += negatives - negativesAbove; // every negative ranked below this positive
                listedPositives++;
            }
            else
            {
                negativesAbove++;
                listedNegatives++;
            }
        }
        // Unlisted positives tie with the unlisted negatives.
        wins += 0.5 * (positiveCount - listedPositives) * (negatives - listedNegatives);
        return wins / ((double)positiveCount * negatives);
    }

    private readonly record struct UserMetrics(int Hits, int PrecisionDivisor, double Precision, double Recall, double AveragePrecision, double Ndcg, double? Auc);

    private static UserMetrics ForUser(int[] items, int user, CsrMatrix train, CsrMatrix test, int k, MetricDefinitions definitions, double? standardAuc)
    {
        var testRow = test.RowIndices(user);
        var testCount = testRow.Length;
        var idealPositions = Math.Min(k, testCount);
        double idcg = 0;
        for (var i = 0; i < idealPositions; i++)
        {
            idcg += 1.0 / Math.Log2(i + 2);
        }
        // The Implicit branch follows implicit/evaluation.pyx, ranking_metrics_at_k (benfred/implicit, the batched 0.7 loop:
        // recommendations from model.recommend(batch, train_user_items[batch], N=K), which leaves out training items;
        // likes = the user's test items; for i in range(K): a hit adds hit / (i + 1) to ap and cg[i] / idcg to ndcg, a miss
        // adds hit to auc; pr_div += min(K, |likes|); precision = relevant / pr_div over all users counted).
        // Positions past the end of a short list (fewer candidates than k) are misses, as implicit's ids = -1 padding.
        int hits = 0;
        double ap = 0, dcg = 0, limitedAuc = 0;
        var listLength = Math.Min(k, items.Length);
        for (var i = 0; i < k; i++)
        {
            if (i < listLength && Contains(testRow, items[i]))
            {
                hits++;
                ap += hits / (double)(i + 1);
                dcg += 1.0 / Math.Log2(i + 2);
            }
            else
            {
                limitedAuc += hits; // implicit: auc += hit for each miss
            }
        }
        var recall = hits / (double)testCount;
        var averagePrecision = ap / idealPositions;
        var ndcg = dcg / idcg;
        if (definitions == MetricDefinitions.Standard)
        {
            return new UserMetrics(hits, k, hits / (double)k, recall, averagePrecision, ndcg, standardAuc);
        }

        // implicit: num_pos_items = |T_u|, num_neg_items = N_items - num_pos_items, miss = K - hit;
        // auc += ((hit + num_pos_items) / 2) * (num_neg_items - miss); auc /= num_pos_items * num_neg_items.
        double positives = testCount;
        double negatives = test.Columns - testCount;
        if (negatives <= 0)
        {
            // implicit divides by num_pos_items * num_neg_items = 0 here and fails (Cython raises ZeroDivisionError).
            throw new InvalidOperationException($"User {user} has every one of the {test.Columns} items in the test set: implicit's AUC divides by zero.");
        }
        var miss = k - hits;
        limitedAuc += (hits + positives) / 2.0 * (negatives - miss);
        limitedAuc /= positives * negatives;
        return new UserMetrics(hits, idealPositions, 0, recall, averagePrecision, ndcg, limitedAuc);
    }

    private static MetricsReport Reduce(UserMetrics[] perUser, int[][] lists, int itemCount, int k, MetricDefinitions definitions)
    {
        var recommended = new bool[itemCount];
        var distinct = 0;
        foreach (var list in lists)
        {
            foreach (var item in list)
            {
                if (!recommended[item])
                {
                    recommended[item] = true;
                    distinct++;
                }
            }
        }
        var coverage = itemCount == 0 ? 0 : distinct / (double)itemCount;
        var n = perUser.Length;
        if (n == 0)
        {
            throw new InvalidOperationException("No user has a test item: there is nothing to evaluate.");
        }
        double precision = 0, recall = 0, map = 0, ndcg = 0, auc = 0;
        long hits = 0, divisor = 0;
        var aucUsers = 0;
        foreach (var m in perUser)
        {
            precision += m.Precision;
            recall += m.Recall;
            map += m.AveragePrecision;
            ndcg += m.Ndcg;
            hits += m.Hits;
            divisor += m.PrecisionDivisor;
            if (m.Auc is { } a)
            {
                auc += a;
                aucUsers++;
            }
        }
        precision = definitions == MetricDefinitions.Implicit ? hits / (double)divisor : precision / n;
        return new MetricsReport(k, definitions, precision, recall / n, map / n, ndcg / n,
            aucUsers == 0 ? double.NaN : auc / aucUsers, coverage, n);
    }

    private static void CheckInputs(CsrMatrix train, CsrMatrix test, int k)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (train.Rows != test.Rows || train.Columns != test.Columns)
        {
            throw new ArgumentException($"Train ({train.Rows} x {train.Columns}) and test ({test.Rows} x {test.Columns}) must have the same shape.");
        }
    }

    private static int[] UsersWithTestItems(CsrMatrix test)
    {
        var users = new List<int>();
        for (var u = 0; u < test.Rows; u++)
        {
            if (test.RowLength(u) > 0)
            {
                users.Add(u);
            }
        }
        return users.ToArray();
    }

    private static bool Contains(ReadOnlySpan<int> sorted, int item) => sorted.BinarySearch(item) >= 0;

    private static int CountDistinctInRange(ReadOnlySpan<int> sorted, int limit)
    {
        var count = 0;
        for (var i = 0; i < sorted.Length; i++)
        {
            if ((uint)sorted[i] < (uint)limit && (i == 0 || sorted[i] != sorted[i - 1]))
            {
                count++;
            }
        }
        return count;
    }

    private static int LowerBound(float[] sorted, float value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    private static int UpperBound(float[] sorted, float value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
