namespace WalsCluster.Messages;

/// <summary>
/// Embed <paramref name="Texts"/>; <paramref name="Ids"/>[i] names <paramref name="Texts"/>[i]. Sent to an
/// <c>EmbeddingPool</c> (on this node or, through the embedding router, on an <c>embedder</c> node) or straight to one
/// <c>Embedder</c>. Replied with <see cref="TextsEmbedded"/> or <see cref="EmbeddingRejected"/>.
/// </summary>
public sealed record EmbedTexts(string[] Ids, string[] Texts) : IWalsMessage;

/// <summary>Reply to <see cref="EmbedTexts"/>: one vector per text, in the request's order.</summary>
public sealed record TextsEmbedded(string[] Ids, float[][] Vectors) : IWalsMessage;

/// <summary>Reply to <see cref="EmbedTexts"/> (or <see cref="GetEncoderSettings"/>) when it was not served: the queue is
/// full (<c>busy ...</c>: retry later), the request is malformed (<c>invalid ...</c>) or the encoder failed (<c>failed ...</c>).</summary>
public sealed record EmbeddingRejected(string Reason) : IWalsMessage;

/// <summary>Asks an embedding pool how its encoder embeds (model, pooling, max length, dimension); loads a lazily loaded
/// model. Replied with <see cref="EncoderSettingsReport"/>.</summary>
public sealed record GetEncoderSettings : IWalsMessage
{
    public static GetEncoderSettings Instance { get; } = new();
}

/// <summary>Reply to <see cref="GetEncoderSettings"/>: the settings as the JSON of the embeddings file header
/// (<c>EmbeddingSettings.ToJson</c>), or <paramref name="Failure"/> when the encoder could not be created.</summary>
public sealed record EncoderSettingsReport(string SettingsJson, string? Failure) : IWalsMessage;

/// <summary>
/// The embeddings of some items of item shard <paramref name="Shard"/> for run <paramref name="Run"/>: item
/// <paramref name="Ids"/>[j] has global index <paramref name="Globals"/>[j] (its index in the run's interactions, or, for
/// an item without interactions, the item count plus its rank among those items in the item-text source) and vector
/// row j of <paramref name="Vectors"/> (Ids.Length x <paramref name="Dimension"/>, row-major). <paramref name="ItemShards"/>
/// is the shard count the sender partitioned by (the shard checks that each id is its own). Idempotent by
/// <paramref name="Sequence"/>; replied with <see cref="ItemEmbeddingsAccepted"/>.
/// </summary>
public sealed record ItemEmbeddingBatch(string Run, Side Side, int Shard, int Sequence, int ItemShards, string[] Ids, int[] Globals, int Dimension, float[] Vectors) : IShardMessage;

/// <summary>Reply to <see cref="ItemEmbeddingBatch"/>: the shard now holds <paramref name="Items"/> embeddings of the run
/// (<paramref name="Duplicate"/> when this sequence number was already stored); <paramref name="Failure"/> says why the
/// batch was refused (an id of another shard, a dimension that differs from the run's, an id sent twice).</summary>
public sealed record ItemEmbeddingsAccepted(string Run, int Shard, int Sequence, int Items, bool Duplicate, string? Failure) : IWalsMessage;

/// <summary>
/// How the coordinator fits the text-to-factor projection of a run: <paramref name="ValidationFraction"/> of the warm
/// items (text and training interactions) are held out by a stable hash of their id to choose mu;
/// <paramref name="Weighting"/> 0 counts every warm item once, 1 counts item i 1 + floor(log2 n_i) times, 2 counts it n_i times;
/// <paramref name="ItemShardEmbeddings"/>[t] is the number of embeddings item shard t must hold (as the pipeline sent them);
/// the last <paramref name="MetadataFeatures"/> values of each embedding are structured item features appended by the
/// client (<c>MetadataFeatures</c>), not the encoder's: the coordinator also fits a map of the text part alone for text
/// queries (<see cref="ProjectionFitted.QueryProjection"/>).
/// </summary>
public sealed record ProjectionRequest(double ValidationFraction, byte Weighting, int[] ItemShardEmbeddings, int MetadataFeatures = 0);

/// <summary>Asks the coordinator to fit the projection of completed run <paramref name="Run"/> from its item shards'
/// embeddings (again, or for a run started without one). Replied with <see cref="ProjectionFitted"/> or <see cref="ProjectionFailed"/>.</summary>
public sealed record FitProjection(string Run, ProjectionRequest Request) : IWalsMessage;

/// <summary>
/// Coordinator to an item shard: its part of the projection's sufficient statistics (n, sum e, sum y, sum |y|^2, E^T E,
/// E^T Y over its warm items), the training part or, with <paramref name="Validation"/>, the held-out part.
/// Replied with <see cref="ProjectionSumsReport"/>.
/// </summary>
public sealed record GetProjectionSums(string Run, Side Side, int Shard, bool Validation, double ValidationFraction, byte Weighting, int ExpectedEmbeddings) : IShardMessage;

/// <summary>Reply to <see cref="GetProjectionSums"/>: <paramref name="Sums"/> is <c>ProjectionSums.ToBytes</c> of the
/// asked part; <paramref name="WarmItems"/> (in that part) and <paramref name="ColdItems"/> (embedded items without
/// interactions on this shard) are counts; <paramref name="Failure"/> when the shard does not hold the run or its embeddings.</summary>
public sealed record ProjectionSumsReport(string Run, int Shard, bool Validation, byte[] Sums, int WarmItems, int ColdItems, string? Failure) : IWalsMessage;

/// <summary>Coordinator to an item shard: give every cold item of run <paramref name="Run"/> the factors y = W^T e + b of
/// <paramref name="Projection"/> (<c>RidgeProjection.ToBytes</c>). Replied with <see cref="ProjectionApplied"/>.</summary>
public sealed record ApplyProjection(string Run, Side Side, int Shard, byte[] Projection) : IShardMessage;

/// <summary>Reply to <see cref="ApplyProjection"/>: how many cold items got factors.</summary>
public sealed record ProjectionApplied(string Run, int Shard, int ColdItems, string? Failure) : IWalsMessage;

/// <summary>
/// The coordinator fitted run <paramref name="Run"/>'s projection (to the run's submitter after
/// <see cref="TrainingCompleted"/>, or in reply to <see cref="FitProjection"/> / <see cref="GetProjection"/>): mu chosen
/// among <paramref name="MuCandidates"/> by the validation MSE <paramref name="ValidationErrors"/> (per item, summed over
/// the k factors), <paramref name="ValidationMse"/> at the chosen mu beside <paramref name="ValidationMeanSquare"/>
/// (mean |y|^2, the error of predicting 0), the item counts, the cold items that got factors, and the projection refitted
/// on all warm items (<c>RidgeProjection.ToBytes</c>); <paramref name="MetadataFeatures"/> as in the run's <see cref="ProjectionRequest"/>;
/// with metadata features, <paramref name="QueryProjection"/> is the map fitted on the text part of the same vectors
/// alone (its own mu), which free-text queries are projected with; null without them.
/// </summary>
public sealed record ProjectionFitted(
    string Run, double Mu, double ValidationMse, double ValidationMeanSquare, int TrainItems, int ValidationItems, int ColdItems,
    double[] MuCandidates, double[] ValidationErrors, byte[] Projection, double Seconds, int MetadataFeatures = 0, byte[]? QueryProjection = null) : IWalsMessage;

/// <summary>The projection of run <paramref name="Run"/> could not be fitted, and why.</summary>
public sealed record ProjectionFailed(string Run, string Reason) : IWalsMessage;

/// <summary>Asks the coordinator for the last fitted projection. Replied with <see cref="ProjectionFitted"/> or <see cref="ProjectionFailed"/>.</summary>
public sealed record GetProjection : IWalsMessage
{
    public static GetProjection Instance { get; } = new();
}

/// <summary>
/// The top <paramref name="K"/> items for a free-text query: the text is embedded by the cluster's embedding pool,
/// projected with the last fitted projection (q = W^T e + b, the text-only map when the items had metadata features),
/// turned into the query vector of a user whose only interaction is that point, x = (w0 G + lambda_1 I)^-1 q (G from the
/// item shards' partial Grams, as a fold-in), and scored x . y_i over every item, cold items included, nothing
/// excluded. Replied with <see cref="Recommendations"/>.
/// </summary>
public sealed record RecommendForText(string Text, int K) : IWalsMessage;

/// <summary>Router to an item shard: its own top <paramref name="K"/> items for query vector <paramref name="Query"/> by dot
/// product, or by cosine when <paramref name="Cosine"/>, leaving out <paramref name="Exclude"/> (global indices, ascending),
/// over its trained rows and its cold items that have projected factors. Replied with <see cref="ShardTopK"/>.</summary>
public sealed record RankShardItems(Side Side, int Shard, float[] Query, int K, bool Cosine, int[] Exclude) : IShardMessage;

/// <summary>Router to an item shard: the projected factors of cold item <paramref name="Id"/>. Replied with <see cref="RowVector"/>.</summary>
public sealed record GetColdItemVector(Side Side, int Shard, string Id) : IShardMessage;

/// <summary>Asks an item shard for up to <paramref name="MaxRows"/> of its cold items (with projected factors) from
/// position <paramref name="Offset"/> on, in global order. Replied with <see cref="ColdItemFactors"/>.</summary>
public sealed record GetColdItems(string Run, Side Side, int Shard, int Offset, int MaxRows) : IShardMessage;

/// <summary>Reply to <see cref="GetColdItems"/>: ids, global indices and factor rows of cold items; <paramref name="TotalRows"/>
/// is the shard's cold item count; <paramref name="Failure"/> when it has no projected cold items of the run.</summary>
public sealed record ColdItemFactors(string Run, int Shard, int TotalRows, int Offset, string[] Ids, int[] Globals, float[] Values, string? Failure) : IWalsMessage;
