using System.Collections.Concurrent;
using WalsCluster.Actors;
using WalsCluster.Host.Cluster;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// Three real <c>wals node</c> processes on loopback and one client, shared by the tests of a class (one run at a time;
/// xunit runs a class's tests one after another). Started on first use, so a test that skips starts nothing; disposed
/// (client leaves, nodes asked to stop) after the class.
/// </summary>
public sealed class ThreeNodeCluster : IAsyncDisposable, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LocalCluster? _nodes;
    private WalsClient? _client;

    /// <summary>What the nodes wrote to standard error (tests print it).</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    internal LocalCluster Nodes => _nodes ?? throw new InvalidOperationException("The cluster has not been started.");

    /// <summary>The first node also serves HTTP queries, on this loopback port.</summary>
    public int HttpPort { get; } = WalsSystem.FreeLoopbackPort();

    public async Task<WalsClient> ClientAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_nodes is null)
            {
                // The test project references src/Host, so wals.dll is copied beside the tests.
                var wals = Path.Combine(AppContext.BaseDirectory, "wals.dll");
                Assert.True(File.Exists(wals), $"{wals} is missing.");
                _nodes = LocalCluster.Start(3, Log.Enqueue, walsDll: wals, nodeArguments: index => index == 0 ? $"--http-port {HttpPort}" : "");
            }
            return _client ??= await WalsClient.ConnectAsync(_nodes.Seed, TimeSpan.FromSeconds(60));
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
            _client = null;
        }
        _nodes?.Dispose();
        _nodes = null;
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
