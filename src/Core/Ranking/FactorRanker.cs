using WalsCluster.Core.Model;
using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Ranking;

/// <summary>
/// Exact top-k by the recommendation score x_u . y_i and similar items by cos(y_i, y_j) (DESIGN section 1).
/// Item factors are packed once into panels; all queries score with <see cref="ScoreKernels"/>, so a user gets the same
/// scores (bit for bit) alone and in a batch. A factor matrix holding NaN or infinity is rejected: it is a failed fit.
/// </summary>
public sealed class FactorRanker : IItemScorer
{
    /// <summary>Users scored together in a batch: 32 user rows (8 register tiles) share each packed item panel while it is in L1.</summary>
    private const int UserBlock = 32;

    private readonly float[] _userFactors;
    private readonly PackedPanels _items;
    private readonly Lazy<PackedPanels> _normalisedItems;
    private readonly float[] _itemFactors;

    public FactorRanker(FactorModel model)
        : this(model.UserFactors, model.Users.Count, model.ItemFactors, model.Items.Count, model.Factors)
    {
    }

    public FactorRanker(float[] userFactors, int users, float[] itemFactors, int items, int factors)
    {
        ArgumentNullException.ThrowIfNull(userFactors);
        ArgumentNullException.ThrowIfNull(itemFactors);
        ArgumentOutOfRangeException.ThrowIfLessThan(factors, 1);
        if (userFactors.Length != (long)users * factors || itemFactors.Length != (long)items * factors)
        {
            throw new ArgumentException($"Factor arrays do not match {users} users, {items} items and {factors} factors.");
        }
        CheckFinite(userFactors, "user");
        CheckFinite(itemFactors, "item");
        _userFactors = userFactors;
        _itemFactors = itemFactors;
        UserCount = users;
        ItemCount = items;
        Factors = factors;
        _items = new PackedPanels(itemFactors, items, factors);
        _normalisedItems = new Lazy<PackedPanels>(() => new PackedPanels(NormaliseRows(_itemFactors, ItemCount, Factors), ItemCount, Factors));
    }

    public int UserCount { get; }
    public int ItemCount { get; }
    public int Factors { get; }

    /// <summary>scores[i] = x . y_i for every item i.</summary>
    public void ScoreItems(ReadOnlySpan<float> userVector, Span<float> scores)
    {
        if (userVector.Length != Factors)
        {
            throw new ArgumentException($"The user vector has {userVector.Length} values, expected {Factors}.", nameof(userVector));
        }
        if (scores.Length != ItemCount)
        {
            throw new ArgumentException($"The score span has {scores.Length} entries, expected {ItemCount}.", nameof(scores));
        }
        ScoreOne(userVector, _items, scores);
    }

    /// <summary>Top-k items for a user vector (e.g. folded in), leaving out <paramref name="sortedExclude"/> (ascending).</summary>
    public ScoredItem[] Recommend(ReadOnlySpan<float> userVector, int k, ReadOnlySpan<int> sortedExclude = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var scores = new float[ItemCount];
        ScoreItems(userVector, scores);
        return TopK.Select(scores, k, sortedExclude);
    }

    /// <summary>Top-k items for trained user <paramref name="user"/>: x_u . y_i over all items, without the user's row of
    /// <paramref name="train"/> (unless <see cref="RecommendOptions.ExcludeTrainingItems"/> is false) and without
    /// <see cref="RecommendOptions.Exclude"/>. Best first; ties go to the lower item index; fewer than k when fewer candidates remain.</summary>
    public ScoredItem[] Recommend(int user, int k, CsrMatrix? train = null, RecommendOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        options ??= RecommendOptions.Default;
        var trainMatrix = options.ExcludeTrainingItems ? train : null;
        Recommendations.CheckTrain(this, trainMatrix, [user]);
        var exclude = TopK.SortedExclusions(options.Exclude, ItemCount);
        var scores = new float[ItemCount];
        ScoreOne(_userFactors.AsSpan(user * Factors, Factors), _items, scores);
        return TopK.Select(scores, k, trainMatrix is null ? default : trainMatrix.RowIndices(user), exclude);
    }

    /// <summary>Top-k for many users (result i belongs to users[i]) with the same rules as <see cref="Recommend(int, int, CsrMatrix?, RecommendOptions?)"/>:
    /// blocks of users scored against all items by the tiled kernel, then a bounded-heap selection per user, parallel over user blocks.</summary>
    public ScoredItem[][] RecommendBatch(ReadOnlySpan<int> users, int k, CsrMatrix? train = null, RecommendOptions? options = null) =>
        Recommendations.RecommendBatch(this, users, k, train, options);

    /// <summary>Top-k for every trained user.</summary>
    public ScoredItem[][] RecommendAll(int k, CsrMatrix? train = null, RecommendOptions? options = null) =>
        RecommendBatch(Enumerable.Range(0, UserCount).ToArray(), k, train, options);

    /// <inheritdoc />
    public void ScoreUsers(ReadOnlySpan<int> users, int threads, UserScoresVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        foreach (var user in users)
        {
            if ((uint)user >= (uint)UserCount)
            {
                throw new ArgumentOutOfRangeException(nameof(users), $"User {user} is outside 0..{UserCount - 1}.");
            }
        }
        if (ItemCount == 0)
        {
            for (var slot = 0; slot < users.Length; slot++)
            {
                visitor(slot, users[slot], ReadOnlySpan<float>.Empty);
            }
            return;
        }
        var list = users.ToArray();
        var k = Factors;
        var ldc = _items.PaddedRowCount;
        Recommendations.ParallelChunks(list.Length, UserBlock, threads,
            () => (Block: new float[UserBlock * k], Scores: new float[UserBlock * ldc]),
            (start, end, state) =>
            {
                var rows = end - start;
                for (var r = 0; r < rows; r++)
                {
                    _userFactors.AsSpan(list[start + r] * k, k).CopyTo(state.Block.AsSpan(r * k, k));
                }
                ScoreKernels.ScoreRows(state.Block, rows, _items, 0, _items.PanelCount, state.Scores, ldc);
                for (var r = 0; r < rows; r++)
                {
                    visitor(start + r, list[start + r], state.Scores.AsSpan(r * ldc, ItemCount));
                }
            });
    }

    /// <summary>The k items most similar to <paramref name="item"/> by cosine of item vectors, cos(y_i, y_j) =
    /// y_i . y_j / (|y_i| |y_j|), without the item itself. An item with a zero vector has similarity 0 to everything.</summary>
    public ScoredItem[] SimilarItems(int item, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if ((uint)item >= (uint)ItemCount)
        {
            throw new ArgumentOutOfRangeException(nameof(item), $"Item {item} is outside 0..{ItemCount - 1}.");
        }
        return SimilarItems(_itemFactors.AsSpan(item * Factors, Factors), k, [item]);
    }

    /// <summary>The k items whose vectors have the highest cosine with <paramref name="vector"/>, leaving out
    /// <paramref name="sortedExclude"/> (ascending).</summary>
    public ScoredItem[] SimilarItems(ReadOnlySpan<float> vector, int k, ReadOnlySpan<int> sortedExclude = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (vector.Length != Factors)
        {
            throw new ArgumentException($"The vector has {vector.Length} values, expected {Factors}.", nameof(vector));
        }
        var query = new float[Factors];
        NormaliseInto(vector, query);
        var scores = new float[ItemCount];
        ScoreOne(query, _normalisedItems.Value, scores);
        return TopK.Select(scores, k, sortedExclude);
    }

    private static void ScoreOne(ReadOnlySpan<float> vector, PackedPanels panels, Span<float> scores)
    {
        if (panels.RowCount == 0)
        {
            return;
        }
        if (scores.Length == panels.PaddedRowCount)
        {
            ScoreKernels.ScoreRows(vector, 1, panels, 0, panels.PanelCount, scores, panels.PaddedRowCount);
            return;
        }
        // All whole panels straight into the output, the last (partial) panel through a small buffer.
        var whole = panels.RowCount / ScoreKernels.PanelWidth;
        ScoreKernels.ScoreRows(vector, 1, panels, 0, whole, scores, scores.Length);
        Span<float> tail = stackalloc float[ScoreKernels.PanelWidth];
        var tailStart = whole * ScoreKernels.PanelWidth;
        ScoreKernels.ScoreRows(vector, 1, panels, whole, 1, tail, ScoreKernels.PanelWidth);
        tail[..(panels.RowCount - tailStart)].CopyTo(scores[tailStart..]);
    }

    private static float[] NormaliseRows(float[] rows, int count, int factors)
    {
        var result = new float[rows.Length];
        for (var r = 0; r < count; r++)
        {
            NormaliseInto(rows.AsSpan(r * factors, factors), result.AsSpan(r * factors, factors));
        }
        return result;
    }

    private static void NormaliseInto(ReadOnlySpan<float> source, Span<float> target)
    {
        var norm = System.Numerics.Tensors.TensorPrimitives.Norm(source);
        if (norm > 0f)
        {
            System.Numerics.Tensors.TensorPrimitives.Divide(source, norm, target);
        }
        else
        {
            target.Clear();
        }
    }

    private static void CheckFinite(float[] values, string side)
    {
        for (var n = 0; n < values.Length; n++)
        {
            if (!float.IsFinite(values[n]))
            {
                throw new ArgumentException($"The {side} factors hold a non-finite value ({values[n]}) at index {n}: the model is not usable.");
            }
        }
    }
}
