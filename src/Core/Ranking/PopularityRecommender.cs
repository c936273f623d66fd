using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Ranking;

/// <summary>
/// The popularity baseline: every user gets the same item scores, the number of users with a positive training
/// interaction with the item (r_ui &gt; 0; a negative raw value means "disliked", DESIGN section 1). Top-k follows the
/// same rules as the factor model: training items of the user excluded by default, ties to the lower item index.
/// </summary>
public sealed class PopularityRecommender : IItemScorer
{
    private readonly float[] _popularity;

    public PopularityRecommender(CsrMatrix train)
    {
        ArgumentNullException.ThrowIfNull(train);
        UserCount = train.Rows;
        ItemCount = train.Columns;
        _popularity = new float[train.Columns];
        for (var n = 0; n < train.NonZeros; n++)
        {
            if (train.Values[n] > 0f)
            {
                _popularity[train.ColumnIndex[n]] += 1f;
            }
        }
        Train = train;
    }

    /// <summary>The matrix the counts came from; also the default source of the items to exclude.</summary>
    public CsrMatrix Train { get; }

    public int UserCount { get; }
    public int ItemCount { get; }

    /// <summary>Number of users with a positive training interaction, per item.</summary>
    public ReadOnlySpan<float> Popularity => _popularity;

    /// <summary>Top-k items by popularity for <paramref name="user"/>, without the user's training items unless
    /// <see cref="RecommendOptions.ExcludeTrainingItems"/> is false, and without <see cref="RecommendOptions.Exclude"/>.</summary>
    public ScoredItem[] Recommend(int user, int k, RecommendOptions? options = null)
    {
        options ??= RecommendOptions.Default;
        if ((uint)user >= (uint)UserCount)
        {
            throw new ArgumentOutOfRangeException(nameof(user), $"User {user} is outside 0..{UserCount - 1}.");
        }
        var exclude = TopK.SortedExclusions(options.Exclude, ItemCount);
        return TopK.Select(_popularity, k, options.ExcludeTrainingItems ? Train.RowIndices(user) : default, exclude);
    }

    /// <summary>Top-k for many users; result i belongs to users[i].</summary>
    public ScoredItem[][] RecommendBatch(ReadOnlySpan<int> users, int k, RecommendOptions? options = null) =>
        Recommendations.RecommendBatch(this, users, k, Train, options);

    /// <inheritdoc />
    public void ScoreUsers(ReadOnlySpan<int> users, int threads, UserScoresVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        var list = users.ToArray();
        foreach (var user in list)
        {
            if ((uint)user >= (uint)UserCount)
            {
                throw new ArgumentOutOfRangeException(nameof(users), $"User {user} is outside 0..{UserCount - 1}.");
            }
        }
        Recommendations.ParallelChunks(list.Length, 256, threads, static () => 0, (start, end, _) =>
        {
            for (var slot = start; slot < end; slot++)
            {
                visitor(slot, list[slot], _popularity);
            }
        });
    }
}
