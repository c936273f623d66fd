using WalsCluster.Core.Data;
using WalsCluster.Core.Synthetic;

namespace WalsCluster.Core.Splits;

/// <summary>
/// Splits an <see cref="InteractionTable"/> into train and test tables that share its id maps. Every entry goes to
/// exactly one side, and within each side entries keep their original order. Random splits are deterministic by
/// seed: user u's choices come from <see cref="Xoshiro256StarStar.ForStream"/>(seed, u), so they do not depend on
/// other users or on the order of the table's rows beyond u's own.
/// </summary>
public static class Splitter
{
    /// <summary>
    /// Per user, a random <paramref name="testFraction"/> of the user's items goes to test. The number of test
    /// items of a user with n items is f*n rounded up or down at random (probability its fractional part), so the
    /// overall fraction is unbiased and every user's is within 1/n of f; at least one item always stays in train,
    /// so users with a single item stay entirely in train. Repeated rows of one (user, item) pair go together.
    /// </summary>
    public static TrainTestSplit RandomHoldout(InteractionTable table, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!(testFraction is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must be in [0, 1].");
        }
        return SplitPerUser(table, (user, entries, isTest) =>
        {
            var n = entries.Length;
            if (n < 2)
            {
                return;
            }
            var random = Xoshiro256StarStar.ForStream(seed, (ulong)user);
            var exact = testFraction * n;
            var count = (int)Math.Floor(exact);
            if (random.NextDouble() < exact - count)
            {
                count++;
            }
            MarkRandom(random, entries, Math.Min(count, n - 1), isTest);
        }, distinctItems: true);
    }

    /// <summary>
    /// Per user, <paramref name="k"/> random items go to test (with all their rows); users with at most k items keep them
    /// all in train.
    /// </summary>
    public static TrainTestSplit LeaveKOut(InteractionTable table, int k, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return SplitPerUser(table, (user, entries, isTest) =>
        {
            if (entries.Length <= k)
            {
                return;
            }
            MarkRandom(Xoshiro256StarStar.ForStream(seed, (ulong)user), entries, k, isTest);
        }, distinctItems: true);
    }

    /// <summary>
    /// Per user, the latest <paramref name="testFraction"/> of the user's entries by timestamp (round(f*n), at most
    /// n-1, so single-entry users stay in train) go to test. Equal timestamps are ordered by row order (later rows
    /// count as later). Needs timestamps.
    /// </summary>
    public static TrainTestSplit TemporalPerUser(InteractionTable table, double testFraction)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!(testFraction is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must be in [0, 1].");
        }
        var timestamps = table.Timestamps ?? throw new ArgumentException("A temporal split needs timestamps; the table has none.", nameof(table));
        return SplitPerUser(table, (_, entries, isTest) =>
        {
            var n = entries.Length;
            var count = Math.Min((int)Math.Round(testFraction * n, MidpointRounding.AwayFromZero), n - 1);
            if (count <= 0)
            {
                return;
            }
            // entries are in row order; a stable sort by timestamp keeps ties in row order.
            var order = entries.ToArray();
            var keys = order.Select(e => timestamps[e]).ToArray();
            Array.Sort(keys, order);
            StableFix(keys, order);
            for (var j = n - count; j < n; j++)
            {
                isTest[order[j]] = true;
            }
        });
    }

    /// <summary>Every entry with timestamp &gt;= <paramref name="cutoff"/> goes to test, the rest to train. Needs timestamps.</summary>
    public static TrainTestSplit TemporalCutoff(InteractionTable table, long cutoff)
    {
        ArgumentNullException.ThrowIfNull(table);
        var timestamps = table.Timestamps ?? throw new ArgumentException("A temporal split needs timestamps; the table has none.", nameof(table));
        var isTest = new bool[table.Count];
        for (var e = 0; e < isTest.Length; e++)
        {
            isTest[e] = timestamps[e] >= cutoff;
        }
        return Partition(table, isTest);
    }

    /// <summary>Builds the two tables from a per-entry test flag, keeping row order and sharing the id maps.</summary>
    public static TrainTestSplit Partition(InteractionTable table, ReadOnlySpan<bool> isTest)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (isTest.Length != table.Count)
        {
            throw new ArgumentException($"isTest has {isTest.Length} flags for {table.Count} entries.", nameof(isTest));
        }
        var testCount = 0;
        foreach (var flag in isTest)
        {
            testCount += flag ? 1 : 0;
        }
        var train = Allocate(table, table.Count - testCount);
        var test = Allocate(table, testCount);
        int a = 0, b = 0;
        for (var e = 0; e < table.Count; e++)
        {
            var (target, index) = isTest[e] ? (test, b++) : (train, a++);
            target.Users[index] = table.UserIndex[e];
            target.Items[index] = table.ItemIndex[e];
            target.Values[index] = table.Values[e];
            if (target.Times is not null)
            {
                target.Times[index] = table.Timestamps![e];
            }
        }
        return new TrainTestSplit(
            new InteractionTable(table.Users, table.Items, train.Users, train.Items, train.Values, train.Times),
            new InteractionTable(table.Users, table.Items, test.Users, test.Items, test.Values, test.Times));
    }

    /// <summary>
    /// Entry positions grouped by user (counting sort, stable), then <paramref name="choose"/> per user. With
    /// <paramref name="distinctItems"/>, a user's rows of the same item (duplicates, which training sums into one
    /// interaction) are one choice: <paramref name="choose"/> sees the first row of each item and the other rows follow
    /// it, so a (user, item) pair is never on both sides. A user without duplicates is split exactly as without the flag.
    /// </summary>
    private static TrainTestSplit SplitPerUser(InteractionTable table, Action<int, ReadOnlySpan<int>, bool[]> choose, bool distinctItems = false)
    {
        var users = table.Users.Count;
        var start = new int[users + 1];
        foreach (var u in table.UserIndex)
        {
            start[u + 1]++;
        }
        for (var u = 0; u < users; u++)
        {
            start[u + 1] += start[u];
        }
        var byUser = new int[table.Count];
        var next = start.AsSpan(0, users).ToArray();
        for (var e = 0; e < table.Count; e++)
        {
            byUser[next[table.UserIndex[e]]++] = e;
        }
        var isTest = new bool[table.Count];
        // firstRow[item] is the user's first row of that item while seenBy[item] == user + 1 (no clearing between users).
        var seenBy = distinctItems ? new int[table.Items.Count] : [];
        var firstRow = distinctItems ? new int[table.Items.Count] : [];
        var units = new List<int>();
        for (var u = 0; u < users; u++)
        {
            var entries = byUser.AsSpan(start[u], start[u + 1] - start[u]);
            if (!distinctItems)
            {
                choose(u, entries, isTest);
                continue;
            }
            units.Clear();
            foreach (var e in entries)
            {
                var item = table.ItemIndex[e];
                if (seenBy[item] != u + 1)
                {
                    seenBy[item] = u + 1;
                    firstRow[item] = e;
                    units.Add(e);
                }
            }
            if (units.Count == entries.Length)
            {
                choose(u, entries, isTest);
                continue;
            }
            choose(u, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(units), isTest);
            foreach (var e in entries)
            {
                isTest[e] = isTest[firstRow[table.ItemIndex[e]]];
            }
        }
        return Partition(table, isTest);
    }

    /// <summary>Marks <paramref name="count"/> entries chosen uniformly at random (partial Fisher-Yates on a copy).</summary>
    private static void MarkRandom(Xoshiro256StarStar random, ReadOnlySpan<int> entries, int count, bool[] isTest)
    {
        if (count <= 0)
        {
            return;
        }
        var pool = entries.ToArray();
        for (var j = 0; j < count; j++)
        {
            var pick = j + random.NextInt(pool.Length - j);
            (pool[j], pool[pick]) = (pool[pick], pool[j]);
            isTest[pool[j]] = true;
        }
    }

    /// <summary>Array.Sort is not stable: within runs of equal keys, put the entry positions back in ascending order.</summary>
    private static void StableFix(long[] keys, int[] order)
    {
        var runStart = 0;
        for (var j = 1; j <= keys.Length; j++)
        {
            if (j == keys.Length || keys[j] != keys[runStart])
            {
                if (j - runStart > 1)
                {
                    Array.Sort(order, runStart, j - runStart);
                }
                runStart = j;
            }
        }
    }

    private static Columns Allocate(InteractionTable table, int count) =>
        new(new int[count], new int[count], new float[count], table.Timestamps is null ? null : new long[count]);

    private sealed record Columns(int[] Users, int[] Items, float[] Values, long[]? Times);
}
