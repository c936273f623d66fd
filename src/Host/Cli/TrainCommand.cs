using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Core.Jobs;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Host.Cli;

/// <summary><c>wals train</c>: load, optionally split, train WALS on all cores, save the model.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var input = new InputOptions();
        var hyper = new HyperparameterOptions();
        var cluster = new Option<string?>("--cluster") { Description = "HOST:PORT of a node of a running cluster: ingest the file into its factor shards, train there, gather the model (see docs/operations.md)." };
        var testFraction = new Option<double?>("--test-fraction") { Description = "Hold out this fraction of each user's interactions; stored as MODEL.test.csv for 'wals evaluate'." };
        var test = new Option<string?>("--test") { Description = "A test file in the input's format; its users and items join the model (as in a pre-made split)." };
        var model = new Option<string>("--model") { Description = "Where to write the model file.", Required = true };
        var itemText = new Option<string?>("--item-text") { Description = "Item texts (id,text CSV, JSONL, movielens:DIR) or an embeddings file from 'wals embed': after training, fit the text-to-factor projection (cold start) and store it in the model." };
        var validationFraction = new Option<double>("--projection-validation-fraction") { Description = "Share of the warm items with text held out (seeded by --seed) to choose the ridge penalty mu.", DefaultValueFactory = _ => ProjectionTraining.DefaultValidationFraction };
        var weighting = new Option<string>("--projection-weighting") { Description = "none (every warm item once), log-count (item i counts 1 + floor(log2 n_i) times) or count (n_i times; the default) in the projection's least squares.", DefaultValueFactory = _ => "count" };
        var skipTextOnly = new Option<bool>("--skip-text-only-items") { Description = "Do not add items that have text but no interactions (by default they join the model with factors from their text)." };
        var embedding = new EmbeddingOptions("embedding-");
        var json = Output.JsonOption();

        var command = new Command("train", "Train a WALS model and save it.");
        input.AddTo(command);
        hyper.AddTo(command);
        foreach (var option in new Option[] { cluster, testFraction, test, model, itemText, validationFraction, weighting, skipTextOnly })
        {
            command.Options.Add(option);
        }
        embedding.AddTo(command);
        command.Options.Add(json);
        command.SetAction(result => Output.Guard(() =>
        {
            var asJson = result.GetValue(json);
            var options = hyper.Read(result);
            if (result.GetValue(itemText) is not null && result.GetValue(validationFraction) is var vf && !(vf > 0 && vf < 1))
            {
                // Checked before anything is read or embedded (the fit would refuse it only after training).
                throw new ArgumentException($"Option 'projection-validation-fraction' = {vf} is invalid: it must be between 0 and 1 (exclusive).");
            }
            if (result.GetValue(cluster) is { } address)
            {
                TrainingJob.CheckSplitOptions(result.GetValue(testFraction), result.GetValue(test));
                // The encoder is the embedder nodes'; the metadata features are appended by this client.
                var given = embedding.Given(result).Where(name => name != embedding.Metadata.Name).ToList();
                if (given.Count > 0)
                {
                    throw new ArgumentException($"With --cluster the encoder is the embedder nodes' (wals.embedding.model, pooling, max-length, devices ...); remove {string.Join(", ", given)}.");
                }
                Cluster.ItemTextRequest? texts = null;
                if (result.GetValue(itemText) is { } source)
                {
                    if (EmbeddingFile.IsEmbeddingFile(source))
                    {
                        throw new ArgumentException($"--item-text {source} is an embeddings file; with --cluster give the item texts (id,text CSV, JSONL or movielens:DIR): the cluster's embedders embed them.");
                    }
                    var metadata = result.GetValue(embedding.Metadata);
                    EmbeddingRunner.CheckMetadataSource(source, metadata);
                    texts = new Cluster.ItemTextRequest(source, result.GetValue(validationFraction), ProjectionTraining.ParseWeighting(result.GetValue(weighting)!), !result.GetValue(skipTextOnly),
                        metadata ?? EmbeddingRunner.IsMovieLens(source));
                }
                return Cluster.ClusterCommands.TrainOnCluster(address, result.GetValue(input.Input)!, input.Read(result), options, result.GetValue(model), asJson, texts,
                    result.GetValue(testFraction), result.GetValue(test));
            }
            var request = new TrainRequest
            {
                Input = result.GetValue(input.Input)!,
                Load = input.Read(result),
                Wals = options,
                TestFraction = result.GetValue(testFraction),
                TestPath = result.GetValue(test),
                SplitSeed = (ulong)options.Seed,
                ModelPath = result.GetValue(model)!,
            };
            ProjectionSection? projection = null;
            var textSource = result.GetValue(itemText);
            if (textSource is not null)
            {
                var encoder = embedding.Read(result);
                var fraction = result.GetValue(validationFraction);
                var addTextOnly = !result.GetValue(skipTextOnly);
                var weights = ProjectionTraining.ParseWeighting(result.GetValue(weighting)!);
                request = request with
                {
                    BeforeSave = saved =>
                    {
                        var known = saved.Model.Items;
                        var embeddings = EmbeddingRunner.Load(textSource, encoder, asJson, addTextOnly ? null : known.Contains);
                        var fit = ProjectionTraining.FitOnModel(saved, embeddings, fraction, (ulong)options.Seed, weights);
                        var (withProjection, section) = ProjectionTraining.Attach(saved, embeddings, fit, addTextOnly);
                        projection = section;
                        Output.Note(asJson, $"projection {embeddings.Dimension} -> {options.Factors}: mu {fit.Fit.Mu:G3} chosen on {fit.Info.ValidationItems} held-out warm items " +
                            $"(validation MSE {fit.Info.ValidationMse:G4} vs mean |y|^2 {fit.Info.ValidationMeanSquare:G4}), fitted on {fit.Info.TrainItems + fit.Info.ValidationItems} items; " +
                            $"{section.Fit.ProjectedItems.Count} text-only items added" +
                            (fit.QueryFit is { } query ? $"; text-only map for free-text queries: mu {query.Mu:G3}" : ""));
                        return withProjection;
                    },
                };
            }
            var progress = new Progress(report =>
            {
                var line = $"iteration {report.Iteration,3}/{options.Iterations}: loss {report.Loss:G7}  {report.Seconds:F3} s (users {report.UserSeconds:F3} s, items {report.ItemSeconds:F3} s)";
                if (asJson)
                {
                    Console.Error.WriteLine(line);
                }
                else
                {
                    AnsiConsole.MarkupLine(Markup.Escape(line));
                }
            });
            var summary = TrainingJob.Run(request, progress, message => Output.Note(asJson, message));
            if (asJson)
            {
                Output.WriteJson(new JsonObject
                {
                    ["users"] = summary.Users,
                    ["items"] = summary.Items,
                    ["nnz"] = summary.NonZeros,
                    ["test_rows"] = summary.TestRows,
                    ["factors"] = options.Factors,
                    ["iterations"] = summary.History.Count,
                    ["seconds_per_iteration"] = summary.MedianSecondsPerIteration,
                    ["total_seconds"] = summary.TrainSeconds,
                    ["load_seconds"] = summary.LoadSeconds,
                    ["final_loss"] = double.IsFinite(summary.FinalLoss) ? summary.FinalLoss : null,
                    ["loss"] = new JsonArray(summary.History.Select(h => (JsonNode?)h.Loss).ToArray()),
                    ["model"] = summary.ModelPath,
                    ["test_split"] = summary.TestSplitPath,
                    ["skipped_rows"] = summary.InputLoad.SkippedRows,
                    ["projection"] = projection is null ? null : Output.ProjectionJson(projection.Embedding, projection.Projection.Mu, projection.Fit.TrainItems,
                        projection.Fit.ValidationItems, projection.Fit.ValidationMse, projection.Fit.ValidationMeanSquare, projection.Fit.ProjectedItems.Count,
                        projection.QueryProjection?.Mu),
                });
            }
            else
            {
                var table = new Table().AddColumn("users").AddColumn("items").AddColumn("interactions").AddColumn("s / iteration (median)").AddColumn("total s").AddColumn("final loss");
                table.AddRow($"{summary.Users:N0}", $"{summary.Items:N0}", $"{summary.NonZeros:N0}", $"{summary.MedianSecondsPerIteration:F3}", $"{summary.TrainSeconds:F2}", $"{summary.FinalLoss:G7}");
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine($"model written to [bold]{Markup.Escape(summary.ModelPath)}[/]" + (summary.TestSplitPath is null ? "" : $", test split {Markup.Escape(summary.TestSplitPath)}"));
            }
            return 0;
        }));
        return command;
    }

    private sealed class Progress(Action<IterationReport> action) : IProgress<IterationReport>
    {
        public void Report(IterationReport value) => action(value);
    }
}
