using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Host.Cli;

/// <summary><c>wals embed</c> (item texts to an embeddings file) and <c>wals item-text</c> (MovieLens movies + tags to an id,text file).</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var items = new Option<string>("--items") { Description = "Item texts: CSV with a header naming 'id' and 'text', JSON Lines ({\"id\": .., \"text\": ..} per line; .jsonl/.ndjson/.json), or movielens:DIR (title + genres + tags).", Required = true };
        var output = new Option<string>("--out") { Description = "The embeddings file to write (format in docs/embedding.md: ids + float32 matrix + the settings).", Required = true };
        var encoder = new EmbeddingOptions("");
        var json = Output.JsonOption();
        var command = new Command("embed", "Embed item texts with a transformer encoder (ONNX Runtime) and write them to an embeddings file.");
        command.Options.Add(items);
        encoder.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(result => Output.Guard(() =>
        {
            var asJson = result.GetValue(json);
            var request = encoder.Read(result);
            var source = result.GetValue(items)!;
            EmbeddingRunner.CheckMetadataSource(source, request.MetadataFeatures);
            var records = ItemTextFile.Read(source);
            Output.Note(asJson, $"read {records.Count:N0} item texts from {source}");
            var (text, seconds) = EmbeddingRunner.Embed(records, request, asJson);
            var embeddings = EmbeddingRunner.WithMetadata(text, source, request, asJson);
            var path = result.GetValue(output)!;
            EmbeddingFile.Write(embeddings, path);
            if (asJson)
            {
                Output.WriteJson(new JsonObject
                {
                    ["texts"] = embeddings.Count,
                    ["dimension"] = embeddings.Dimension,
                    ["seconds"] = seconds,
                    ["texts_per_second"] = embeddings.Count / Math.Max(seconds, 1e-9),
                    ["model"] = embeddings.Settings.Model,
                    ["pooling"] = embeddings.Settings.Pooling,
                    ["max_length"] = embeddings.Settings.MaxLength,
                    ["metadata_features"] = embeddings.Settings.Metadata?.Count ?? 0,
                    ["out"] = Path.GetFullPath(path),
                });
            }
            else
            {
                AnsiConsole.MarkupLine($"{embeddings.Count:N0} vectors of dimension {embeddings.Dimension} written to [bold]{Markup.Escape(path)}[/] ({embeddings.Count / Math.Max(seconds, 1e-9):F1} texts/s)");
            }
            return 0;
        }));
        return command;
    }

    public static Command CreateItemText()
    {
        var movieLens = new Option<string>("--movielens") { Description = "A MovieLens folder with movies.csv and (optionally) tags.csv.", Required = true };
        var output = new Option<string>("--out") { Description = "The id,text CSV to write.", Required = true };
        var json = Output.JsonOption();
        var command = new Command("item-text", "Write the item texts of a MovieLens folder (\"Title. Genres: a, b. Tags: x, y.\") as an id,text CSV for 'wals embed' and '--item-text'.");
        command.Options.Add(movieLens);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(result => Output.Guard(() =>
        {
            var records = ItemTextFile.FromMovieLens(result.GetValue(movieLens)!);
            var path = result.GetValue(output)!;
            ItemTextFile.WriteCsv(records, path);
            if (result.GetValue(json))
            {
                Output.WriteJson(new JsonObject { ["items"] = records.Count, ["out"] = Path.GetFullPath(path) });
            }
            else
            {
                AnsiConsole.MarkupLine($"{records.Count:N0} item texts written to [bold]{Markup.Escape(path)}[/]");
            }
            return 0;
        }));
        return command;
    }
}
