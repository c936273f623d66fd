using WalsCluster.Core.Data;

namespace WalsCluster.Actors.Tests;

/// <summary>Small random interaction tables for the in-process cluster tests (deterministic by seed).</summary>
internal static class RandomTables
{
    /// <summary><paramref name="rows"/> rows: user{0..users-1}, item{0..items-1}, values 1..maxValue-1, ids in first-seen order.</summary>
    public static InteractionTable Create(int seed, int rows, int users, int items, int maxValue)
    {
        var random = new Random(seed);
        var userIds = new IdMap();
        var itemIds = new IdMap();
        var (u, i, v) = (new List<int>(), new List<int>(), new List<float>());
        for (var e = 0; e < rows; e++)
        {
            u.Add(userIds.GetOrAdd($"user{random.Next(users)}"));
            i.Add(itemIds.GetOrAdd($"item{random.Next(items)}"));
            v.Add(random.Next(1, maxValue));
        }
        return new InteractionTable(userIds, itemIds, u.ToArray(), i.ToArray(), v.ToArray());
    }
}
