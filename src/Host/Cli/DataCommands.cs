using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Spectre.Console;
using WalsCluster.Core.Data;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Synthetic;

namespace WalsCluster.Host.Cli;

/// <summary><c>wals split</c> and <c>wals generate</c>.</summary>
internal static class DataCommands
{
    public static Command CreateSplit()
    {
        var input = new InputOptions();
        var method = new Option<string>("--method") { Description = "random (per-user holdout fraction), leave-k-out, or temporal (per user, the latest fraction by timestamp).", DefaultValueFactory = _ => "random" };
        var fraction = new Option<double>("--fraction") { Description = "Test fraction for random and temporal.", DefaultValueFactory = _ => 0.2 };
        var leaveOut = new Option<int>("--leave-out") { Description = "k for leave-k-out.", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random methods.", DefaultValueFactory = _ => 42UL };
        var trainOut = new Option<string>("--train-out") { Description = "Where to write the training part (user,item,value CSV).", Required = true };
        var testOut = new Option<string>("--test-out") { Description = "Where to write the test part (user,item,value CSV).", Required = true };
        var json = Output.JsonOption();
        var command = new Command("split", "Split interactions into training and test files that any tool can read.");
        input.AddTo(command);
        foreach (var option in new Option[] { method, fraction, leaveOut, seed, trainOut, testOut, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            var loaded = InteractionLoader.Load(result.GetValue(input.Input)!, input.Read(result));
            var f = result.GetValue(fraction);
            var split = result.GetValue(method) switch
            {
                "random" => Splitter.RandomHoldout(loaded.Table, f, result.GetValue(seed)),
                "leave-k-out" => Splitter.LeaveKOut(loaded.Table, result.GetValue(leaveOut), result.GetValue(seed)),
                "temporal" => Splitter.TemporalPerUser(loaded.Table, f),
                var other => throw new ArgumentException($"Option 'method' = '{other}' is invalid: use random, leave-k-out or temporal."),
            };
            SplitFiles.Write(split.Train, result.GetValue(trainOut)!);
            SplitFiles.Write(split.Test, result.GetValue(testOut)!);
            if (result.GetValue(json))
            {
                Output.WriteJson(new JsonObject { ["train_rows"] = split.Train.Count, ["test_rows"] = split.Test.Count, ["skipped_rows"] = loaded.SkippedRows });
            }
            else
            {
                AnsiConsole.MarkupLine($"{split.Train.Count:N0} training rows -> {Markup.Escape(result.GetValue(trainOut)!)}, {split.Test.Count:N0} test rows -> {Markup.Escape(result.GetValue(testOut)!)}");
            }
            return 0;
        }));
        return command;
    }

    public static Command CreateGenerate()
    {
        var defaults = new SyntheticOptions();
        var users = new Option<int>("--users") { Description = "Users.", DefaultValueFactory = _ => defaults.Users };
        var items = new Option<int>("--items") { Description = "Items.", DefaultValueFactory = _ => defaults.Items };
        var perUser = new Option<double>("--per-user") { Description = "Mean interactions per user (Poisson).", DefaultValueFactory = _ => defaults.MeanItemsPerUser };
        var tastes = new Option<int>("--tastes") { Description = "Latent tastes.", DefaultValueFactory = _ => defaults.Tastes };
        var popularity = new Option<double>("--popularity-exponent") { Description = "Item popularity ~ 1 / rank^exponent.", DefaultValueFactory = _ => defaults.PopularityExponent };
        var tasteFraction = new Option<double>("--taste-fraction") { Description = "Fraction of a user's items drawn from their taste (the rest by popularity).", DefaultValueFactory = _ => defaults.TasteFraction };
        var seed = new Option<ulong>("--seed") { Description = "Seed: the same seed gives the same file.", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string>("--out") { Description = "Output CSV (user,item,value with a header); a .gz name is gzip-compressed.", Required = true };
        var itemTexts = new Option<string?>("--item-texts") { Description = "Also write item texts (id,text CSV) here." };
        var json = Output.JsonOption();
        var command = new Command("generate", "Generate planted implicit-feedback data for scale tests.");
        foreach (var option in new Option[] { users, items, perUser, tastes, popularity, tasteFraction, seed, output, itemTexts, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(result => Output.Guard(() =>
        {
            var asJson = result.GetValue(json);
            var data = new SyntheticData(new SyntheticOptions
            {
                Users = result.GetValue(users),
                Items = result.GetValue(items),
                MeanItemsPerUser = result.GetValue(perUser),
                Tastes = result.GetValue(tastes),
                PopularityExponent = result.GetValue(popularity),
                TasteFraction = result.GetValue(tasteFraction),
                Seed = result.GetValue(seed),
            });
            var watch = Stopwatch.StartNew();
            var rows = data.WriteCsv(result.GetValue(output)!, written => Output.Note(asJson, $"{written:N0} rows written"));
            var textsPath = result.GetValue(itemTexts);
            if (textsPath is not null)
            {
                using var writer = new StreamWriter(textsPath);
                writer.WriteLine("id,text");
                for (var i = 0; i < data.Options.Items; i++)
                {
                    writer.Write(i);
                    writer.Write(",\"");
                    writer.Write(data.ItemText(i).Replace("\"", "\"\""));
                    writer.WriteLine('"');
                }
            }
            if (asJson)
            {
                Output.WriteJson(new JsonObject { ["rows"] = rows, ["seconds"] = watch.Elapsed.TotalSeconds, ["out"] = result.GetValue(output) });
            }
            else
            {
                AnsiConsole.MarkupLine($"{rows:N0} interactions written to {Markup.Escape(result.GetValue(output)!)} in {watch.Elapsed.TotalSeconds:F1} s");
            }
            return 0;
        }));
        return command;
    }
}
