using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using WalsCluster.Core.Model;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>What the projection fit recorded (stored beside W and b).</summary>
public sealed record ProjectionFitInfo
{
    /// <summary>Warm items (text and trained factors) whose sums trained each candidate mu.</summary>
    [JsonPropertyName("train_items")]
    public int TrainItems { get; init; }

    /// <summary>Held-out warm items that chose mu.</summary>
    [JsonPropertyName("validation_items")]
    public int ValidationItems { get; init; }

    /// <summary>Mean squared error per validation item (summed over the k factors) at the chosen mu.</summary>
    [JsonPropertyName("validation_mse")]
    public double ValidationMse { get; init; }

    /// <summary>Mean |y|^2 of the validation items: the error of predicting y = 0, for scale.</summary>
    [JsonPropertyName("validation_mean_square")]
    public double ValidationMeanSquare { get; init; }

    [JsonPropertyName("validation_fraction")]
    public double ValidationFraction { get; init; }

    [JsonPropertyName("seed")]
    public ulong Seed { get; init; }

    /// <summary>The mu of the text-only map for free-text queries (null when the vectors have no metadata features, and
    /// one map serves both).</summary>
    [JsonPropertyName("query_mu")]
    public double? QueryMu { get; init; }

    /// <summary>Items added to the model from their text (y = W^T e + b) when it was written. Items the model already had
    /// without training interactions also get their factors from text, in place, and are not listed.</summary>
    [JsonPropertyName("projected_items")]
    public IReadOnlyList<string> ProjectedItems { get; init; } = [];
}

/// <summary>
/// The model file's <c>projection</c> section: the embedding settings (so a text query is embedded exactly as the items
/// were), what the fit recorded, the <see cref="RidgeProjection"/> (W, b, mu) of item vectors, and, when those vectors
/// carry metadata features, <paramref name="QueryProjection"/>: the map of their text part alone, for free-text
/// queries. Layout, little-endian: int32 byte length of a UTF-8 JSON object
/// <c>{"embedding": EmbeddingSettings, "fit": ProjectionFitInfo}</c>, the JSON, <see cref="RidgeProjection.ToBytes"/>
/// of the item map, then that of the query map when there is one.
/// </summary>
public sealed record ProjectionSection(EmbeddingSettings Embedding, ProjectionFitInfo Fit, RidgeProjection Projection, RidgeProjection? QueryProjection = null)
{
    /// <summary>The section name in the model file.</summary>
    public const string Name = "projection";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private sealed record Header(
        [property: JsonPropertyName("embedding")] EmbeddingSettings Embedding,
        [property: JsonPropertyName("fit")] ProjectionFitInfo Fit);

    public ModelSection ToModelSection()
    {
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Header(Embedding, Fit), Json));
        var projection = Projection.ToBytes();
        var query = QueryProjection?.ToBytes() ?? [];
        var bytes = new byte[4 + json.Length + projection.Length + query.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 4);
        projection.CopyTo(bytes, 4 + json.Length);
        query.CopyTo(bytes, 4 + json.Length + projection.Length);
        return new ModelSection(Name, bytes);
    }

    /// <summary>Decodes the section; <paramref name="modelPath"/> names the file in errors.</summary>
    public static ProjectionSection FromModelSection(ModelSection section, string modelPath)
    {
        var s = section.Payload.AsSpan();
        var length = s.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(s) : -1;
        if (length < 0 || 4L + length > s.Length)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}' is truncated.");
        }
        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(s.Slice(4, length), Json)
                ?? throw new ModelFormatException(modelPath, $"section '{Name}' has an empty header.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}' has a bad header ({e.Message}).");
        }
        RidgeProjection projection;
        RidgeProjection? query = null;
        try
        {
            var rest = s[(4 + length)..];
            var first = RidgeProjection.LengthAt(rest);
            projection = RidgeProjection.FromBytes(rest[..first]);
            if (rest.Length > first)
            {
                query = RidgeProjection.FromBytes(rest[first..]);
            }
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}': {e.Message}");
        }
        if (projection.D != header.Embedding.Dimension)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}': the projection takes {projection.D}-dimensional vectors but the embedding settings say {header.Embedding.Dimension}.");
        }
        if (query is not null && (query.D != header.Embedding.TextDimension || query.K != projection.K))
        {
            throw new ModelFormatException(modelPath, $"section '{Name}': the query projection is {query.D} x {query.K} but the text vectors have {header.Embedding.TextDimension} values and the factors {projection.K}.");
        }
        return new ProjectionSection(header.Embedding, header.Fit, projection, query);
    }

    /// <summary>
    /// The map for a free-text query's vector (text only): <see cref="QueryProjection"/>, or <see cref="Projection"/> when
    /// the item vectors have no metadata features. A model written before query maps were stored, whose projection needs
    /// features a text query does not have, cannot answer one; <paramref name="modelPath"/> names it in that error.
    /// </summary>
    public RidgeProjection ForTextQueries(string modelPath)
    {
        if (QueryProjection is not null)
        {
            return QueryProjection;
        }
        if (Embedding.TextDimension == Embedding.Dimension)
        {
            return Projection;
        }
        throw new ArgumentException($"Model '{modelPath}': its projection takes {Embedding.Metadata?.Count} metadata features beside the text vector, and the " +
            "model has no text-only map for free-text queries (it was written before those were stored). Train it again with --item-text.");
    }

    /// <summary>The projection stored in <paramref name="saved"/>, or null when it has none.</summary>
    public static ProjectionSection? Find(SavedModel saved, string modelPath) =>
        saved.Section(Name) is { } section ? FromModelSection(section, modelPath) : null;
}
