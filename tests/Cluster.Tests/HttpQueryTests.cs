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
            ("v1/recommend?text=%20", "'text' is empty"),
            ("v1/similar?k=3", "'item' is missing"),
            ("v2/recommend?user=u1", "'/v2/recommend' is not served"),
        })
        {
            var (status, body) = await GetAsync(http, path);
            Assert.Equal(HttpStatusCode.BadRequest, status);
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
    public async Task A_node_with_a_bad_HTTP_setting_stops_at_start_up_naming_it(string options, string words)
    {
        var (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"node --port {Actors.WalsSystem.FreeLoopbackPort()} {options}");
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
