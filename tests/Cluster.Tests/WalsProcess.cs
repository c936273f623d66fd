using System.Diagnostics;
using System.Text.Json.Nodes;

namespace WalsCluster.Cluster.Tests;

/// <summary>The <c>wals</c> command line as a child process, for the tests that drive it end to end.</summary>
internal static class WalsProcess
{
    /// <summary>Runs <c>dotnet wals.dll ARGS</c> (at most 3 minutes) and returns its exit code, standard output and standard error.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> ExecuteAsync(string arguments)
    {
        var start = new ProcessStartInfo("dotnet", $"\"{Path.Combine(AppContext.BaseDirectory, "wals.dll")}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"wals {arguments} did not finish in 3 minutes.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs <c>wals ARGS</c>, logs its standard error, fails on a non-zero exit, and returns its standard output.</summary>
    public static async Task<string> RunAsync(string arguments, Action<string> log)
    {
        var (exitCode, stdout, stderr) = await ExecuteAsync(arguments);
        log($"$ wals {arguments}\n{stderr}");
        Assert.True(exitCode == 0, $"wals {arguments} exited with {exitCode}:\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>The JSON object on the last line of a <c>--json</c> run's output.</summary>
    public static JsonObject LastJson(string stdout) => JsonNode.Parse(stdout.Trim().Split('\n')[^1])!.AsObject();
}
