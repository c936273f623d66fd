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

    /// <summary>Items that had no interactions and got y = W^T e + b from their text when the model was written.</summary>
    [JsonPropertyName("projected_items")]
    public IReadOnlyList<string> ProjectedItems { get; init; } = [];
}

/// <summary>
/// The model file's <c>projection</c> section: the embedding settings (so a text query is embedded exactly as the items
/// were), what the fit recorded, and the <see cref="RidgeProjection"/> (W, b, mu). Layout, little-endian:
/// int32 byte length of a UTF-8 JSON object <c>{"embedding": EmbeddingSettings, "fit": ProjectionFitInfo}</c>, the JSON,
/// then <see cref="RidgeProjection.ToBytes"/>.
/// </summary>
public sealed record ProjectionSection(EmbeddingSettings Embedding, ProjectionFitInfo Fit, RidgeProjection Projection)
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
        var bytes = new byte[4 + json.Length + projection.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 4);
        projection.CopyTo(bytes, 4 + json.Length);
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
        try
        {
            projection = RidgeProjection.FromBytes(s[(4 + length)..]);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}': {e.Message}");
        }
        if (projection.D != header.Embedding.Dimension)
        {
            throw new ModelFormatException(modelPath, $"section '{Name}': the projection takes {projection.D}-dimensional vectors but the embedding settings say {header.Embedding.Dimension}.");
        }
        return new ProjectionSection(header.Embedding, header.Fit, projection);
    }

    /// <summary>The projection stored in <paramref name="saved"/>, or null when it has none.</summary>
    public static ProjectionSection? Find(SavedModel saved, string modelPath) =>
        saved.Section(Name) is { } section ? FromModelSection(section, modelPath) : null;
}
