namespace WalsCluster.Core.Data;

/// <summary>The text known about one item: a title, genres and free-text tags (each may be missing).</summary>
public sealed record ItemText(string Id, string? Title, IReadOnlyList<string> Genres, IReadOnlyList<string> Tags)
{
    /// <summary>One string for an embedding model: "Title. Genres: a, b. Tags: x, y." (missing parts left out).</summary>
    public string ToEmbeddingText()
    {
        var parts = new List<string>(3);
        if (!string.IsNullOrWhiteSpace(Title))
        {
            parts.Add(Title.TrimEnd('.') + ".");
        }
        if (Genres.Count > 0)
        {
            parts.Add($"Genres: {string.Join(", ", Genres)}.");
        }
        if (Tags.Count > 0)
        {
            parts.Add($"Tags: {string.Join(", ", Tags)}.");
        }
        return string.Join(" ", parts);
    }
}

/// <summary>Readers of item text files: MovieLens <c>movies.csv</c> / <c>tags.csv</c>, Last.fm <c>artists.dat</c>.</summary>
public static class ItemTexts
{
    /// <summary>
    /// Reads MovieLens <c>movies.csv</c> (movieId,title,genres; titles with commas are quoted; genres split at '|',
    /// "(no genres listed)" dropped) and, when given, <c>tags.csv</c> (userId,movieId,tag,timestamp): each movie's
    /// distinct tags, compared case-insensitively, in first-seen order. Tags of movies not in movies.csv are added as
    /// items without a title. Keys are the external movie ids as in ratings.csv.
    /// </summary>
    public static IReadOnlyDictionary<string, ItemText> ReadMovieLens(string moviesPath, string? tagsPath = null, TextEncodingMode encoding = TextEncodingMode.Auto)
    {
        var movies = DelimitedReader.ReadFile(moviesPath, ',', encoding, reader =>
        {
            var result = new Dictionary<string, (string Title, string[] Genres)>(StringComparer.Ordinal);
            ReadHeader(reader, 3);
            while (reader.Read())
            {
                RequireFields(reader, 3);
                var id = reader.GetString(0);
                var genres = reader.GetString(2)
                    .Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(g => g != "(no genres listed)")
                    .ToArray();
                result[id] = (reader.GetString(1), genres);
            }
            return result;
        });

        var tags = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (tagsPath is not null)
        {
            DelimitedReader.ReadFile(tagsPath, ',', encoding, reader =>
            {
                tags.Clear();
                var seen = new HashSet<(string, string)>();
                ReadHeader(reader, 3);
                while (reader.Read())
                {
                    RequireFields(reader, 3);
                    var id = reader.GetString(1);
                    var tag = reader.GetString(2).Trim();
                    if (tag.Length == 0 || !seen.Add((id, tag.ToLowerInvariant())))
                    {
                        continue;
                    }
                    if (!tags.TryGetValue(id, out var list))
                    {
                        tags[id] = list = [];
                    }
                    list.Add(tag);
                }
                return 0;
            });
        }

        var texts = new Dictionary<string, ItemText>(movies.Count, StringComparer.Ordinal);
        foreach (var (id, (title, genres)) in movies)
        {
            texts[id] = new ItemText(id, title, genres, tags.TryGetValue(id, out var list) ? list : []);
        }
        foreach (var (id, list) in tags)
        {
            texts.TryAdd(id, new ItemText(id, null, [], list));
        }
        return texts;
    }

    /// <summary>Reads Last.fm <c>artists.dat</c> (id TAB name TAB url TAB pictureURL, header; quotes are ordinary
    /// characters): artist id -&gt; name.</summary>
    public static IReadOnlyDictionary<string, ItemText> ReadLastFmArtists(string artistsPath, TextEncodingMode encoding = TextEncodingMode.Auto) =>
        DelimitedReader.ReadFile(artistsPath, '\t', encoding, reader =>
        {
            var result = new Dictionary<string, ItemText>(StringComparer.Ordinal);
            ReadHeader(reader, 2);
            while (reader.Read())
            {
                RequireFields(reader, 2);
                var id = reader.GetString(0);
                result[id] = new ItemText(id, reader.GetString(1), [], []);
            }
            return (IReadOnlyDictionary<string, ItemText>)result;
        },
        quoting: false);

    private static void ReadHeader(DelimitedReader reader, int fields)
    {
        if (!reader.Read())
        {
            throw new DataFormatException($"{reader.FileName}: the file is empty (no header line)");
        }
        var names = new string[reader.FieldCount];
        for (var f = 0; f < names.Length; f++)
        {
            names[f] = reader.GetString(f).Trim();
        }
        reader.FieldNames = names;
        RequireFields(reader, fields);
    }

    private static void RequireFields(DelimitedReader reader, int fields)
    {
        if (reader.FieldCount < fields)
        {
            throw reader.Error(reader.FieldCount, $"missing (the row has {reader.FieldCount} fields, {fields} are needed)");
        }
    }
}
