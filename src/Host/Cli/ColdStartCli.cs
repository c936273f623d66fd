using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Host.Cli;

/// <summary>
/// The cold-start mode of <c>wals evaluate</c>: <c>--cold-start-fraction F --input FILE --item-text SOURCE</c> loads the
/// interactions, holds out F of the items with text entirely, trains WALS on the rest (with the options stored in
/// <c>--model</c> when given, else the defaults), projects the held-out items from their text and ranks them
/// (<see cref="ColdStartEvaluation"/>).
/// </summary>
internal sealed class ColdStartOptionSet
{
    public Option<double?> Fraction { get; } = new("--cold-start-fraction") { Description = "Cold-start mode: hold out this share of the items (with text) entirely, train on the rest, give them factors from their text and report recall@20 / nDCG@10 among them, beside popularity and random." };
    private readonly InputOptions _input = new();
    private readonly Option<string?> _itemText = new("--item-text") { Description = "Cold-start mode: item texts (id,text CSV, JSONL, movielens:DIR) or an embeddings file from 'wals embed'." };
    private readonly Option<ulong> _seed = new("--seed") { Description = "Cold-start mode: seed of the held-out item draw (the projection's validation split and the random baseline derive theirs from it).", DefaultValueFactory = _ => 42UL };
    private readonly Option<double> _validation = new("--projection-validation-fraction") { Description = "Cold-start mode: share of the warm items with text held out to choose mu.", DefaultValueFactory = _ => ProjectionTraining.DefaultValidationFraction };
    private readonly Option<bool> _warmReference = new("--warm-reference") { Description = "Cold-start mode: also train on all items and rank the held-out items with their trained factors (what interactions would have given)." };
    private readonly Option<string> _weighting = new("--projection-weighting") { Description = "Cold-start mode: none (every warm item once), log-count (item i counts 1 + floor(log2 n_i) times) or count (n_i times: the fit runs over interactions; the default, best for cold items on ml-latest-small).", DefaultValueFactory = _ => "count" };
    private readonly EmbeddingOptions _embedding = new("embedding-");

    public ColdStartOptionSet()
    {
        _input.Input.Required = false;
        _input.Input.Description = "Cold-start mode: the interactions file (.gz is decompressed).";
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Fraction);
        _input.AddTo(command);
        foreach (var option in new Option[] { _itemText, _seed, _validation, _weighting, _warmReference })
        {
            command.Options.Add(option);
        }
        _embedding.AddTo(command);
    }

    public int Run(ParseResult result, double fraction, string? modelPath, int threads, bool json)
    {
        var inputPath = result.GetValue(_input.Input)
            ?? throw new ArgumentException("--cold-start-fraction needs --input (the interactions to train and evaluate on).");
        var textSource = result.GetValue(_itemText)
            ?? throw new ArgumentException("--cold-start-fraction needs --item-text (id,text CSV, JSONL, movielens:DIR, or an embeddings file).");
        var wals = (modelPath is null ? new WalsOptions() : SavedModel.Load(modelPath).Model.Options) with { Threads = threads };
        var options = new ColdStartOptions
        {
            ColdFraction = fraction,
            Seed = result.GetValue(_seed),
            ValidationFraction = result.GetValue(_validation),
            Wals = wals,
            WarmReference = result.GetValue(_warmReference),
            Weighting = ProjectionTraining.ParseWeighting(result.GetValue(_weighting)!),
            Threads = threads,
        };
        options.Validate();
        var encoder = _embedding.Read(result);
        var loaded = InteractionLoader.Load(inputPath, _input.Read(result));
        Output.Note(json, $"read {loaded.RowsRead:N0} rows: {loaded.Table.Users.Count:N0} users, {loaded.Table.Items.Count:N0} items");
        var embeddings = EmbeddingRunner.Load(textSource, encoder, json, loaded.Table.Items.Contains);
        var progress = new Progress(report => Output.Note(json, $"iteration {report.Iteration,3}/{wals.Iterations}: loss {report.Loss:G7}  {report.Seconds:F3} s"));
        var report = ColdStartEvaluation.Run(loaded.Table, embeddings, options, progress, message => Output.Note(json, message));
        Print(report, options, json, embeddings.Settings);
        return 0;
    }

    private static void Print(ColdStartReport report, ColdStartOptions options, bool json, EmbeddingSettings settings)
    {
        if (json)
        {
            var obj = new JsonObject
            {
                ["cold_recall@20"] = report.Projection.Recall20,
                ["cold_ndcg@10"] = report.Projection.Ndcg10,
                ["popularity_cold_recall@20"] = report.Popularity.Recall20,
                ["popularity_cold_ndcg@10"] = report.Popularity.Ndcg10,
                ["text_popularity_cold_recall@20"] = report.TextPopularity.Recall20,
                ["text_popularity_cold_ndcg@10"] = report.TextPopularity.Ndcg10,
                ["random_cold_recall@20"] = report.Random.Recall20,
                ["random_cold_ndcg@10"] = report.Random.Ndcg10,
                ["cold_auc"] = report.Projection.At20.Auc,
                ["popularity_cold_auc"] = report.Popularity.At20.Auc,
                ["text_popularity_cold_auc"] = report.TextPopularity.At20.Auc,
                ["random_cold_auc"] = report.Random.At20.Auc,
                ["cold_items"] = report.ColdItems,
                ["items"] = report.Items,
                ["items_with_text"] = report.ItemsWithText,
                ["users_evaluated"] = report.UsersEvaluated,
                ["train_rows"] = report.TrainRows,
                ["test_rows"] = report.TestRows,
                ["mu"] = report.Fit.Fit.Mu,
                ["validation_mse"] = report.Fit.Info.ValidationMse,
                ["validation_mean_square"] = report.Fit.Info.ValidationMeanSquare,
                ["cold_start_fraction"] = options.ColdFraction,
                ["projection_weighting"] = options.Weighting switch { ProjectionWeighting.None => "none", ProjectionWeighting.LogCount => "log-count", _ => "count" },
                ["seed"] = options.Seed,
                ["factors"] = options.Wals.Factors,
                ["embedding_model"] = settings.Model,
                ["metadata_features"] = settings.Metadata?.Count ?? 0,
                ["train_seconds"] = report.TrainSeconds,
                ["candidates"] = "cold items only",
            };
            if (report.WarmReference is { } reference)
            {
                obj["warm_reference_cold_recall@20"] = reference.Recall20;
                obj["warm_reference_cold_ndcg@10"] = reference.Ndcg10;
            }
            Output.WriteJson(obj);
            return;
        }
        var table = new Table().AddColumn("ranking of the held-out items").AddColumn("recall@20").AddColumn("ndcg@10").AddColumn("auc");
        void Row(string name, ColdStartMetrics m) => table.AddRow(name, $"{m.Recall20:F4}", $"{m.Ndcg10:F4}", $"{m.At20.Auc:F4}");
        Row("text projection", report.Projection);
        Row("popularity (oracle)", report.Popularity);
        Row("popularity predicted from text", report.TextPopularity);
        Row("random", report.Random);
        if (report.WarmReference is { } warm)
        {
            Row("trained factors (reference)", warm);
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[grey]{report.ColdItems:N0} of {report.ItemsWithText:N0} items with text held out (seed {options.Seed}); candidates: the held-out items only; " +
            $"{report.UsersEvaluated:N0} users with training and held-out interactions, {report.TestRows:N0} held-out interactions; popularity (oracle) counts the held-out interactions themselves; " +
            "popularity predicted from text regresses the warm items' log interaction counts on their embeddings[/]");
    }

    private sealed class Progress(Action<IterationReport> action) : IProgress<IterationReport>
    {
        public void Report(IterationReport value) => action(value);
    }
}
