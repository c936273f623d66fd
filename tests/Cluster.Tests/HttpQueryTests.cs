using System.Net;
using System.Text.Json.Nodes;
using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// The HTTP query API of the first of the three node processes (<c>wals node --http-port</c>): each GET gets the reply the
/// query router gives a client for the same query, a query the router cannot answer gets 422 with its failure, and a
/// request that is not a query gets 400 naming what is wrong.
/// </summary>
public sealed partial class ThreeProcessClusterTests
{
    [Fact]
    public async Task Http_queries_get_the_routers_replies_and_bad_requests_are_named()
    {
        var client = await Cluster.ClientAsync();
        var random = new Random(11);
        var users = new IdMap(Enumerable.Range(0, 60).Select(u => $"u{u}"));
        var items = new IdMap(Enumerable.Range(0, 40).Select(i => $"i{i}"));
        var (u, i, v) = (new List<int>(), new List<int>(), new List<float>());
        for (var user = 0; user < 60; user++)
        {
            foreach (var item in Enumerable.Range(0, 8).Select(_ => user % 2 * 20 + random.Next(20)).Distinct())
            {
                u.Add(user);
                i.Add(item);
                v.Add(1 + random.Next(5));
            }
        }
        var table = new InteractionTable(users, items, u.ToArray(), i.ToArray(), v.ToArray());
        await client.TrainAsync(table, new WalsOptions { Factors = 6, Iterations = 4, Regularization = 0.5f }.Validate());

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Cluster.HttpPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        var health = await GetAsync(http, "v1/health");
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.Equal("up", health.Body["status"]!.GetValue<string>());

        foreach (var (path, message) in new (string, IWalsMessage)[]
        {
            ("v1/recommend?user=u7&k=5", new Recommend("u7", 5)),
            ("v1/recommend?user=u8", new Recommend("u8", 10)),
            ("v1/recommend?items=i3:4,i25&k=4", new RecommendForItems(["i3", "i25"], [4f, 1f], 4)),
            ("v1/recommend?user=u7&k=40&include_seen=true", new Recommend("u7", 40, IncludeSeen: true)),
            ("v1/recommend?items=i3:4,i25&k=40&include_seen=1", new RecommendForItems(["i3", "i25"], [4f, 1f], 40, IncludeSeen: true)),
            ("v1/similar?item=i12&k=3", new SimilarItems("i12", 3)),
        })
        {
            var expected = await client.AskAsync(message);
            Assert.Null(expected.Failure);
            var (status, body) = await GetAsync(http, path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(expected.Query, body["query"]!.GetValue<string>());
            Assert.Equal(expected.Items.Select(r => r.Id), body["items"]!.AsArray().Select(n => n!["item"]!.GetValue<string>()));
            Assert.Equal(expected.Items.Select(r => r.Score), body["items"]!.AsArray().Select(n => n!["score"]!.GetValue<float>()));
            Assert.Empty(body["missing_shards"]!.AsArray());
            Assert.Null(body["failure"]);
        }

        // include_seen ranks the whole catalogue; without it the user's own items (or the given ones) are left out.
        var seen = table.UserIndex.Where(x => x == 7).Count();
        Assert.Equal(40, (await client.AskAsync(new Recommend("u7", 40, IncludeSeen: true))).Items.Length);
        Assert.Equal(40 - seen, (await client.AskAsync(new Recommend("u7", 40))).Items.Length);
        Assert.Equal(38, (await client.AskAsync(new RecommendForItems(["i3", "i25"], [4f, 1f], 40))).Items.Length);

        // A value that is not a finite number, or repeats that add up past a float, is refused; no shard is restarted
        // by it (a restarted item shard would have lost its factors, and the queries after it would fail).
        foreach (var (ids, values) in new (string[], float[])[] { (["i3"], [float.NaN]), (["i3", "i3"], [3e38f, 3e38f]), (["i4"], [float.PositiveInfinity]) })
        {
            var refused = await client.AskAsync(new RecommendForItems(ids, values, 5));
            Assert.Contains("not a finite number", refused.Failure);
        }
        var after = await client.AskAsync(new SimilarItems("i3", 3));
        Assert.Null(after.Failure);
        Assert.Empty(after.MissingShards);

        var unknown = await GetAsync(http, "v1/recommend?user=nobody");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.Status);
        Assert.Contains("nobody", unknown.Body["failure"]!.GetValue<string>());
        Assert.Empty(unknown.Body["items"]!.AsArray());

        foreach (var (path, words) in new[]
        {
            ("v1/recommend?user=u1&k=0", "'k' = '0'"),
            ("v1/recommend?user=u1&k=ten", "'k' = 'ten'"),
            ("v1/recommend?user=u1&items=i1", "exactly one of"),
            ("v1/recommend?user=u1&user=u2", "'user' is given 2 times"),
            ("v1/recommend?user=u1&colour=red", "'colour' is not known"),
            ("v1/recommend?items=i1:x", "'i1:x' is not ITEM:VALUE"),
            ("v1/recommend?items=i1:NaN", "'i1:NaN' is not ITEM:VALUE with a finite number"),
            ("v1/recommend?items=i1:1e39", "with a finite number"),
            ("v1/recommend?items=i1:3e38,i1:3e38", "add up to more than a float holds"),
            ("v1/recommend?items=,", "names no items"),
            ("v1/recommend?user=u1&include_seen=maybe", "'include_seen' = 'maybe'"),
            ("v1/recommend?text=heist&include_seen=true", "'include_seen' goes with"),
            ("v1/recommend?text=" + new string('a', 40_000), "at most 32768"),
            ("v1/recommend?text=%20", "'text' is empty"),
            ("v1/similar?k=3", "'item' is missing"),
            ("v2/recommend?user=u1", "'/v2/recommend' is not served"),
        })
        {
            var (status, body) = await GetAsync(http, path);
            Assert.Equal(path.Length > 32768 ? HttpStatusCode.RequestUriTooLong : HttpStatusCode.BadRequest, status);
            Assert.Contains(words, body["error"]!.GetValue<string>());
        }
        using var post = await http.PostAsync("v1/recommend?user=u1", new StringContent(""));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        Assert.Contains("POST", await post.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("--roles trainer --http-port 8080", "needs the 'query' role")]
    [InlineData("--http-port 0", "'http-port' = 0 is invalid")]
    [InlineData("--http-port 8080 --http-max-concurrent 0", "'http-max-concurrent' = 0 is invalid")]
    [InlineData("--port 99999", "'port' = 99999 is invalid")]
    [InlineData("--roles ,", "'roles' is empty")]
    public async Task A_node_with_a_bad_HTTP_setting_stops_at_start_up_naming_it(string options, string words)
    {
        var port = options.Contains("--port ") ? "" : $"--port {Actors.WalsSystem.FreeLoopbackPort()} ";
        var (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"node {port}{options}");
        Assert.NotEqual(0, exitCode);
        Assert.Contains(words, stderr);
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }
}
