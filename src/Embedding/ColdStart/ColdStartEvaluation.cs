using System.Diagnostics;
using WalsCluster.Core.Data;
using WalsCluster.Core.Metrics;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Synthetic;
using WalsCluster.Core.Wals;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>Settings of a cold-start evaluation.</summary>
public sealed record ColdStartOptions
{
    /// <summary>Share of the items (among those with text) held out entirely: all their interactions leave the training set.</summary>
    public double ColdFraction { get; init; } = 0.1;

    /// <summary>Seed of the cold-item draw; the projection's validation split and the random baseline use streams derived from it.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Share of the warm items with text held out to choose mu.</summary>
    public double ValidationFraction { get; init; } = ProjectionTraining.DefaultValidationFraction;

    public WalsOptions Wals { get; init; } = new();

    /// <summary>How warm items are weighted in the projection fit.</summary>
    public ProjectionWeighting Weighting { get; init; } = ProjectionWeighting.None;

    /// <summary>Also train on all items (cold ones included) and rank the cold items with their trained factors: the
    /// "had interactions" reference that the text projection is trying to approach. Costs a second training run.</summary>
    public bool WarmReference { get; init; }

    /// <summary>Worker threads of the evaluation; 0 = all cores.</summary>
    public int Threads { get; init; }

    public void Validate()
    {
        if (!(ColdFraction > 0 && ColdFraction < 1))
        {
            throw new ArgumentException($"Option 'cold-start-fraction' = {ColdFraction} is invalid: it must be between 0 and 1 (exclusive).");
        }
        if (!(ValidationFraction > 0 && ValidationFraction < 1))
        {
            throw new ArgumentException($"The projection validation fraction {ValidationFraction} must be between 0 and 1 (exclusive).");
        }
        Wals.Validate();
    }
}

/// <summary>Which items are held out.</summary>
/// <param name="IsCold">Per item of the table: held out.</param>
/// <param name="ColdItems">Table item indices of the held-out items, ascending.</param>
/// <param name="Eligible">Items that could be held out (those with text).</param>
public sealed record ColdStartSplit(bool[] IsCold, int[] ColdItems, int Eligible);

/// <summary>Metrics of one ranker on the cold items at the two cut-offs.</summary>
public sealed record ColdStartMetrics(MetricsReport At20, MetricsReport At10)
{
    public double Recall20 => At20.Recall;

    public double Ndcg10 => At10.Ndcg;
}

/// <summary>What a cold-start evaluation measured.</summary>
public sealed record ColdStartReport(
    ColdStartMetrics Projection,
    ColdStartMetrics Popularity,
    ColdStartMetrics TextPopularity,
    ColdStartMetrics Random,
    ColdStartMetrics? WarmReference,
    int Items,
    int ItemsWithText,
    int ColdItems,
    int Users,
    int UsersEvaluated,
    long TrainRows,
    long TestRows,
    WarmProjection Fit,
    double TrainSeconds);

/// <summary>
/// Item cold start, measured: hold out a seeded fraction of the items with text entirely, train WALS on the rest, fit
/// the projection on the warm items with text (mu by validation on held-out warm items), give each held-out item
/// y_i = W^T e_i + b, and rank <b>only the held-out items</b> for every user who has at least one training interaction and at
/// least one positive interaction (r &gt; 0) with a held-out item; those interactions are the user's test items. The
/// same candidates are ranked by three baselines: <b>popularity</b>, by each held-out item's number of test users (an
/// oracle: it uses the held-out interactions themselves, since the training data has no interactions of those items
/// and so no popularity); <b>popularity predicted from text</b>, what a system without those interactions can know of
/// it (a ridge regression, fitted like the projection, from the warm items' embeddings to log(1 + their training
/// interaction count), applied to the held-out items; the same order for every user); and <b>random</b>, a seeded random
/// order per user.
/// </summary>
public static class ColdStartEvaluation
{
    /// <summary>Draws round(fraction x eligible) cold items (at least 1) among the table's items that have text.</summary>
    public static ColdStartSplit SplitItems(InteractionTable table, IReadOnlySet<string> itemsWithText, double fraction, ulong seed)
    {
        var eligible = new List<int>();
        for (var item = 0; item < table.Items.Count; item++)
        {
            if (itemsWithText.Contains(table.Items[item]))
            {
                eligible.Add(item);
            }
        }
        if (eligible.Count < 4)
        {
            throw new ArgumentException($"Only {eligible.Count} of the {table.Items.Count} items have text; a cold-start evaluation needs at least 4. " +
                "Check that the item-text ids are the item ids of the interactions.");
        }
        var order = eligible.ToArray();
        new Xoshiro256StarStar(seed).Shuffle(order.AsSpan());
        var count = Math.Clamp((int)Math.Round(fraction * order.Length), 1, order.Length - 3);
        var cold = order[..count];
        Array.Sort(cold);
        var isCold = new bool[table.Items.Count];
        foreach (var item in cold)
        {
            isCold[item] = true;
        }
        return new ColdStartSplit(isCold, cold, eligible.Count);
    }

    public static ColdStartReport Run(InteractionTable table, ItemEmbeddings embeddings, ColdStartOptions options,
        IProgress<IterationReport>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var rows = embeddings.RowsById();
        var split = SplitItems(table, rows.Keys.ToHashSet(StringComparer.Ordinal), options.ColdFraction, options.Seed);
        int users = table.Users.Count, items = table.Items.Count, k = options.Wals.Factors;

        // Warm items keep their order under new dense indices; cold items get indices 0..C-1 among the candidates.
        var warmIndex = new int[items];
        var coldIndex = new int[items];
        int warmCount = 0, coldCount = 0;
        for (var item = 0; item < items; item++)
        {
            warmIndex[item] = split.IsCold[item] ? -1 : warmCount++;
            coldIndex[item] = split.IsCold[item] ? coldCount++ : -1;
        }
        var trainUsers = new List<int>(table.Count);
        var trainItems = new List<int>(table.Count);
        var trainValues = new List<float>(table.Count);
        var testUsers = new List<int>();
        var testItems = new List<int>();
        for (var e = 0; e < table.Count; e++)
        {
            var item = table.ItemIndex[e];
            if (split.IsCold[item])
            {
                if (table.Values[e] > 0)
                {
                    testUsers.Add(table.UserIndex[e]);
                    testItems.Add(coldIndex[item]);
                }
            }
            else
            {
                trainUsers.Add(table.UserIndex[e]);
                trainItems.Add(warmIndex[item]);
                trainValues.Add(table.Values[e]);
            }
        }
        var train = CsrMatrix.FromCoordinates(users, warmCount, trainUsers.ToArray(), trainItems.ToArray(), trainValues.ToArray());
        log?.Invoke($"cold start: {coldCount} of {split.Eligible} items with text held out (fraction {options.ColdFraction}, seed {options.Seed}); " +
            $"training on {train.Rows} users x {warmCount} items, {train.NonZeros} interactions; {testUsers.Count} held-out interactions");

        var watch = Stopwatch.StartNew();
        var trained = new WalsTrainer(options.Wals).Train(train, progress, cancellationToken);
        var trainSeconds = watch.Elapsed.TotalSeconds;

        // Projection on the warm items that have text.
        var counts = ProjectionTraining.ItemCounts(train);
        var pairs = new List<(int, int)>();
        var weights = new List<int>();
        for (var item = 0; item < items; item++)
        {
            if (!split.IsCold[item] && rows.TryGetValue(table.Items[item], out var row) && counts[warmIndex[item]] > 0)
            {
                pairs.Add((warmIndex[item], row));
                weights.Add(ProjectionTraining.Weight(options.Weighting, counts[warmIndex[item]]));
            }
        }
        var fit = ProjectionTraining.Fit(trained.ItemFactors, k, embeddings, pairs, options.ValidationFraction, Stream(options.Seed, 1), weights, textQueries: false);
        log?.Invoke($"projection: mu {fit.Fit.Mu:G3} chosen on {fit.Info.ValidationItems} held-out warm items (validation MSE {fit.Info.ValidationMse:G4}, " +
            $"mean |y|^2 {fit.Info.ValidationMeanSquare:G4}), fitted on {fit.Info.TrainItems + fit.Info.ValidationItems}");
        var coldFactors = new float[(long)coldCount * k];
        foreach (var item in split.ColdItems)
        {
            fit.Projection.Apply(embeddings.Vector(rows[table.Items[item]]), coldFactors.AsSpan(coldIndex[item] * k, k));
        }

        // Test: held-out interactions of users that have training interactions (others have no user vector to speak of).
        var keep = new List<int>();
        for (var e = 0; e < testUsers.Count; e++)
        {
            if (train.RowLength(testUsers[e]) > 0)
            {
                keep.Add(e);
            }
        }
        var test = CsrMatrix.FromCoordinates(users, coldCount,
            keep.Select(e => testUsers[e]).ToArray(), keep.Select(e => testItems[e]).ToArray(), Enumerable.Repeat(1f, keep.Count).ToArray());
        var noExclusions = new CsrMatrix(users, coldCount, new int[users + 1], [], []);

        var model = Measure(new FactorRanker(trained.UserFactors, users, coldFactors, coldCount, k), noExclusions, test, options.Threads);
        var testPopularity = new float[coldCount];
        for (var n = 0; n < test.NonZeros; n++)
        {
            testPopularity[test.ColumnIndex[n]] += 1f;
        }
        var popularity = Measure(new FixedScores(testPopularity, users), noExclusions, test, options.Threads);
        var textPopularity = Measure(new FixedScores(PredictedPopularity(), users), noExclusions, test, options.Threads);
        var random = Measure(new RandomScores(users, coldCount, Stream(options.Seed, 2)), noExclusions, test, options.Threads);

        ColdStartMetrics? reference = null;
        if (options.WarmReference)
        {
            log?.Invoke("warm reference: training on all items");
            var full = new WalsTrainer(options.Wals).Train(table.ToUserItemMatrix(), null, cancellationToken);
            var referenceFactors = new float[(long)coldCount * k];
            foreach (var item in split.ColdItems)
            {
                full.ItemFactors.AsSpan(item * k, k).CopyTo(referenceFactors.AsSpan(coldIndex[item] * k, k));
            }
            reference = Measure(new FactorRanker(full.UserFactors, users, referenceFactors, coldCount, k), noExclusions, test, options.Threads);
        }

        return new ColdStartReport(model, popularity, textPopularity, random, reference, items, split.Eligible, coldCount, users, model.At20.UsersEvaluated,
            train.NonZeros, test.NonZeros, fit, trainSeconds);

        // log(1 + training interactions) of the warm items with text, regressed on their embeddings (unweighted, mu by
        // validation as for the factors), then predicted for the held-out items.
        float[] PredictedPopularity()
        {
            var logCounts = new float[warmCount];
            for (var w = 0; w < warmCount; w++)
            {
                logCounts[w] = MathF.Log(1 + counts[w]);
            }
            var popularityFit = ProjectionTraining.Fit(logCounts, 1, embeddings, pairs, options.ValidationFraction, Stream(options.Seed, 3), textQueries: false);
            var predicted = new float[coldCount];
            foreach (var item in split.ColdItems)
            {
                popularityFit.Projection.Apply(embeddings.Vector(rows[table.Items[item]]), predicted.AsSpan(coldIndex[item], 1));
            }
            return predicted;
        }
    }

    private static ColdStartMetrics Measure(IItemScorer scorer, CsrMatrix noExclusions, CsrMatrix test, int threads) =>
        new(RankingMetrics.Evaluate(scorer, noExclusions, test, 20, MetricDefinitions.Standard, threads),
            RankingMetrics.Evaluate(scorer, noExclusions, test, 10, MetricDefinitions.Standard, threads));

    private static ulong Stream(ulong seed, ulong stream)
    {
        var state = seed ^ (0x9E3779B97F4A7C15UL * stream);
        return Xoshiro256StarStar.SplitMix64(ref state);
    }

    /// <summary>The same score vector for every user (a non-personalised ranking).</summary>
    internal sealed class FixedScores(float[] scores, int users) : IItemScorer
    {
        public int UserCount => users;

        public int ItemCount => scores.Length;

        public void ScoreUsers(ReadOnlySpan<int> list, int threads, UserScoresVisitor visitor)
        {
            for (var slot = 0; slot < list.Length; slot++)
            {
                visitor(slot, list[slot], scores);
            }
        }
    }

    /// <summary>Uniform random scores per user, from a stream of <paramref name="seed"/> per user (the same for any thread count).</summary>
    internal sealed class RandomScores(int users, int items, ulong seed) : IItemScorer
    {
        public int UserCount => users;

        public int ItemCount => items;

        public void ScoreUsers(ReadOnlySpan<int> list, int threads, UserScoresVisitor visitor)
        {
            var scores = new float[items];
            for (var slot = 0; slot < list.Length; slot++)
            {
                var random = Xoshiro256StarStar.ForStream(seed, (ulong)list[slot]);
                for (var i = 0; i < scores.Length; i++)
                {
                    scores[i] = (float)random.NextDouble();
                }
                visitor(slot, list[slot], scores);
            }
        }
    }
}
