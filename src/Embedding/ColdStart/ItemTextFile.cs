using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using WalsCluster.Core.Data;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>One item's text for the encoder.</summary>
/// <param name="Id">External item id, as in the interactions file.</param>
/// <param name="Text">The text to embed (may be empty: it then encodes as the special tokens only).</param>
public sealed record ItemTextRecord(string Id, string Text);

/// <summary>
/// Item-text sources for embedding: CSV with a header naming the columns <c>id</c> and <c>text</c> (RFC 4180 quoting,
/// other columns ignored, a quoted field cannot span lines), JSON Lines with one object per line holding <c>id</c>
/// (string or number) and <c>text</c> (string), or <c>movielens:DIR</c> (DIR/movies.csv and, when present,
/// DIR/tags.csv, joined as "Title. Genres: a, b. Tags: x, y." by <see cref="ItemText.ToEmbeddingText"/>).
/// Records keep file order; a repeated id is an error. Bad input throws <see cref="DataFormatException"/> naming the
/// file, the 1-based line and the field.
/// </summary>
public static class ItemTextFile
{
    /// <summary>The prefix of a MovieLens folder source.</summary>
    public const string MovieLensPrefix = "movielens:";

    /// <summary>Reads <paramref name="source"/>: <c>movielens:DIR</c>; a <c>.jsonl</c> / <c>.ndjson</c> / <c>.json</c> file
    /// (optionally <c>.gz</c>) as JSON Lines; anything else as CSV.</summary>
    public static IReadOnlyList<ItemTextRecord> Read(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        if (source.StartsWith(MovieLensPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return FromMovieLens(source[MovieLensPrefix.Length..]);
        }
        return IsJsonLines(source) ? ReadJsonLines(source) : ReadCsv(source);
    }

    /// <summary>Whether <see cref="Read"/> treats <paramref name="path"/> as JSON Lines (by its extension).</summary>
    public static bool IsJsonLines(string path)
    {
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        var extension = Path.GetExtension(name).ToLowerInvariant();
        return extension is ".jsonl" or ".ndjson" or ".json";
    }

    /// <summary>MovieLens movies.csv (+ tags.csv when present) of <paramref name="directory"/>: one record per movie.</summary>
    public static IReadOnlyList<ItemTextRecord> FromMovieLens(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory))
        {
            throw new DataFormatException($"{MovieLensPrefix}: the MovieLens source needs a folder after the prefix ({MovieLensPrefix}DIR, DIR holding movies.csv)");
        }
        var movies = Path.Combine(directory, "movies.csv");
        if (!File.Exists(movies))
        {
            throw new DataFormatException($"movies.csv: file not found in the MovieLens folder {Path.GetFullPath(directory)}");
        }
        var tags = Path.Combine(directory, "tags.csv");
        var texts = ItemTexts.ReadMovieLens(movies, File.Exists(tags) ? tags : null);
        return texts.Values.Select(t => new ItemTextRecord(t.Id, t.ToEmbeddingText())).ToList();
    }

    /// <summary>Reads a CSV file whose header names the columns <c>id</c> and <c>text</c> (case-insensitive).</summary>
    public static IReadOnlyList<ItemTextRecord> ReadCsv(string path) =>
        DelimitedReader.ReadFile(path, ',', TextEncodingMode.Auto, reader =>
        {
            if (!reader.Read())
            {
                throw new DataFormatException($"{reader.FileName}: the file is empty (a header line 'id,text' is needed)");
            }
            var names = new string[reader.FieldCount];
            for (var f = 0; f < names.Length; f++)
            {
                names[f] = reader.GetString(f).Trim();
            }
            var idColumn = Array.FindIndex(names, n => n.Equals("id", StringComparison.OrdinalIgnoreCase));
            var textColumn = Array.FindIndex(names, n => n.Equals("text", StringComparison.OrdinalIgnoreCase));
            if (idColumn < 0 || textColumn < 0)
            {
                throw new DataFormatException(reader.FileName, reader.LineNumber, null,
                    $"the header must name the columns 'id' and 'text' (it has {string.Join(", ", names.Select(n => $"'{n}'"))})");
            }
            reader.FieldNames = names;
            var needed = Math.Max(idColumn, textColumn) + 1;
            var records = new List<ItemTextRecord>();
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            while (reader.Read())
            {
                if (reader.FieldCount < needed)
                {
                    var missing = reader.FieldCount <= idColumn ? idColumn : textColumn;
                    throw reader.Error(missing, $"missing (the row has {reader.FieldCount} fields, {needed} are needed)");
                }
                var id = reader.GetString(idColumn).Trim();
                if (id.Length == 0)
                {
                    throw reader.Error(idColumn, "the id is empty");
                }
                if (!seen.TryAdd(id, reader.LineNumber))
                {
                    throw reader.Error(idColumn, $"duplicate id '{id}' (first on line {seen[id]})");
                }
                records.Add(new ItemTextRecord(id, reader.GetString(textColumn)));
            }
            return (IReadOnlyList<ItemTextRecord>)records;
        });

    /// <summary>
    /// Reads JSON Lines: every non-blank line one object with <c>id</c> (string or integer) and <c>text</c> (string).
    /// The file must be UTF-8 (a byte order mark is skipped; <c>.gz</c> is decompressed); a line that is not is reported
    /// with its own number. A <c>\uD800</c>-style escape of an unpaired surrogate in a text becomes U+FFFD, as
    /// <see cref="Tokenization.TextSanitizer"/> does with such characters; in an id it is an error.
    /// </summary>
    public static IReadOnlyList<ItemTextRecord> ReadJsonLines(string path)
    {
        // Lines are split on bytes (a NUL "delimiter" that valid JSON never contains), so each line is checked and
        // decoded on its own and an error names the line it is on.
        using var reader = DelimitedReader.Open(path, '\0', TextEncodingMode.Utf8, quoting: false);
        var name = reader.FileName;
        var records = new List<ItemTextRecord>();
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            var lineNumber = reader.LineNumber;
            if (reader.FieldCount != 1)
            {
                throw new DataFormatException(name, lineNumber, null, "not valid JSON (the line contains a NUL byte)");
            }
            var bytes = reader.GetBytes(0);
            if (!Utf8.IsValid(bytes))
            {
                throw new DataFormatException(name, lineNumber, null, "the line is not valid UTF-8");
            }
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(bytes.ToArray());
            }
            catch (JsonException e)
            {
                throw new DataFormatException(name, lineNumber, null, $"not valid JSON ({e.Message.Split('.')[0]})");
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new DataFormatException(name, lineNumber, null, $"expected a JSON object with 'id' and 'text', got {root.ValueKind.ToString().ToLowerInvariant()}");
                }
                if (!root.TryGetProperty("id", out var idElement))
                {
                    throw new DataFormatException(name, lineNumber, "id", "missing");
                }
                var id = idElement.ValueKind switch
                {
                    JsonValueKind.String => StrictString(idElement, name, lineNumber, "id").Trim(),
                    JsonValueKind.Number => idElement.GetRawText(),
                    var other => throw new DataFormatException(name, lineNumber, "id", $"must be a string or a number, not {other.ToString().ToLowerInvariant()}"),
                };
                if (id.Length == 0)
                {
                    throw new DataFormatException(name, lineNumber, "id", "the id is empty");
                }
                if (!root.TryGetProperty("text", out var textElement))
                {
                    throw new DataFormatException(name, lineNumber, "text", "missing");
                }
                if (textElement.ValueKind != JsonValueKind.String)
                {
                    throw new DataFormatException(name, lineNumber, "text", $"must be a string, not {textElement.ValueKind.ToString().ToLowerInvariant()}");
                }
                if (!seen.TryAdd(id, lineNumber))
                {
                    throw new DataFormatException(name, lineNumber, "id", $"duplicate id '{id}' (first on line {seen[id]})");
                }
                records.Add(new ItemTextRecord(id, LenientString(textElement)));
            }
        }
        return records;
    }

    private static string StrictString(JsonElement element, string file, long line, string field)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new DataFormatException(file, line, field, "contains an escape of an unpaired UTF-16 surrogate");
        }
    }

    /// <summary>The string's value; an escaped unpaired surrogate (which <see cref="JsonElement.GetString"/> refuses) becomes U+FFFD.</summary>
    private static string LenientString(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return UnescapeWithReplacement(element.GetRawText());
        }
    }

    /// <summary>Decodes a JSON string token (with its quotes) that the parser has already validated.</summary>
    private static string UnescapeWithReplacement(string raw)
    {
        var units = new List<char>(raw.Length);
        for (var i = 1; i < raw.Length - 1; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                units.Add(c);
                continue;
            }
            var e = raw[++i];
            switch (e)
            {
                case 'b': units.Add('\b'); break;
                case 'f': units.Add('\f'); break;
                case 'n': units.Add('\n'); break;
                case 'r': units.Add('\r'); break;
                case 't': units.Add('\t'); break;
                case 'u':
                    units.Add((char)Convert.ToUInt16(raw.Substring(i + 1, 4), 16));
                    i += 4;
                    break;
                default: units.Add(e); break; // \" \\ \/
            }
        }
        // Keep valid pairs, replace lone halves.
        var sb = new StringBuilder(units.Count);
        for (var i = 0; i < units.Count; i++)
        {
            if (char.IsHighSurrogate(units[i]) && i + 1 < units.Count && char.IsLowSurrogate(units[i + 1]))
            {
                sb.Append(units[i]).Append(units[i + 1]);
                i++;
            }
            else
            {
                sb.Append(char.IsSurrogate(units[i]) ? '\uFFFD' : units[i]);
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// Writes <c>id,text</c> CSV (UTF-8, header, every field quoted, quotes doubled). Line breaks and tabs in a text are
    /// written as spaces, since a quoted field may not span lines (the encoder's sanitizer treats them as spaces anyway).
    /// </summary>
    public static void WriteCsv(IEnumerable<ItemTextRecord> records, string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
        writer.NewLine = "\n";
        writer.WriteLine("id,text");
        foreach (var record in records)
        {
            writer.Write(Quote(record.Id));
            writer.Write(',');
            writer.WriteLine(Quote(record.Text));
        }
    }

    private static string Quote(string value)
    {
        var flat = value.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ').Replace('\t', ' ');
        return "\"" + flat.Replace("\"", "\"\"") + "\"";
    }
}
