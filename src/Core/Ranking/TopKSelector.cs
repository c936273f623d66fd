namespace WalsCluster.Core.Ranking;

/// <summary>An item index with its score. Rankings order by score descending, ties by lower item index.</summary>
public readonly record struct ScoredItem(int Item, float Score)
{
    /// <summary>True when (<paramref name="scoreA"/>, <paramref name="itemA"/>) ranks before (<paramref name="scoreB"/>,
    /// <paramref name="itemB"/>): a higher score, or an equal score and a lower item index.</summary>
    public static bool RanksBefore(float scoreA, int itemA, float scoreB, int itemB) =>
        scoreA > scoreB || (scoreA == scoreB && itemA < itemB);
}

/// <summary>
/// Keeps the k best items of a stream (score descending, ties broken by the lower item index) in a bounded
/// min-heap whose root is the worst item kept: O(n log k) in the worst case and O(n) with one comparison per item
/// once the heap is full and the scores are not adversarial. Never sorts the stream. NaN scores are never kept.
/// </summary>
public sealed class TopKSelector
{
    private readonly int[] _items;
    private readonly float[] _scores;
    private int _count;

    public TopKSelector(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        K = k;
        _items = new int[k];
        _scores = new float[k];
    }

    /// <summary>The most items kept.</summary>
    public int K { get; }

    /// <summary>Items kept so far (at most <see cref="K"/>).</summary>
    public int Count => _count;

    public void Clear() => _count = 0;

    /// <summary>Offers one item in any order.</summary>
    public void Add(int item, float score)
    {
        if (float.IsNaN(score))
        {
            return;
        }
        if (_count < K)
        {
            SiftUp(_count++, item, score);
        }
        else if (K > 0 && ScoredItem.RanksBefore(score, item, _scores[0], _items[0]))
        {
            SiftDown(item, score);
        }
    }

    /// <summary>Offers items <paramref name="firstItem"/> .. <paramref name="firstItem"/> + scores.Length - 1 with
    /// the given scores. The hot loop of every top-k query: one comparison per item against the current threshold.</summary>
    public void AddRange(ReadOnlySpan<float> scores, int firstItem)
    {
        var n = 0;
        while (_count < K && n < scores.Length)
        {
            Add(firstItem + n, scores[n]);
            n++;
        }
        if (n == scores.Length || K == 0)
        {
            return;
        }
        var threshold = _scores[0];
        for (; n < scores.Length; n++)
        {
            var s = scores[n];
            // NaN fails both comparisons and is skipped.
            if (s > threshold || (s == threshold && firstItem + n < _items[0]))
            {
                SiftDown(firstItem + n, s);
                threshold = _scores[0];
            }
        }
    }

    /// <summary>The kept items, best first.</summary>
    public ScoredItem[] ToSortedArray()
    {
        var result = new ScoredItem[_count];
        for (var i = 0; i < _count; i++)
        {
            result[i] = new ScoredItem(_items[i], _scores[i]);
        }
        result.AsSpan().Sort(static (a, b) =>
            ScoredItem.RanksBefore(a.Score, a.Item, b.Score, b.Item) ? -1 :
            ScoredItem.RanksBefore(b.Score, b.Item, a.Score, a.Item) ? 1 : 0);
        return result;
    }

    // Heap property: a parent never ranks before its children (the root is the worst kept item).
    private void SiftUp(int at, int item, float score)
    {
        while (at > 0)
        {
            var parent = (at - 1) >> 1;
            if (!ScoredItem.RanksBefore(_scores[parent], _items[parent], score, item))
            {
                break;
            }
            _items[at] = _items[parent];
            _scores[at] = _scores[parent];
            at = parent;
        }
        _items[at] = item;
        _scores[at] = score;
    }

    // Replaces the root with (item, score) and restores the heap property.
    private void SiftDown(int item, float score)
    {
        var at = 0;
        while (true)
        {
            var child = 2 * at + 1;
            if (child >= _count)
            {
                break;
            }
            var right = child + 1;
            if (right < _count && ScoredItem.RanksBefore(_scores[child], _items[child], _scores[right], _items[right]))
            {
                child = right; // the worse of the two children
            }
            if (!ScoredItem.RanksBefore(score, item, _scores[child], _items[child]))
            {
                break;
            }
            _items[at] = _items[child];
            _scores[at] = _scores[child];
            at = child;
        }
        _items[at] = item;
        _scores[at] = score;
    }
}

/// <summary>Top-k selection over a full score vector with excluded items.</summary>
public static class TopK
{
    /// <summary>
    /// The best <paramref name="k"/> items of <paramref name="scores"/> (index = item), best first, skipping the items
    /// in <paramref name="sortedExcludeA"/> and <paramref name="sortedExcludeB"/> (each sorted ascending; duplicates
    /// and indices outside the vector are allowed). Returns fewer than k items when fewer candidates remain.
    /// </summary>
    public static ScoredItem[] Select(ReadOnlySpan<float> scores, int k, ReadOnlySpan<int> sortedExcludeA = default, ReadOnlySpan<int> sortedExcludeB = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var selector = new TopKSelector(Math.Min(k, scores.Length));
        AddExcluding(selector, scores, sortedExcludeA, sortedExcludeB);
        return selector.ToSortedArray();
    }

    /// <summary>Offers every item of <paramref name="scores"/> except the excluded ones, in runs between exclusions.</summary>
    public static void AddExcluding(TopKSelector selector, ReadOnlySpan<float> scores, ReadOnlySpan<int> sortedExcludeA, ReadOnlySpan<int> sortedExcludeB)
    {
        int i = 0, p = 0, q = 0, n = scores.Length;
        while (i < n)
        {
            while (p < sortedExcludeA.Length && sortedExcludeA[p] < i)
            {
                p++;
            }
            while (q < sortedExcludeB.Length && sortedExcludeB[q] < i)
            {
                q++;
            }
            var next = n;
            if (p < sortedExcludeA.Length && sortedExcludeA[p] < next)
            {
                next = sortedExcludeA[p];
            }
            if (q < sortedExcludeB.Length && sortedExcludeB[q] < next)
            {
                next = sortedExcludeB[q];
            }
            if (next > i)
            {
                selector.AddRange(scores[i..next], i);
            }
            i = next + 1;
        }
    }

    /// <summary>A sorted, de-duplicated copy of an explicit exclusion list, checked against the item count.</summary>
    public static int[] SortedExclusions(IEnumerable<int>? items, int itemCount)
    {
        if (items is null)
        {
            return [];
        }
        var sorted = items.ToArray();
        foreach (var item in sorted)
        {
            if ((uint)item >= (uint)itemCount)
            {
                throw new ArgumentOutOfRangeException(nameof(items), $"Excluded item {item} is outside 0..{itemCount - 1}.");
            }
        }
        Array.Sort(sorted);
        var write = 0;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (write == 0 || sorted[write - 1] != sorted[i])
            {
                sorted[write++] = sorted[i];
            }
        }
        return write == sorted.Length ? sorted : sorted[..write];
    }
}
