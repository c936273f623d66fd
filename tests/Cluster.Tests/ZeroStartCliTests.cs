using System.Text;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// <c>wals train --cg-zero-start</c> end to end: the run reports the objective of every iteration (computed at the end of
/// the item half-steps), it falls, and the option is refused where it has no meaning.
/// </summary>
public sealed class ZeroStartCliTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Train_with_user_rows_started_from_zero_reports_a_falling_objective()
    {
        var folder = Directory.CreateTempSubdirectory("wals-zero-start-cli-").FullName;
        try
        {
            var random = new Random(7);
            var csv = new StringBuilder();
            for (var u = 0; u < 60; u++)
            {
                foreach (var i in Enumerable.Range(0, 40).Where(_ => random.NextDouble() < 0.2))
                {
                    csv.Append($"u{u},i{(i + u % 5) % 40},{1 + random.Next(5)}\n");
                }
            }
            var input = Path.Combine(folder, "plays.csv");
            await File.WriteAllTextAsync(input, csv.ToString());
            var common = $"train --input \"{input}\" --format csv --factors 6 --iterations 6 --threads 1 --json";

            var warm = WalsProcess.LastJson(await WalsProcess.RunAsync($"{common} --model \"{Path.Combine(folder, "warm.walsmodel")}\"", output.WriteLine));
            var zero = WalsProcess.LastJson(await WalsProcess.RunAsync($"{common} --cg-zero-start users --model \"{Path.Combine(folder, "zero.walsmodel")}\"", output.WriteLine));
            var losses = zero["loss"]!.AsArray().Select(l => l!.GetValue<double>()).ToArray();
            Assert.Equal(6, losses.Length);
            Assert.All(losses, l => Assert.True(double.IsFinite(l), $"loss {l}"));
            Assert.True(losses[^1] < losses[0], $"the objective did not fall: {string.Join(", ", losses)}");
            var warmFinal = warm["final_loss"]!.GetValue<double>();
            Assert.InRange(zero["final_loss"]!.GetValue<double>(), warmFinal * (1 - 1e-3), warmFinal * (1 + 1e-2));

            var (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"{common} --solver cholesky --cg-zero-start users --model \"{Path.Combine(folder, "c.walsmodel")}\"");
            Assert.NotEqual(0, exitCode);
            Assert.Contains("cg-zero-start", stderr);
            (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"{common} --cg-zero-start sideways --model \"{Path.Combine(folder, "s.walsmodel")}\"");
            Assert.NotEqual(0, exitCode);
            Assert.Contains("none, users, items, both", stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
