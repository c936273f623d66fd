using WalsCluster.Actors;
using WalsCluster.Core.Data;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// Three real node processes on loopback train the Last.fm data (1892 users x 17632 artists, 92834 plays) with the
/// Cholesky solver; the factors must equal the single-process engine's within 1e-4 (max abs), and the router's top-10
/// for every user the engine's batch top-10 (same items; ties aside). Small k = 16 and 3 iterations keep it short.
/// </summary>
public sealed class ThreeProcessClusterTests(ITestOutputHelper output)
{
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

        using var nodes = new NodeProcesses(3, output);
        await using var client = await WalsClient.ConnectAsync(nodes.Seed, TimeSpan.FromSeconds(60));
        var progress = new List<TrainingProgress>();
        var trained = await client.TrainAsync(table, options, progress.Add);

        Assert.Equal(2 * options.Iterations + 1, progress.Count);
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
