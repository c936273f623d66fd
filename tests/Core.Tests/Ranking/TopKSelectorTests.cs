using WalsCluster.Core.Ranking;

namespace WalsCluster.Core.Tests.Ranking;

public sealed class TopKSelectorTests
{
    private static ScoredItem[] FullSort(ReadOnlySpan<float> scores, int k, ISet<int> exclude) =>
        scores.ToArray().Select((s, i) => new ScoredItem(i, s))
            .Where(x => !exclude.Contains(x.Item) && !float.IsNaN(x.Score))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Item).Take(k).ToArray();

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 5)]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(10, 3)]
    [InlineData(10, 10)]
    [InlineData(10, 25)]
    [InlineData(1000, 17)]
    public void Selection_matches_a_full_sort_with_ties_to_the_lower_index(int n, int k)
    {
        var random = new Random(n * 31 + k);
        // Few distinct values, so there are many ties.
        var scores = Enumerable.Range(0, n).Select(_ => (float)random.Next(0, 7)).ToArray();
        var exclude = Enumerable.Range(0, n / 4).Select(_ => random.Next(Math.Max(1, n))).Distinct().Order().ToArray();

        var selected = TopK.Select(scores, k, exclude);

        Assert.Equal(FullSort(scores, k, exclude.ToHashSet()), selected);
    }

    [Fact]
    public void Items_offered_in_any_order_give_the_same_top_k()
    {
        var random = new Random(5);
        var scores = Enumerable.Range(0, 500).Select(_ => (float)random.Next(0, 20)).ToArray();
        var selector = new TopKSelector(12);
        foreach (var i in Enumerable.Range(0, 500).OrderBy(_ => random.Next()))
        {
            selector.Add(i, scores[i]);
        }
        Assert.Equal(FullSort(scores, 12, new HashSet<int>()), selector.ToSortedArray());
    }

    [Fact]
    public void Both_exclusion_lists_are_skipped_even_with_duplicates_and_overlap()
    {
        float[] scores = [9, 8, 7, 6, 5, 4];
        var selected = TopK.Select(scores, 10, [0, 0, 2], [2, 3, 99]);
        Assert.Equal([1, 4, 5], selected.Select(s => s.Item));
    }

    [Fact]
    public void Nan_scores_are_never_selected()
    {
        float[] scores = [float.NaN, 1, float.NaN, 3];
        Assert.Equal([3, 1], TopK.Select(scores, 4).Select(s => s.Item));
    }

    [Fact]
    public void Explicit_exclusions_are_sorted_deduplicated_and_range_checked()
    {
        Assert.Equal([1, 3, 4], TopK.SortedExclusions([4, 1, 3, 1], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => TopK.SortedExclusions([5], 5));
    }
}
