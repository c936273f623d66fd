using System.Text;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// <c>wals train</c> and <c>wals evaluate</c> end to end on files written here: a <c>--test</c> file in the input's own
/// format is evaluated as given, a failed run leaves the model and its split as they were, and bad options and files
/// stop with one line naming them (exit code 2).
/// </summary>
public sealed class TrainEvaluateCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("wals-train-evaluate-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Last.fm's user_artists.dat layout (tabs, a header), rows split between two files by a seeded draw.</summary>
    private (string Train, string Test, int TestRows) LastFmFiles()
    {
        var random = new Random(3);
        var train = new StringBuilder("userID\tartistID\tweight\r\n");
        var test = new StringBuilder("userID\tartistID\tweight\r\n");
        var testRows = 0;
        for (var u = 0; u < 50; u++)
        {
            foreach (var a in Enumerable.Range(0, 30).Where(_ => random.NextDouble() < 0.3))
            {
                var line = $"{u}\t{(a + u % 4) % 30 + 100}\t{1 + random.Next(500)}\r\n";
                if (random.NextDouble() < 0.2)
                {
                    test.Append(line);
                    testRows++;
                }
                else
                {
                    train.Append(line);
                }
            }
        }
        var trainPath = Path.Combine(_folder, "train.dat");
        var testPath = Path.Combine(_folder, "test.dat");
        File.WriteAllText(trainPath, train.ToString());
        File.WriteAllText(testPath, test.ToString());
        return (trainPath, testPath, testRows);
    }

    [Fact]
    public async Task A_test_file_in_the_inputs_format_is_evaluated_as_given()
    {
        // Regression: evaluate read the --test file of train as comma CSV with a header, so a Last.fm test file failed.
        var (train, test, testRows) = LastFmFiles();
        var model = Path.Combine(_folder, "m.walsmodel");
        var trained = WalsProcess.LastJson(await WalsProcess.RunAsync(
            $"train --input \"{train}\" --format lastfm --test \"{test}\" --factors 4 --iterations 3 --threads 1 --model \"{model}\" --json", output.WriteLine));
        Assert.Equal(testRows, trained["test_rows"]!.GetValue<long>());
        Assert.Equal(Path.GetFullPath(model + ".test.csv"), trained["test_split"]!.GetValue<string>());
        var evaluated = WalsProcess.LastJson(await WalsProcess.RunAsync($"evaluate --model \"{model}\" --json", output.WriteLine));
        Assert.True(evaluated["users_evaluated"]!.GetValue<int>() > 20);
    }

    [Fact]
    public async Task A_failed_run_leaves_the_model_and_its_split_as_they_were()
    {
        // Regression: MODEL.test.csv was written before training, so a run that failed later replaced the split the
        // old model was evaluated on with one whose test rows it had trained on.
        var (train, _, _) = LastFmFiles();
        var model = Path.Combine(_folder, "a.walsmodel");
        var common = $"train --input \"{train}\" --format lastfm --test-fraction 0.2 --factors 4 --iterations 3 --threads 1 --model \"{model}\"";
        await WalsProcess.RunAsync($"{common} --seed 1", output.WriteLine);
        var modelBytes = await File.ReadAllBytesAsync(model);
        var splitBytes = await File.ReadAllBytesAsync(model + ".test.csv");
        var (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"{common} --seed 2 --item-text \"{Path.Combine(_folder, "missing.csv")}\"");
        Assert.Equal(2, exitCode);
        Assert.Contains("missing.csv", stderr);
        Assert.Equal(modelBytes, await File.ReadAllBytesAsync(model));
        Assert.Equal(splitBytes, await File.ReadAllBytesAsync(model + ".test.csv"));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp-*"));
    }

    [Fact]
    public async Task A_metric_that_is_not_a_number_is_null_in_json()
    {
        // Every test item is a training item here, so no test item can be ranked: AUC is NaN, which JSON cannot hold.
        var (train, _, _) = LastFmFiles();
        var model = Path.Combine(_folder, "n.walsmodel");
        await WalsProcess.RunAsync($"train --input \"{train}\" --format lastfm --factors 4 --iterations 2 --threads 1 --model \"{model}\"", output.WriteLine);
        var asCsv = Path.Combine(_folder, "train-as-test.csv");
        File.WriteAllLines(asCsv, File.ReadAllLines(train).Skip(1).Select(l => l.Replace('\t', ',')).Prepend("user,item,value"));
        var evaluated = WalsProcess.LastJson(await WalsProcess.RunAsync($"evaluate --model \"{model}\" --test \"{asCsv}\" --json", output.WriteLine));
        Assert.True(evaluated.ContainsKey("auc"));
        Assert.Null(evaluated["auc"]);
    }

    [Fact]
    public async Task Bad_options_and_files_stop_with_one_line_naming_them()
    {
        var (train, _, _) = LastFmFiles();
        var model = Path.Combine(_folder, "b.walsmodel");
        await WalsProcess.RunAsync($"train --input \"{train}\" --format lastfm --factors 4 --iterations 2 --threads 1 --model \"{model}\"", output.WriteLine);
        var unknownOnly = Path.Combine(_folder, "unknown.csv");
        File.WriteAllText(unknownOnly, "user,item,value\nnobody,100,1\n");
        foreach (var (arguments, words) in new[]
        {
            ($"train --input \"{train}\" --format lastfm --transform \"log, power\" --model \"{model}.x\"", "'transform' = 'log, power' is invalid"),
            ($"train --input \"{train}\" --format 1 --model \"{model}.x\"", "'format' = '1' is invalid"),
            ($"train --input \"{train}\" --format lastfm --min-value NaN --model \"{model}.x\"", "'min-value' = NaN is invalid"),
            ($"evaluate --model \"{model}\" --test \"{unknownOnly}\"", "no test row has a user and an item the model knows"),
            ($"evaluate --model \"{model}\" --threads -3", "'threads' = -3 is invalid"),
            ($"evaluate --model \"{_folder}\"", "error:"),
            ("evaluate --cold-start-fraction 0.1 --k 3", "'--k' does not apply with --cold-start-fraction"),
            ($"train --input \"{train}\" --format lastfm --item-text \"{Path.Combine(_folder, "texts.csv")}\" --projection-validation-fraction 1.5 --model \"{model}.x\"",
                "'projection-validation-fraction' = 1.5 is invalid"),
        })
        {
            var (exitCode, stdout, stderr) = await WalsProcess.ExecuteAsync(arguments);
            output.WriteLine($"{arguments}\n -> {exitCode}: {stderr.Trim()}");
            Assert.Equal(2, exitCode);
            Assert.Contains(words, stderr);
            Assert.DoesNotContain("   at ", stderr + stdout); // no stack trace
        }
        Assert.False(File.Exists(model + ".x"));
    }
}
