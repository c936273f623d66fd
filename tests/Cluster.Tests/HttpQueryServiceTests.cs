using System.Net;
using Akka.Actor;
using Akka.Hosting;
using WalsCluster.Actors;
using WalsCluster.Host.Cluster;
using WalsCluster.Messages;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// <see cref="HttpQueryService"/> in this process against a scripted router: a request beyond the concurrency limit is
/// answered 503 at once while the others wait for the router, and nothing is asked before the router is registered.
/// </summary>
public sealed class HttpQueryServiceTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("http-query-service-tests");
    private readonly ActorRegistry _registry = new();
    private readonly int _port = WalsSystem.FreeLoopbackPort();
    private HttpQueryService? _service;

    /// <summary>Answers every Recommend at once, except user "slow", whose reply waits for a <see cref="Release"/>
    /// (the constructor's task completes when it is held).</summary>
    private sealed class ScriptedRouter : ReceiveActor
    {
        private IActorRef? _waiting;

        public ScriptedRouter(TaskCompletionSource arrived)
        {
            Receive<Recommend>(q =>
            {
                if (q.User == "slow")
                {
                    _waiting = Sender;
                    arrived.TrySetResult();
                    return;
                }
                Sender.Tell(new Recommendations(q.User, [new RankedItem("i1", 1, 0.5f)], [], null));
            });
            Receive<Release>(_ => _waiting?.Tell(new Recommendations("slow", [], [], null)));
        }
    }

    private sealed record Release;

    public async Task InitializeAsync()
    {
        _service = new HttpQueryService(_registry, new HttpQueryOptions("127.0.0.1", _port, MaxConcurrent: 1, AskTimeout: TimeSpan.FromSeconds(20)));
        await _service.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _service!.StopAsync(CancellationToken.None);
        _service.Dispose();
        await _system.Terminate();
    }

    private HttpClient Client() => new() { BaseAddress = new Uri($"http://127.0.0.1:{_port}/"), Timeout = TimeSpan.FromSeconds(30) };

    [Theory]
    [InlineData("127.0.0.1", "http://127.0.0.1:8080/")]
    [InlineData("node-1.example", "http://node-1.example:8080/")]
    [InlineData("0.0.0.0", "http://*:8080/")]
    [InlineData("*", "http://*:8080/")]
    [InlineData("::1", "http://[::1]:8080/")]
    public void The_listener_prefix_brackets_IPv6_and_turns_any_address_into_the_wildcard(string host, string prefix) =>
        Assert.Equal(prefix, new HttpQueryOptions(host, 8080, 1, TimeSpan.FromSeconds(1)).Prefix);

    [Theory]
    [InlineData("/v1/recommend?text=caf%C3%A9", "text=caf%C3%A9")] // percent-encoded: left to the parser
    [InlineData("/v1/recommend?text=caf\u00C3\u00A9", "text=caf\u00E9")] // raw UTF-8 bytes as HttpListener gives them (one Latin-1 character a byte)
    [InlineData("/v1/recommend?text=\u00E4\u00B8\u00AD", "text=\u4E2D")] // a CJK character, three bytes
    [InlineData("/v1/recommend?text=caf\u00E9", null)] // the byte E9 alone is not UTF-8
    [InlineData("/v1/health", "")]
    public void Raw_non_ascii_query_bytes_are_read_as_utf8(string rawUrl, string? query)
    {
        if (query is null)
        {
            Assert.Contains("not UTF-8", Assert.Throws<ArgumentException>(() => HttpQueryService.QueryString(rawUrl)).Message);
            return;
        }
        Assert.Equal(query, HttpQueryService.QueryString(rawUrl));
    }

    [Fact]
    public async Task Before_the_router_is_registered_queries_and_health_are_503()
    {
        using var http = Client();
        using var health = await http.GetAsync("v1/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        using var query = await http.GetAsync("v1/recommend?user=u1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, query.StatusCode);
        Assert.Contains("not up", await query.Content.ReadAsStringAsync());
        // A bad request is still named: it never reaches the router.
        using var bad = await http.GetAsync("v1/recommend?k=3");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task A_request_beyond_the_limit_is_refused_at_once_and_the_waiting_one_gets_its_reply()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var router = _system.ActorOf(Props.Create(() => new ScriptedRouter(arrived)));
        _registry.Register<QueryRouterKey>(router);
        using var http = Client();
        var slow = http.GetAsync("v1/recommend?user=slow");
        // Once the router holds the slow request, it holds the only slot.
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        using (var second = await http.GetAsync("v1/recommend?user=u2"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
            Assert.Contains("1 queries are in flight", await second.Content.ReadAsStringAsync());
        }
        Assert.False(slow.IsCompleted);
        router.Tell(new Release());
        using var answered = await slow;
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        // The slot is free again.
        using var after = await http.GetAsync("v1/recommend?user=u3&k=1");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Contains("\"item\":\"i1\"", await after.Content.ReadAsStringAsync());
    }
}
