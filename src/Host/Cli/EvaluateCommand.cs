using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Core.Jobs;
using WalsCluster.Core.Metrics;
using WalsCluster.Core.Model;

namespace WalsCluster.Host.Cli;

/// <summary><c>wals evaluate</c>: ranking metrics of a model and of the popularity baseline on held-out interactions.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The model file (required, except with --cold-start-fraction, where it only lends its training options)." };
        var test = new Option<string?>("--test") { Description = "Test interactions as user,item,value CSV with a header (default: the split stored by 'wals train --test-fraction')." };
        var k = new Option<int>("--k") { Description = "The cut-off of the top-k lists.", DefaultValueFactory = _ => 10 };
        var definitions = new Option<string>("--metric-definitions") { Description = "standard (textbook) or implicit (the implicit library 0.7's formulas).", DefaultValueFactory = _ => "standard" };
        var threads = new Option<int>("--threads") { Description = "Worker threads; 0 = all cores.", DefaultValueFactory = _ => 0 };
        var json = Output.JsonOption();
        var coldStart = new ColdStartOptionSet();
        var command = new Command("evaluate", "Evaluate a model on held-out interactions, beside a popularity baseline; or, with --cold-start-fraction, " +
            "train without a share of the items and evaluate their factors from text (see docs/embedding.md).");
        foreach (var option in new Option[] { model, test, k, definitions, threads })
        {
            command.Options.Add(option);
        }
        coldStart.AddTo(command);
        command.Options.Add(json);
        command.SetAction(result => Output.Guard(() =>
        {
            var asJson = result.GetValue(json);
            if (result.GetValue(coldStart.Fraction) is { } fraction)
            {
                // The cold-start report has its own cut-offs (recall@20, nDCG@10), definitions and test part (the held-out items).
                foreach (var option in new Option[] { k, definitions, test })
                {
                    if (result.GetResult(option) is { Implicit: false })
                    {
                        throw new ArgumentException($"Option '{option.Name}' does not apply with --cold-start-fraction, which reports recall@20 and nDCG@10 " +
                            "with the standard definitions on the held-out items.");
                    }
                }
                return coldStart.Run(result, fraction, result.GetValue(model), result.GetValue(threads), asJson);
            }
            var modelPath = result.GetValue(model)
                ?? throw new ArgumentException("Option '--model' is required (or give --cold-start-fraction with --input and --item-text).");
            var cutoff = result.GetValue(k);
            if (cutoff < 1)
            {
                throw new ArgumentException($"Option 'k' = {cutoff} is invalid: it must be >= 1.");
            }
            if (result.GetValue(threads) < 0)
            {
                throw new ArgumentException($"Option 'threads' = {result.GetValue(threads)} is invalid: it must be >= 0 (0 = all cores).");
            }
            var defs = InputOptions.ParseEnum<MetricDefinitions>(result.GetValue(definitions)!, "metric-definitions");
            var saved = SavedModel.Load(modelPath);
            var summary = EvaluationJob.Run(saved, result.GetValue(test), cutoff, defs, result.GetValue(threads));
            if (summary.UnknownUserRows + summary.UnknownItemRows > 0)
            {
                Output.Note(asJson, $"{summary.UnknownUserRows} test rows have users and {summary.UnknownItemRows} have items that the model does not know; they are left out");
            }
            if (asJson)
            {
                var obj = new JsonObject { ["k"] = cutoff, ["definitions"] = defs.ToString().ToLowerInvariant(), ["users_evaluated"] = summary.Model.UsersEvaluated };
                foreach (var (key, value) in summary.Model.Values)
                {
                    obj[key] = value;
                }
                foreach (var (key, value) in summary.Popularity.Values)
                {
                    obj["popularity_" + key] = value;
                }
                Output.WriteJson(obj);
            }
            else
            {
                var table = new Table().AddColumn("metric").AddColumn("model").AddColumn("popularity");
                foreach (var ((key, value), (_, baseline)) in summary.Model.Values.Zip(summary.Popularity.Values))
                {
                    table.AddRow(key, $"{value:F4}", $"{baseline:F4}");
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine($"[grey]{summary.Model.UsersEvaluated:N0} users with test items, {defs.ToString().ToLowerInvariant()} definitions, test file {Markup.Escape(summary.TestPath)}[/]");
            }
            return 0;
        }));
        return command;
    }
}
