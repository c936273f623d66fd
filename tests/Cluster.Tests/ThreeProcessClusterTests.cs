using WalsCluster.Actors;
using WalsCluster.Core.Data;
using WalsCluster.Core.Metrics;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Tests.Data;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// Three real node processes on loopback (shared by both tests) train the Last.fm data (1892 users x 17632 artists,
/// 92834 plays). With the Cholesky solver the factors must equal the single-process engine's within 1e-4 (max abs), and
/// the router's top-10 for every user the engine's batch top-10 (same items; ties aside). With the CG solver (whose
/// eigenbasis comes from the summed partial Grams, so factors differ in the last bits) the ranking metrics on a held-out
/// split must equal the engine's within 0.002. Small k and few iterations keep it short.
/// </summary>
public sealed partial class ThreeProcessClusterTests(ITestOutputHelper output, ThreeNodeCluster cluster) : IClassFixture<ThreeNodeCluster>
{
    /// <summary>For the other part of the class (ClusterCliTests.cs), which shares the three node processes.</summary>
    private ITestOutputHelper Output => output;

    private ThreeNodeCluster Cluster => cluster;

    [Fact]
    public async Task Three_node_processes_train_the_same_factors_and_rankings_as_the_single_process_engine()
    {
        var path = TestDatasets.Find("lastfm-hetrec2011-2k/user_artists.dat", output);
        if (path is null)
        {
            return;
        }
        var table = InteractionLoader.Load(path, LoadOptions.LastFm).Table;
        var options = new WalsOptions { Factors = 16, Iterations = 3, Solver = WalsSolver.Cholesky, Alpha = 1f }.Validate();
        var train = table.ToUserItemMatrix();
        var engine = new WalsTrainer(options).Train(train);

        var client = await cluster.ClientAsync();
        var progress = new List<TrainingProgress>();
        var trained = await client.TrainAsync(table, options, progress.Add);

        // Two half-steps per iteration and nothing after the last: its loss comes from its item half-step.
        Assert.Equal(2 * options.Iterations, progress.Count);
        var userDiff = MaxAbsDifference(engine.UserFactors, trained.UserFactors);
        var itemDiff = MaxAbsDifference(engine.ItemFactors, trained.ItemFactors);
        output.WriteLine($"max |x_cluster - x_engine| = {userDiff:E3}, max |y_cluster - y_engine| = {itemDiff:E3}");
        Assert.True(userDiff <= 1e-4, $"user factors differ by {userDiff}");
        Assert.True(itemDiff <= 1e-4, $"item factors differ by {itemDiff}");
        Assert.Equal(engine.History.Count, trained.Completed.Losses.Length);
        for (var t = 0; t < engine.History.Count; t++)
        {
            Assert.True(Math.Abs(engine.History[t].Loss - trained.Completed.Losses[t]) <= 1e-6 * Math.Abs(engine.History[t].Loss),
                $"loss after iteration {t + 1}: engine {engine.History[t].Loss}, cluster {trained.Completed.Losses[t]}");
        }
        var shards = await client.StatusesAsync();
        Assert.Equal(3, shards.Select(s => s.Address).Distinct().Count());

        // The router's top-10 for every user against the engine's batch top-10 over the engine's own factors.
        var ranker = new FactorRanker(engine.UserFactors, table.Users.Count, engine.ItemFactors, table.Items.Count, options.Factors);
        var expected = ranker.RecommendAll(10, train);
        var mismatches = 0;
        for (var start = 0; start < table.Users.Count; start += 32)
        {
            var users = Enumerable.Range(start, Math.Min(32, table.Users.Count - start)).ToArray();
            var replies = await Task.WhenAll(users.Select(u => client.AskAsync(new Recommend(table.Users[u], 10))));
            for (var j = 0; j < users.Length; j++)
            {
                var reply = replies[j];
                Assert.Null(reply.Failure);
                Assert.Empty(reply.MissingShards);
                var want = expected[users[j]];
                Assert.Equal(want.Length, reply.Items.Length);
                if (!want.Select(w => w.Item).SequenceEqual(reply.Items.Select(i => i.Index)))
                {
                    // Ties aside: the sets may differ only where scores are equal within float rounding at the boundary.
                    var boundary = want[^1].Score;
                    var differing = want.Select(w => w.Item).Except(reply.Items.Select(i => i.Index)).ToArray();
                    Assert.All(want.Where(w => differing.Contains(w.Item)), w => Assert.True(Math.Abs(w.Score - boundary) <= 1e-4f * Math.Max(1f, Math.Abs(boundary)),
                        $"user {table.Users[users[j]]}: item {table.Items[w.Item]} (score {w.Score}) missing from the cluster's top-10"));
                    mismatches++;
                }
            }
        }
        output.WriteLine($"{table.Users.Count} users compared; {mismatches} top-10 lists differ in order or boundary ties only");
        PrintNodeLog();
    }

    [Theory]
    [InlineData(GatherPrecision.Float32, ZeroStartSides.None)]
    [InlineData(GatherPrecision.Int8, ZeroStartSides.Users)]
    public async Task With_the_CG_solver_three_node_processes_reach_the_engines_ranking_metrics_on_a_held_out_split(GatherPrecision precision, ZeroStartSides zeroStart)
    {
        var path = TestDatasets.Find("lastfm-hetrec2011-2k/user_artists.dat", output);
        if (path is null)
        {
            return;
        }
        var split = Splitter.RandomHoldout(InteractionLoader.Load(path, LoadOptions.LastFm).Table, 0.2, seed: 7);
        // The speed settings too (int8 gathers, users from zero) across processes; InProcessClusterTests checks that shards
        // really solve against the 8-bit copies, which these separate processes cannot show.
        var options = new WalsOptions { Factors = 16, Iterations = 4, Solver = WalsSolver.ConjugateGradient, CgSteps = 3, GatherPrecision = precision, ZeroStart = zeroStart }.Validate();
        var train = split.Train.ToUserItemMatrix();
        var test = split.Test.ToUserItemMatrix();
        var engine = new WalsTrainer(options).Train(train);

        var client = await cluster.ClientAsync();
        var trained = await client.TrainAsync(split.Train, options);

        var users = split.Train.Users.Count;
        var items = split.Train.Items.Count;
        var expected = RankingMetrics.Evaluate(new FactorRanker(engine.UserFactors, users, engine.ItemFactors, items, options.Factors), train, test, 10);
        var actual = RankingMetrics.Evaluate(new FactorRanker(trained.UserFactors, users, trained.ItemFactors, items, options.Factors), train, test, 10);
        output.WriteLine($"engine:  {string.Join(", ", expected.Values.Select(v => $"{v.Key} {v.Value:F4}"))}");
        output.WriteLine($"cluster: {string.Join(", ", actual.Values.Select(v => $"{v.Key} {v.Value:F4}"))}");
        output.WriteLine($"loss after {options.Iterations} iterations: engine {engine.FinalLoss:G9}, cluster {trained.Completed.Losses[^1]:G9}");
        Assert.Equal(expected.UsersEvaluated, actual.UsersEvaluated);
        // A trained model, not noise: the comparison below would pass trivially for two random models only if both were ~0.
        Assert.True(expected.Precision > 0.05, $"the engine's precision@10 is only {expected.Precision}");
        foreach (var (name, want) in expected.Values)
        {
            var got = actual[name];
            Assert.True(Math.Abs(want - got) <= 0.002, $"{name}: engine {want:F5}, cluster {got:F5}");
        }
        Assert.True(Math.Abs(engine.FinalLoss - trained.Completed.Losses[^1]) <= 1e-3 * Math.Abs(engine.FinalLoss),
            $"final loss: engine {engine.FinalLoss}, cluster {trained.Completed.Losses[^1]}");
        PrintNodeLog();
    }

    private void PrintNodeLog()
    {
        while (cluster.Log.TryDequeue(out var line))
        {
            output.WriteLine(line);
        }
    }

    private static double MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(float.IsFinite(b[i]), $"cluster factor {i} is {b[i]}");
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }
        return max;
    }
}
