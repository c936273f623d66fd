namespace WalsCluster.Messages;

/// <summary>The top <paramref name="K"/> items for trained user <paramref name="User"/> (external id), without the user's
/// training items unless <paramref name="IncludeSeen"/>. Replied with <see cref="Recommendations"/>.</summary>
public sealed record Recommend(string User, int K, bool IncludeSeen = false) : IWalsMessage;

/// <summary>The <paramref name="K"/> items whose factors have the highest cosine with item <paramref name="Item"/>'s.
/// Replied with <see cref="Recommendations"/>.</summary>
public sealed record SimilarItems(string Item, int K) : IWalsMessage;

/// <summary>
/// Recommendations for a user who is not in the model, from the items they interacted with (external ids and raw
/// values; an id given twice counts once with the values summed, as in training): x is folded in by one exact solve
/// against the fixed item factors, trained and cold, (w0 G + sum_i (c_i - w0) y_i y_i^T + lambda I) x = sum_i c_i p_i y_i.
/// Replied with <see cref="Recommendations"/>; an id that no shard holds makes it a failure naming it, and so does a value
/// (or a sum of an id's values) that is not a finite number. The given items are left out of the ranking unless
/// <paramref name="IncludeSeen"/>.
/// </summary>
public sealed record RecommendForItems(string[] Items, float[] Values, int K, bool IncludeSeen = false) : IWalsMessage;

/// <summary>One ranked item: external id, global index in the model, score (dot product or cosine).</summary>
public sealed record RankedItem(string Id, int Index, float Score);

/// <summary>
/// Reply to <see cref="Recommend"/>, <see cref="SimilarItems"/> and <see cref="RecommendForItems"/>: best first (ties to
/// the lower item index). <paramref name="MissingShards"/> lists the item shards that did not answer in time (the
/// reply is then partial); <paramref name="Failure"/> says why there is no answer at all (unknown user, no model).
/// </summary>
public sealed record Recommendations(string Query, RankedItem[] Items, int[] MissingShards, string? Failure) : IWalsMessage
{
    public bool IsPartial => MissingShards.Length > 0;
}

/// <summary>Router to the shard that owns external id <paramref name="Id"/>: its factor row and interactions.</summary>
public sealed record GetRowVector(Side Side, int Shard, string Id) : IShardMessage;

/// <summary>Reply to <see cref="GetRowVector"/>: global index, factor row and the global indices (ascending) of the other
/// side's rows it interacted with; <paramref name="Failure"/> when the shard does not know the id or holds no model.</summary>
public sealed record RowVector(string Id, int Global, float[] Vector, int[] Interactions, string? Failure) : IWalsMessage;

/// <summary>Reply to <see cref="RankShardItems"/>: the shard's best items, best first; <paramref name="Failure"/> when it holds no model.</summary>
public sealed record ShardTopK(int Shard, int[] Items, string[] Ids, float[] Scores, string? Failure) : IWalsMessage;

/// <summary>Router to an item shard: its share of the fold-in normal equations for the given items (those it holds).</summary>
public sealed record GetFoldInTerms(Side Side, int Shard, string[] Items, float[] Values) : IShardMessage;

/// <summary>
/// Reply to <see cref="GetFoldInTerms"/>: the shard's partial Gram Y_s^T Y_s over its trained rows and its
/// <paramref name="ColdItems"/> cold items with projected factors (as the saved model holds them, so that a fold-in on
/// the cluster equals one on the model file), sum over its given items of (c - w0) y y^T (both packed), sum of c p y,
/// the global indices of the given items it holds (trained or cold), the given ids it holds neither way
/// (<paramref name="Unknown"/>), and the run's w0, lambda, nu and trained item count (for
/// lambda_u = lambda (n_u + w0 N)^nu, N the trained items plus every shard's cold items).
/// </summary>
public sealed record FoldInTerms(
    int Shard, double[] PartialGram, double[] LowRank, double[] B, int[] Found,
    float UnobservedWeight, float Regularization, float RegularizationExponent, int ItemCount, string? Failure, int ColdItems = 0,
    string[]? Unknown = null) : IWalsMessage;
