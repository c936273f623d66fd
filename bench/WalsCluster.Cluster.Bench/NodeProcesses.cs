using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace WalsCluster.Cluster.Bench;

/// <summary>
/// Real <c>wals node</c> processes (<c>dotnet wals.dll node ...</c> from the bench's output folder) on 127.0.0.1 with free
/// ports. Disposing asks each to leave ("stop" on its standard input) and kills only one that has not exited in 30 s.
/// </summary>
internal sealed class NodeProcesses : IDisposable
{
    private readonly List<Process> _processes = [];

    public NodeProcesses(int count, TimeSpan upTimeout)
    {
        var wals = Path.Combine(AppContext.BaseDirectory, "wals.dll");
        if (!File.Exists(wals))
        {
            throw new FileNotFoundException($"{wals} is missing: the bench references src/Host so that it is copied there.", wals);
        }
        Ports = Enumerable.Range(0, count).Select(_ => FreePort()).ToArray();
        Seed = $"127.0.0.1:{Ports[0]}";
        using var up = new CountdownEvent(count);
        try
        {
            foreach (var port in Ports)
            {
                var info = new ProcessStartInfo("dotnet", $"\"{wals}\" node --host 127.0.0.1 --port {port} --seed-nodes {Seed} --roles trainer,query --stop-on-stdin")
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data?.StartsWith("wals node up:", StringComparison.Ordinal) == true)
                    {
                        up.Signal();
                    }
                    else if (e.Data is { } line && (line.Contains("[WARNING]") || line.Contains("[ERROR]")))
                    {
                        Console.Error.WriteLine($"  node {port}: {line}");
                    }
                };
                process.ErrorDataReceived += (_, e) =>
                {
                    if (!string.IsNullOrWhiteSpace(e.Data))
                    {
                        Console.Error.WriteLine($"  node {port} stderr: {e.Data}");
                    }
                };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                _processes.Add(process);
            }
            if (!up.Wait(upTimeout))
            {
                throw new TimeoutException($"Only {count - up.CurrentCount} of {count} node processes came up within {upTimeout.TotalSeconds:0} s.");
            }
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

    /// <summary>Peak resident set (VmHWM of /proc/PID/status) of each process in MiB; -1 where it cannot be read.</summary>
    public double[] PeakResidentMiB() => _processes.Select(p =>
    {
        try
        {
            var line = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }).ToArray();

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
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                Console.Error.WriteLine($"  node process {p.Id} did not leave within 30 s; killing it");
                p.Kill(entireProcessTree: true);
                p.WaitForExit(TimeSpan.FromSeconds(5));
            }
            p.Dispose();
        }
        _processes.Clear();
    }
}
