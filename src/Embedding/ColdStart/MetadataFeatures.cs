using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using WalsCluster.Core.Data;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>
/// Structured item features appended to the text vectors, so that the projection is fitted on [e_i; m_i]: one indicator
/// per genre, one per decade of the year in the title's trailing "(YYYY)" (years before the first decade or after the
/// last count in the end ones), and log(1 + the number of distinct tags). An item without a record, genres, a year or
/// tags has zeros there. The transformer reads the same fields as text, but a linear map of its vectors recovers the era
/// of a film poorly; on ml-latest-small these features raised the cold-start recall@20 on seven of seven seeds
/// (docs/benchmarks.md). A free-text query has no such fields: it is projected with a map fitted on the text part alone (<see cref="ProjectionSection.QueryProjection"/>).
/// Stored in <see cref="EmbeddingSettings.Metadata"/> (the <c>metadata</c> object of the settings JSON).
/// </summary>
public sealed partial record MetadataFeatures
{
    /// <summary>The genre vocabulary, ordinal order: feature j is 1 when the item has genre j.</summary>
    [JsonPropertyName("genres")]
    public required IReadOnlyList<string> Genres { get; init; }

    /// <summary>The first decade with an indicator (1990 for the 1990s).</summary>
    [JsonPropertyName("first_decade")]
    public int FirstDecade { get; init; }

    /// <summary>How many decade indicators follow the genres (0 when no title had a year).</summary>
    [JsonPropertyName("decades")]
    public int Decades { get; init; }

    /// <summary>Features per item: genres, decades and the tag count.</summary>
    [JsonIgnore]
    public int Count => Genres.Count + Decades + 1;

    private Dictionary<string, int>? _genreIndex;

    /// <summary>The vocabulary of <paramref name="items"/>: every genre seen, and the decades from the earliest year to the latest.</summary>
    public static MetadataFeatures Of(IEnumerable<ItemText> items)
    {
        var genres = new SortedSet<string>(StringComparer.Ordinal);
        int first = int.MaxValue, last = int.MinValue;
        foreach (var item in items)
        {
            genres.UnionWith(item.Genres);
            if (Year(item.Title) is { } year)
            {
                first = Math.Min(first, Decade(year));
                last = Math.Max(last, Decade(year));
            }
        }
        var decades = first <= last ? (last - first) / 10 + 1 : 0;
        return new MetadataFeatures { Genres = genres.ToArray(), FirstDecade = decades > 0 ? first : 0, Decades = decades };
    }

    /// <summary>Checks a vocabulary read from a file; <paramref name="where"/> names the source in the error.</summary>
    public void Validate(string where)
    {
        if (Decades < 0 || Genres.Any(string.IsNullOrEmpty) || Genres.Distinct(StringComparer.Ordinal).Count() != Genres.Count)
        {
            throw new InvalidDataException($"{where}: the metadata features are not valid (decades {Decades}, genres [{string.Join(", ", Genres)}]).");
        }
    }

    /// <summary>The features of <paramref name="item"/> (null: none known) into <paramref name="features"/> (length <see cref="Count"/>).</summary>
    public void Write(ItemText? item, Span<float> features)
    {
        if (features.Length != Count)
        {
            throw new ArgumentException($"{features.Length} values for {Count} metadata features.", nameof(features));
        }
        features.Clear();
        if (item is null)
        {
            return;
        }
        _genreIndex ??= Genres.Select((genre, index) => (genre, index)).ToDictionary(p => p.genre, p => p.index, StringComparer.Ordinal);
        foreach (var genre in item.Genres)
        {
            if (_genreIndex.TryGetValue(genre, out var index))
            {
                features[index] = 1;
            }
        }
        if (Decades > 0 && Year(item.Title) is { } year)
        {
            features[Genres.Count + Math.Clamp((Decade(year) - FirstDecade) / 10, 0, Decades - 1)] = 1;
        }
        features[^1] = MathF.Log(1 + item.Tags.Count);
    }

    /// <summary>The features of <paramref name="item"/> (null: none known) as a new array.</summary>
    public float[] FeaturesOf(ItemText? item)
    {
        var features = new float[Count];
        Write(item, features);
        return features;
    }

    /// <summary>
    /// <paramref name="text"/>'s vectors with this vocabulary's features of each id appended (ids without a record in
    /// <paramref name="items"/> get zeros); the settings record the vocabulary.
    /// </summary>
    public ItemEmbeddings AppendTo(ItemEmbeddings text, IReadOnlyDictionary<string, ItemText> items)
    {
        if (text.Settings.Metadata is not null)
        {
            throw new ArgumentException("These vectors already carry metadata features.", nameof(text));
        }
        int d = text.Dimension, total = d + Count;
        var matrix = new float[(long)text.Count * total];
        for (var r = 0; r < text.Count; r++)
        {
            var row = matrix.AsSpan((int)((long)r * total), total);
            text.Vector(r).CopyTo(row);
            Write(items.GetValueOrDefault(text.Ids[r]), row[d..]);
        }
        return new ItemEmbeddings(text.Ids, total, matrix, text.Settings.WithMetadata(this));
    }

    /// <summary>The year of a title that ends in "(YYYY)" (MovieLens style), else null.</summary>
    public static int? Year(string? title)
    {
        if (title is null)
        {
            return null;
        }
        var match = TrailingYear().Match(title);
        return match.Success ? int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
    }

    private static int Decade(int year) => year / 10 * 10;

    [GeneratedRegex(@"\(([0-9]{4})\)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex TrailingYear();

    /// <summary>Equal vocabularies (the genre lists compared element by element).</summary>
    public bool Equals(MetadataFeatures? other) =>
        other is not null && FirstDecade == other.FirstDecade && Decades == other.Decades && Genres.SequenceEqual(other.Genres, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(FirstDecade, Decades, Genres.Count);
}
