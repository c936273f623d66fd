using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// Real <c>wals node</c> processes (<c>dotnet wals.dll node ...</c> from the test's output folder) on 127.0.0.1 with free
/// ports. Disposing asks each to leave ("stop" on its standard input) and kills only one that has not exited in 20 s.
/// </summary>
internal sealed class NodeProcesses : IDisposable
{
    private readonly List<Process> _processes = [];

    public NodeProcesses(int count, ITestOutputHelper output, string? configPath = null)
        : this(count, line =>
        {
            try
            {
                output.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test that owned the output has finished.
            }
        }, configPath)
    {
    }

    /// <param name="count">Node processes to start.</param>
    /// <param name="log">Receives every non-empty line a node writes to standard error.</param>
    /// <param name="configPath">An overlay HOCON file for every node.</param>
    public NodeProcesses(int count, Action<string> log, string? configPath = null)
    {
        var wals = Path.Combine(AppContext.BaseDirectory, "wals.dll");
        Assert.True(File.Exists(wals), $"{wals} is missing: the test project references src/Host so that it is copied there.");
        Ports = Enumerable.Range(0, count).Select(_ => FreePort()).ToArray();
        Seed = $"127.0.0.1:{Ports[0]}";
        var up = new CountdownEvent(count);
        try
        {
            foreach (var port in Ports)
            {
                var info = new ProcessStartInfo("dotnet", $"\"{wals}\" node --host 127.0.0.1 --port {port} --seed-nodes {Seed} --roles trainer,query --stop-on-stdin"
                    + (configPath is null ? "" : $" --config \"{configPath}\""))
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                var process = Process.Start(info)!;
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data?.StartsWith("wals node up:", StringComparison.Ordinal) == true)
                    {
                        up.Signal();
                    }
                };
                process.ErrorDataReceived += (_, e) =>
                {
                    if (!string.IsNullOrWhiteSpace(e.Data))
                    {
                        log($"node {port} stderr: {e.Data}");
                    }
                };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                _processes.Add(process);
            }
            Assert.True(up.Wait(TimeSpan.FromSeconds(60)), $"Only {count - up.CurrentCount} of {count} node processes came up within 60 s.");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int[] Ports { get; }

    public string Seed { get; }

    public IReadOnlyList<Process> Processes => _processes;

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try
            {
                p.StandardInput.WriteLine("stop");
                p.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }
        foreach (var p in _processes)
        {
            if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(TimeSpan.FromSeconds(5));
            }
            p.Dispose();
        }
        _processes.Clear();
    }
}
