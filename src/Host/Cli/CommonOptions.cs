using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using WalsCluster.Core.Data;

namespace WalsCluster.Host.Cli;

/// <summary>Options shared by the verbs that read interaction files, and output helpers.</summary>
internal sealed class InputOptions
{
    public Option<string> Input { get; } = new("--input") { Description = "Interactions file (.gz is decompressed).", Required = true };
    public Option<string> Format { get; } = new("--format") { Description = "movielens | lastfm | bookcrossing | csv (generic delimited).", DefaultValueFactory = _ => "csv" };
    public Option<string?> Delimiter { get; } = new("--delimiter") { Description = "Field delimiter for --format csv: a character, or 'tab' (default ',')." };
    public Option<bool> Header { get; } = new("--header") { Description = "The csv file has a header line." };
    public Option<string?> Columns { get; } = new("--columns") { Description = "0-based columns user,item[,value[,timestamp]] for --format csv (default 0,1,2); a missing value column means value 1." };
    public Option<double?> MinValue { get; } = new("--min-value") { Description = "Drop rows whose value is below this." };
    public Option<bool> SkipBadRows { get; } = new("--skip-bad-rows") { Description = "Skip malformed rows (and report how many and the first few) instead of stopping at the first." };

    public void AddTo(Command command)
    {
        command.Options.Add(Input);
        command.Options.Add(Format);
        command.Options.Add(Delimiter);
        command.Options.Add(Header);
        command.Options.Add(Columns);
        command.Options.Add(MinValue);
        command.Options.Add(SkipBadRows);
    }

    public LoadOptions Read(ParseResult result)
    {
        var format = ParseEnum<DataFormat>(result.GetValue(Format)!, "format");
        var delimiter = result.GetValue(Delimiter);
        var columns = result.GetValue(Columns);
        if (result.GetValue(MinValue) is { } min && !double.IsFinite(min))
        {
            throw new ArgumentException($"Option 'min-value' = {min} is invalid: it must be a finite number.");
        }
        if (delimiter is "\"" or "\r" or "\n")
        {
            throw new ArgumentException($"Option 'delimiter' = '{delimiter}' is invalid: a quote or a line end cannot separate fields.");
        }
        return new LoadOptions
        {
            Format = format,
            Delimiter = delimiter is null ? null : delimiter is "tab" or "\\t" ? '\t' : delimiter.Length == 1 ? delimiter[0]
                : throw new ArgumentException($"Option 'delimiter' = '{delimiter}' is invalid: give one character or 'tab'."),
            HasHeader = format == DataFormat.Csv ? result.GetValue(Header) : null,
            Columns = columns is null ? null : ParseColumns(columns),
            MinValue = result.GetValue(MinValue),
            SkipBadRows = result.GetValue(SkipBadRows),
            // Progress of long reads on stderr, every million rows (Spectre's live displays would fight the per-iteration lines).
            Progress = p => Console.Error.WriteLine(p.TotalBytes is { } total && total > 0
                ? $"  read {p.RowsRead:N0} rows ({100.0 * p.BytesRead / total:F0}% of {total / 1e6:F0} MB)"
                : $"  read {p.RowsRead:N0} rows"),
        };
    }

    private static ColumnMap ParseColumns(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is < 2 or > 4 || parts.Any(p => !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            throw new ArgumentException($"Option 'columns' = '{text}' is invalid: give 2 to 4 non-negative column indices user,item[,value[,timestamp]].");
        }
        var c = parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return new ColumnMap(c[0], c[1], c.Length > 2 ? c[2] : null, c.Length > 3 ? c[3] : null);
    }

    /// <summary>One of the enum's names (case and dashes ignored: <c>log-count</c> is <c>LogCount</c>); numbers and
    /// comma lists, which <see cref="Enum.TryParse{TEnum}(string, bool, out TEnum)"/> would take, are refused.</summary>
    public static T ParseEnum<T>(string text, string option) where T : struct, Enum =>
        Enum.GetNames<T>().FirstOrDefault(n => string.Equals(n, text.Trim().Replace("-", ""), StringComparison.OrdinalIgnoreCase)) is { } name
            ? Enum.Parse<T>(name)
            : throw new ArgumentException($"Option '{option}' = '{text}' is invalid: use one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}.");
}

internal static class Output
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print machine-readable JSON (the last line of stdout is one object)." };

    /// <summary>The <c>projection</c> object of <c>train --json</c>, local or <c>--cluster</c> (the same keys in both).</summary>
    public static JsonObject ProjectionJson(WalsCluster.Embedding.ColdStart.EmbeddingSettings encoder, double mu, int trainItems, int validationItems,
        double validationMse, double validationMeanSquare, int textOnlyItemsAdded, double? queryMu) => new()
        {
            ["embedding_model"] = encoder.Model,
            ["pooling"] = encoder.Pooling,
            ["max_length"] = encoder.MaxLength,
            ["dimension"] = encoder.Dimension,
            ["metadata_features"] = encoder.Metadata?.Count ?? 0,
            ["mu"] = mu,
            ["train_items"] = trainItems,
            ["validation_items"] = validationItems,
            ["validation_mse"] = validationMse,
            ["validation_mean_square"] = validationMeanSquare,
            ["text_only_items_added"] = textOnlyItemsAdded,
            // The text-only map of free-text queries (with metadata features), else null: one map serves both.
            ["query_mu"] = queryMu,
        };

    /// <summary>Writes the object as one line; a number that is not finite (an AUC with no negatives, say) is written as null,
    /// since JSON has no NaN.</summary>
    public static void WriteJson(JsonObject value) => Console.Out.WriteLine(Finite(value)!.ToJsonString(Json));

    /// <summary><paramref name="node"/> with every non-finite number replaced by null (in place; a bare non-finite value gives null).</summary>
    internal static JsonNode? Finite(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToArray())
                {
                    if (IsNonFinite(obj[key]))
                    {
                        obj[key] = null;
                    }
                    else
                    {
                        Finite(obj[key]);
                    }
                }
                return obj;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (IsNonFinite(array[i]))
                    {
                        array[i] = null;
                    }
                    else
                    {
                        Finite(array[i]);
                    }
                }
                return array;
            default:
                return IsNonFinite(node) ? null : node;
        }
    }

    private static bool IsNonFinite(JsonNode? node) => node is JsonValue v
        && ((v.TryGetValue<double>(out var d) && !double.IsFinite(d)) || (v.TryGetValue<float>(out var f) && !float.IsFinite(f)));

    /// <summary>Progress and notes go to stderr when stdout is JSON, so stdout stays parseable.</summary>
    public static void Note(bool json, string message)
    {
        if (json)
        {
            Console.Error.WriteLine(message);
        }
        else
        {
            Spectre.Console.AnsiConsole.MarkupLine($"[grey]{Spectre.Console.Markup.Escape(message)}[/]");
        }
    }

    /// <summary>Runs a verb: expected failures (bad input, bad options, bad files) print one clear line and exit 2.</summary>
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is DataFormatException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
                                      or Core.Model.ModelFormatException or InvalidDataException or Core.Wals.NonFiniteFactorsException or IOException
                                      or UnauthorizedAccessException or Akka.Configuration.ConfigurationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
