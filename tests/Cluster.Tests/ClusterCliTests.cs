using System.Text.Json.Nodes;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// The command line against the same three node processes: <c>wals train --cluster ... --test-fraction</c> holds out the same
/// test part as the local <c>wals train</c> (same file, byte for byte), trains on the rest on the cluster, and writes a
/// model that <c>wals evaluate</c> scores on that held-out part.
/// </summary>
public sealed partial class ThreeProcessClusterTests
{
    [Fact]
    public async Task Train_on_the_cluster_with_a_test_fraction_holds_out_the_local_split_and_evaluates()
    {
        await Cluster.ClientAsync();
        var folder = Directory.CreateTempSubdirectory("wals-cli-").FullName;
        try
        {
            var input = Path.Combine(folder, "interactions.csv");
            var random = new Random(3);
            var lines = new List<string>();
            for (var u = 0; u < 150; u++)
            {
                // Two taste groups, so that a trained model ranks better than chance.
                var group = u % 2;
                foreach (var i in Enumerable.Range(0, 12).Select(_ => group * 100 + random.Next(100)).Distinct())
                {
                    lines.Add($"u{u},i{i},{random.Next(1, 10)}");
                }
            }
            await File.WriteAllLinesAsync(input, lines);
            var common = $"--input \"{input}\" --test-fraction 0.25 --factors 8 --iterations 8 --regularization 0.5 --seed 5 --json";

            var clusterModel = Path.Combine(folder, "cluster.walsmodel");
            var trained = Json(await Wals($"train --cluster {Cluster.Nodes.Seed} {common} --model \"{clusterModel}\""));
            var localModel = Path.Combine(folder, "local.walsmodel");
            var local = Json(await Wals($"train {common} --model \"{localModel}\""));

            Assert.True(trained["test_rows"]!.GetValue<long>() > 0);
            Assert.Equal(local["test_rows"]!.GetValue<long>(), trained["test_rows"]!.GetValue<long>());
            Assert.Equal(lines.Count, trained["nnz"]!.GetValue<int>() + trained["test_rows"]!.GetValue<long>());
            Assert.Equal(clusterModel + ".test.csv", trained["test_split"]!.GetValue<string>());
            Assert.Equal(await File.ReadAllBytesAsync(localModel + ".test.csv"), await File.ReadAllBytesAsync(clusterModel + ".test.csv"));

            var evaluated = Json(await Wals($"evaluate --model \"{clusterModel}\" --json"));
            var localEvaluated = Json(await Wals($"evaluate --model \"{localModel}\" --json"));
            Output.WriteLine($"cluster {evaluated.ToJsonString()}\nlocal {localEvaluated.ToJsonString()}");
            // The held-out part is scored (the taste groups make a trained model clearly better than chance), as well as
            // by the locally trained model (CG: the factors differ in the last bits).
            var auc = evaluated["auc"]!.GetValue<double>();
            Assert.InRange(auc, 0.65, 1.0);
            Assert.Equal(localEvaluated["auc"]!.GetValue<double>(), auc, 0.02);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private Task<string> Wals(string arguments) => WalsProcess.RunAsync(arguments, Output.WriteLine);

    private static JsonObject Json(string stdout) => WalsProcess.LastJson(stdout);
}
