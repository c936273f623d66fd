using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests;

public sealed class RankMergeTests
{
    [Fact]
    public void Merge_orders_by_score_then_lower_index_and_keeps_k()
    {
        var a = new ShardTopK(0, [4, 2], ["d", "b"], [0.9f, 0.5f], null);
        var b = new ShardTopK(1, [7, 1, 3], ["g", "a", "c"], [0.9f, 0.5f, 0.1f], null);
        var merged = RankMerge.Merge([a, b], 4);
        Assert.Equal([4, 7, 1, 2], merged.Select(m => m.Index));
        Assert.Equal(["d", "g", "a", "b"], merged.Select(m => m.Id));
    }

    [Fact]
    public void Merge_of_random_shard_lists_equals_the_top_k_of_all_items()
    {
        var random = new Random(7);
        for (var trial = 0; trial < 50; trial++)
        {
            var items = Enumerable.Range(0, random.Next(1, 60)).Select(i => (Index: i, Score: (float)Math.Round(random.NextDouble(), 1))).ToArray();
            var shards = random.Next(1, 5);
            var k = random.Next(1, 12);
            var parts = Enumerable.Range(0, shards).Select(s =>
            {
                var mine = items.Where(x => x.Index % shards == s).OrderByDescending(x => x.Score).ThenBy(x => x.Index).Take(k).ToArray();
                return new ShardTopK(s, mine.Select(x => x.Index).ToArray(), mine.Select(x => $"i{x.Index}").ToArray(), mine.Select(x => x.Score).ToArray(), null);
            });
            var expected = items.OrderByDescending(x => x.Score).ThenBy(x => x.Index).Take(k).Select(x => x.Index);
            Assert.Equal(expected, RankMerge.Merge(parts, k).Select(m => m.Index));
        }
    }
}
