using WalsCluster.Core.Data;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Synthetic;

namespace WalsCluster.Core.Tests.Splits;

public sealed class SplitterTests
{
    private static InteractionTable Table(int users = 300, ulong seed = 3) =>
        new SyntheticData(new SyntheticOptions { Users = users, Items = 200, MeanItemsPerUser = 12, Seed = seed }).ToTable();

    /// <summary>A table with timestamps: user u has u % 7 + 1 entries with shuffled times.</summary>
    private static InteractionTable TimedTable()
    {
        var random = new Xoshiro256StarStar(11);
        var users = new IdMap();
        var items = new IdMap();
        var u = new List<int>();
        var i = new List<int>();
        var t = new List<long>();
        for (var user = 0; user < 50; user++)
        {
            for (var e = 0; e < user % 7 + 1; e++)
            {
                u.Add(users.GetOrAdd($"u{user}"));
                i.Add(items.GetOrAdd($"i{random.NextInt(40)}"));
                t.Add(1_000 + random.NextInt(100));
            }
        }
        return new InteractionTable(users, items, [.. u], [.. i], [.. u.Select(x => 1f)], [.. t]);
    }

    private static (int User, int Item, float Value, int Row)[] Entries(InteractionTable table, InteractionTable original)
    {
        Assert.Same(original.Users, table.Users);
        Assert.Same(original.Items, table.Items);
        return Enumerable.Range(0, table.Count).Select(e => (table.UserIndex[e], table.ItemIndex[e], table.Values[e], 0)).ToArray();
    }

    private static void AssertPartition(InteractionTable original, TrainTestSplit split)
    {
        Assert.Equal(original.Count, split.Train.Count + split.Test.Count);
        var all = Enumerable.Range(0, original.Count).Select(e => (original.UserIndex[e], original.ItemIndex[e], original.Values[e])).OrderBy(x => x).ToArray();
        var parts = Entries(split.Train, original).Concat(Entries(split.Test, original)).Select(x => (x.User, x.Item, x.Value)).OrderBy(x => x).ToArray();
        Assert.Equal(all, parts);
    }

    private static int[] PerUser(InteractionTable table, int users)
    {
        var counts = new int[users];
        foreach (var u in table.UserIndex)
        {
            counts[u]++;
        }
        return counts;
    }

    [Fact]
    public void Random_holdout_is_deterministic_by_seed_and_differs_between_seeds()
    {
        var table = Table();
        var a = Splitter.RandomHoldout(table, 0.2, seed: 42);
        var b = Splitter.RandomHoldout(table, 0.2, seed: 42);
        var c = Splitter.RandomHoldout(table, 0.2, seed: 43);
        Assert.Equal(a.Test.ItemIndex, b.Test.ItemIndex);
        Assert.Equal(a.Test.UserIndex, b.Test.UserIndex);
        Assert.NotEqual(a.Test.ItemIndex, c.Test.ItemIndex);
    }

    [Fact]
    public void Random_holdout_is_disjoint_covers_every_row_and_keeps_the_fraction_per_user()
    {
        var table = Table();
        var split = Splitter.RandomHoldout(table, 0.25, seed: 1);
        AssertPartition(table, split);
        var total = PerUser(table, table.Users.Count);
        var test = PerUser(split.Test, table.Users.Count);
        for (var u = 0; u < total.Length; u++)
        {
            if (total[u] < 2)
            {
                Assert.Equal(0, test[u]);
                continue;
            }
            // Stochastic rounding: within one entry of f*n, and at least one entry left in train.
            Assert.InRange(test[u], Math.Floor(0.25 * total[u]), Math.Ceiling(0.25 * total[u]));
            Assert.True(test[u] < total[u]);
        }
        var fraction = (double)split.Test.Count / table.Count;
        Assert.InRange(fraction, 0.23, 0.27);
    }

    [Fact]
    public void Users_with_one_entry_stay_in_train()
    {
        var users = new IdMap(["solo", "pair"]);
        var items = new IdMap(["x", "y"]);
        var table = new InteractionTable(users, items, [0, 1, 1], [0, 0, 1], [1f, 1f, 1f]);
        var split = Splitter.RandomHoldout(table, 0.99, seed: 5);
        Assert.Equal([0, 1], split.Train.UserIndex);
        Assert.Equal([1], split.Test.UserIndex);
    }

    [Fact]
    public void Repeated_rows_of_a_pair_go_to_one_side_and_the_fraction_counts_items()
    {
        // Regression: the holdout chose rows, so a pair given twice (summed into one interaction by training) could land
        // on both sides, and its test row could never be recommended (training items are left out of rankings).
        var random = new Xoshiro256StarStar(5);
        var (u, i) = (new List<int>(), new List<int>());
        for (var user = 0; user < 80; user++)
        {
            foreach (var item in Enumerable.Range(0, 10))
            {
                for (var copy = random.NextInt(3); copy >= 0; copy--)
                {
                    u.Add(user);
                    i.Add(user % 5 * 10 + item);
                }
            }
        }
        var table = new InteractionTable(new IdMap(Enumerable.Range(0, 80).Select(x => $"u{x}")), new IdMap(Enumerable.Range(0, 50).Select(x => $"i{x}")),
            [.. u], [.. i], [.. u.Select(_ => 1f)]);
        foreach (var (split, expected) in new[] { (Splitter.RandomHoldout(table, 0.3, seed: 7), 3), (Splitter.LeaveKOut(table, 2, seed: 7), 2) })
        {
            AssertPartition(table, split);
            var train = Enumerable.Range(0, split.Train.Count).Select(e => (split.Train.UserIndex[e], split.Train.ItemIndex[e])).ToHashSet();
            var test = Enumerable.Range(0, split.Test.Count).Select(e => (split.Test.UserIndex[e], split.Test.ItemIndex[e])).ToHashSet();
            Assert.Empty(train.Intersect(test));
            // 10 distinct items per user: 3 of them (0.3 x 10 exactly) or 2 (leave 2 out) in test, with all their rows.
            var perUser = test.GroupBy(p => p.Item1).Select(g => g.Count()).ToArray();
            Assert.Equal(80, perUser.Length);
            Assert.All(perUser, n => Assert.Equal(expected, n));
        }
    }

    [Fact]
    public void Leave_k_out_takes_k_per_user_and_keeps_small_users_in_train()
    {
        var table = Table();
        var split = Splitter.LeaveKOut(table, 2, seed: 9);
        AssertPartition(table, split);
        var total = PerUser(table, table.Users.Count);
        var test = PerUser(split.Test, table.Users.Count);
        for (var u = 0; u < total.Length; u++)
        {
            Assert.Equal(total[u] <= 2 ? 0 : 2, test[u]);
        }
        Assert.Equal(split.Test.UserIndex, Splitter.LeaveKOut(table, 2, seed: 9).Test.UserIndex);
        Assert.Equal(split.Test.ItemIndex, Splitter.LeaveKOut(table, 2, seed: 9).Test.ItemIndex);
    }

    [Fact]
    public void Temporal_per_user_puts_each_users_latest_entries_in_test()
    {
        var table = TimedTable();
        var split = Splitter.TemporalPerUser(table, 0.3);
        AssertPartition(table, split);
        var total = PerUser(table, table.Users.Count);
        var test = PerUser(split.Test, table.Users.Count);
        for (var u = 0; u < total.Length; u++)
        {
            var expected = Math.Min((int)Math.Round(0.3 * total[u], MidpointRounding.AwayFromZero), total[u] - 1);
            Assert.Equal(Math.Max(expected, 0), test[u]);
            var trainTimes = Enumerable.Range(0, split.Train.Count).Where(e => split.Train.UserIndex[e] == u).Select(e => split.Train.Timestamps![e]);
            var testTimes = Enumerable.Range(0, split.Test.Count).Where(e => split.Test.UserIndex[e] == u).Select(e => split.Test.Timestamps![e]);
            if (testTimes.Any())
            {
                Assert.True(trainTimes.Max() <= testTimes.Min(), $"user {u}: a train entry is later than a test entry");
            }
        }
    }

    [Fact]
    public void Temporal_cutoff_splits_at_the_timestamp()
    {
        var table = TimedTable();
        var split = Splitter.TemporalCutoff(table, 1_050);
        AssertPartition(table, split);
        Assert.All(split.Train.Timestamps!, t => Assert.True(t < 1_050));
        Assert.All(split.Test.Timestamps!, t => Assert.True(t >= 1_050));
    }

    [Fact]
    public void Temporal_splits_need_timestamps()
    {
        var error = Assert.Throws<ArgumentException>(() => Splitter.TemporalPerUser(Table(10), 0.2));
        Assert.Contains("timestamps", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Xoshiro_matches_the_reference_splitmix_seeding()
    {
        // SplitMix64 from state 0 gives 0xE220A8397B1DCDAF first (reference implementation by Vigna).
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, Xoshiro256StarStar.SplitMix64(ref state));
        var a = new Xoshiro256StarStar(123);
        var b = new Xoshiro256StarStar(123);
        Assert.Equal(Enumerable.Range(0, 10).Select(_ => a.NextUInt64()), Enumerable.Range(0, 10).Select(_ => b.NextUInt64()));
        var counts = new int[7];
        var r = new Xoshiro256StarStar(1);
        for (var n = 0; n < 70_000; n++)
        {
            counts[r.NextInt(7)]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
    }
}
