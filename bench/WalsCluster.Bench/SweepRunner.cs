using System.Diagnostics;
using System.Globalization;
using WalsCluster.Core.Data;
using WalsCluster.Core.Metrics;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Bench;

/// <summary>
/// How the recommended defaults were chosen, reproducibly: on a pre-made split folder (train.csv / test.csv with
/// users.csv / items.csv, e.g. the Last.fm split made by the implicit library), carve a validation set out of the
/// TRAINING part (20% per user, seed 7), score a grid of settings on it (implicit's metric definitions, k = 10), then
/// train the best few on the whole training part and report them on the test part, beside the implicit-equivalent
/// settings. The test part is never used to choose.
/// Usage: sweep --split FOLDER [--threads 2]
/// </summary>
internal static class SweepRunner
{
    public static int Run(string[] args)
    {
        var folder = args[Array.IndexOf(args, "--split") + 1];
        var threadsAt = Array.IndexOf(args, "--threads");
        var threads = threadsAt >= 0 ? int.Parse(args[threadsAt + 1], CultureInfo.InvariantCulture) : 2;
        var (split, _, _) = SplitFiles.ReadIndexed(folder);
        var inner = Splitter.RandomHoldout(split.Train, 0.2, 7);
        var nUsers = split.Train.Users.Count;
        var nItems = split.Train.Items.Count;
        var fullTrain = Matrix(split.Train, nUsers, nItems);
        var test = Matrix(split.Test, nUsers, nItems);
        var innerTrain = Matrix(inner.Train, nUsers, nItems);
        var validation = Matrix(inner.Test, nUsers, nItems);

        var baseline = new WalsOptions { Factors = 64, Regularization = 0.05f, Alpha = 1, Beta = 0, Transform = ConfidenceTransform.Log, Epsilon = 1, Iterations = 15, CgSteps = 3, CgPreconditioner = CgPreconditioner.None, Threads = threads };
        var grid = new List<WalsOptions>();
        // Earlier grids (factors 32-128, alpha 0.25-8, beta 0/1, w0 0.05-1, lambda 0.05-40, nu 0-1, log and power
        // transforms) pointed to w0 = 1, beta = 1, small alpha and strong constant regularization (lambda = 40 at the
        // edge of that grid); this grid refines that region.
        foreach (var factors in new[] { 64, 128 })
        {
            foreach (var (transform, alpha) in new[] { (ConfidenceTransform.Log, 1f), (ConfidenceTransform.Log, 2f), (ConfidenceTransform.Power, 0.5f) })
            {
                foreach (var lambda in new[] { 40f, 80f, 160f })
                {
                    grid.Add(new WalsOptions { Factors = factors, Alpha = alpha, Beta = 1, UnobservedWeight = 1, Regularization = lambda, Transform = transform, Exponent = 0.5f, Epsilon = 1, Iterations = 15, CgSteps = 3, Threads = threads });
                }
            }
        }
        Console.WriteLine($"validation: {innerTrain.NonZeros} training / {validation.NonZeros} validation entries; {grid.Count} settings");
        var scored = new List<(WalsOptions Options, double Ndcg, double Precision)>();
        var watch = Stopwatch.StartNew();
        foreach (var options in grid.Prepend(baseline))
        {
            var m = Score(options, innerTrain, validation, threads);
            scored.Add((options, m.Ndcg, m.Precision));
            Console.WriteLine($"{Describe(options)}: validation ndcg@10 {m.Ndcg:F4} precision@10 {m.Precision:F4}  ({watch.Elapsed.TotalSeconds:F0} s)");
        }
        Console.WriteLine();
        Console.WriteLine("On the test part (trained on the whole training part):");
        foreach (var (options, ndcg, _) in scored.Take(1).Concat(scored.Skip(1).OrderByDescending(s => s.Ndcg).Take(5)))
        {
            var m = Score(options, fullTrain, test, threads);
            Console.WriteLine($"{Describe(options)}: validation ndcg@10 {ndcg:F4} | test precision@10 {m.Precision:F4} map@10 {m.MeanAveragePrecision:F4} ndcg@10 {m.Ndcg:F4} auc {m.Auc:F4}");
        }
        return 0;
    }

    private static MetricsReport Score(WalsOptions options, CsrMatrix train, CsrMatrix test, int threads)
    {
        var trained = new WalsTrainer(options).Train(train);
        var ranker = new FactorRanker(trained.UserFactors, train.Rows, trained.ItemFactors, train.Columns, options.Factors);
        return RankingMetrics.Evaluate(ranker, train, test, 10, MetricDefinitions.Implicit, threads);
    }

    private static CsrMatrix Matrix(InteractionTable t, int users, int items) =>
        CsrMatrix.FromCoordinates(users, items, t.UserIndex, t.ItemIndex, t.Values);

    private static string Describe(WalsOptions o) =>
        $"{o.Transform} factors {o.Factors} alpha {o.Alpha} beta {o.Beta} w0 {o.UnobservedWeight} lambda {o.Regularization} nu {o.RegularizationExponent} pc {o.CgPreconditioner}";
}
