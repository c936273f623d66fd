namespace WalsCluster.Actors.Embedding;

/// <summary>
/// Embed <paramref name="Texts"/>; <paramref name="Ids"/>[i] names <paramref name="Texts"/>[i]. Sent to an
/// <see cref="EmbeddingPool"/> (or straight to one <see cref="Embedder"/>). Local protocol: never crosses the wire.
/// Replied with <see cref="TextsEmbedded"/> or <see cref="EmbeddingRejected"/>.
/// </summary>
public sealed record EmbedTexts(string[] Ids, string[] Texts);

/// <summary>Reply to <see cref="EmbedTexts"/>: one vector per text, in the request's order.</summary>
public sealed record TextsEmbedded(string[] Ids, float[][] Vectors);

/// <summary>Reply to <see cref="EmbedTexts"/> when it was not embedded: the queue is full (<c>busy ...</c>),
/// the request is malformed (<c>invalid ...</c>) or the encoder failed (<c>failed ...</c>).</summary>
public sealed record EmbeddingRejected(string Reason);
