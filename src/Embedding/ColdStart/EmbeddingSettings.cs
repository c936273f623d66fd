using System.Text.Json;
using System.Text.Json.Serialization;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>
/// How a set of vectors was made: enough to embed a new text the same way (a text query against a projection fitted
/// on item vectors must use the same model, pooling and max length). Stored in embeddings files and in the model
/// file's <c>projection</c> section as JSON with snake_case names.
/// </summary>
public sealed record EmbeddingSettings
{
    /// <summary>Catalogue name (<c>minilm</c>) or the model folder (full path).</summary>
    [JsonPropertyName("model")]
    public required string Model { get; init; }

    /// <summary><c>layers</c>, <c>cls</c>, <c>mean</c> or <c>pooler</c>.</summary>
    [JsonPropertyName("pooling")]
    public required string Pooling { get; init; }

    /// <summary>N of the <c>layers</c> pooling.</summary>
    [JsonPropertyName("layer_count")]
    public int LayerCount { get; init; } = 4;

    /// <summary>w_j from the last layer downward; null = 1/N each.</summary>
    [JsonPropertyName("layer_weights")]
    public IReadOnlyList<float>? LayerWeights { get; init; }

    [JsonPropertyName("normalize")]
    public bool Normalize { get; init; } = true;

    /// <summary>Tokens per text in effect (already capped at the model's limit).</summary>
    [JsonPropertyName("max_length")]
    public int MaxLength { get; init; } = 128;

    /// <summary>Length of the vectors (the encoder's, plus the metadata features when there are any).</summary>
    [JsonPropertyName("dimension")]
    public int Dimension { get; init; }

    /// <summary>The ONNX weights' digest (<see cref="TextEncoder.ModelDigest"/>); null in files written before session 9.</summary>
    [JsonPropertyName("model_sha256")]
    public string? ModelDigest { get; init; }

    /// <summary>Structured features appended after the encoder's values (<c>wals embed --metadata-features</c>); null: none.</summary>
    [JsonPropertyName("metadata")]
    public MetadataFeatures? Metadata { get; init; }

    /// <summary>These settings for the encoder's vectors followed by <paramref name="metadata"/>'s features.</summary>
    public EmbeddingSettings WithMetadata(MetadataFeatures metadata)
    {
        if (Metadata is not null)
        {
            throw new InvalidOperationException("These settings already describe metadata features.");
        }
        return this with { Dimension = Dimension + metadata.Count, Metadata = metadata };
    }

    /// <summary>Values per vector that come from the encoder.</summary>
    [JsonIgnore]
    public int TextDimension => Dimension - (Metadata?.Count ?? 0);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The settings an encoder runs with.</summary>
    public static EmbeddingSettings From(EncoderInfo info) => new()
    {
        Model = info.Model,
        Pooling = info.Pooling.Mode.ToString().ToLowerInvariant(),
        LayerCount = info.Pooling.LayerCount,
        LayerWeights = info.Pooling.LayerWeights?.ToArray(),
        Normalize = info.Pooling.Normalize,
        MaxLength = info.MaxLength,
        Dimension = info.Dimension,
        ModelDigest = info.ModelDigest,
    };

    /// <summary>Encoder options that reproduce these settings on <paramref name="device"/>.</summary>
    public EncoderOptions ToEncoderOptions(string device = "cpu", int intraOpThreads = 0) => new()
    {
        Device = device,
        IntraOpThreads = intraOpThreads,
        MaxLength = MaxLength,
        Pooling = new PoolingOptions
        {
            Mode = PoolingOptions.ParseMode(Pooling),
            LayerCount = LayerCount,
            LayerWeights = LayerWeights?.ToArray(),
            Normalize = Normalize,
        },
    };

    /// <summary>Whether texts encoded with <paramref name="other"/> are comparable with these: the same weights (by digest,
    /// when both have one; the model name may be a moved folder) and the same pooling, max length and dimension
    /// (metadata features aside, which an encoder does not make).</summary>
    public bool SameEncoding(EmbeddingSettings other) =>
        Pooling == other.Pooling && LayerCount == other.LayerCount && Normalize == other.Normalize && MaxLength == other.MaxLength
        && TextDimension == other.TextDimension
        && (LayerWeights ?? []).SequenceEqual(other.LayerWeights ?? [])
        && (ModelDigest is null || other.ModelDigest is null || ModelDigest == other.ModelDigest);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses <see cref="ToJson"/>'s output; <paramref name="where"/> names the source in the error.</summary>
    public static EmbeddingSettings FromJson(string json, string where)
    {
        try
        {
            var settings = JsonSerializer.Deserialize<EmbeddingSettings>(json, Json)
                ?? throw new InvalidDataException($"{where}: the embedding settings are null.");
            PoolingOptions.ParseMode(settings.Pooling);
            settings.Metadata?.Validate(where);
            if (settings.Metadata is not null && settings.TextDimension < 1)
            {
                throw new InvalidDataException($"{where}: dimension {settings.Dimension} leaves no room for the encoder's values beside {settings.Metadata?.Count} metadata features.");
            }
            return settings;
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new InvalidDataException($"{where}: the embedding settings are not valid ({e.Message}).", e);
        }
    }

    public override string ToString() =>
        $"{Model}{(ModelDigest is null ? "" : $" (onnx {ModelDigest})")}, pooling {Pooling}{(Pooling == "layers" ? $" (top {LayerCount})" : "")}, max length {MaxLength}, dimension {TextDimension}{(Normalize ? ", L2-normalised" : "")}" +
        (Metadata is null ? "" : $", + {Metadata.Count} metadata features");
}
