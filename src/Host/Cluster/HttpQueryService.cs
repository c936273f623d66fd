using System.Collections.Specialized;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Unicode;
using System.Text.Json.Nodes;
using System.Web;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using WalsCluster.Actors;
using WalsCluster.Messages;

namespace WalsCluster.Host.Cluster;

/// <summary>Where a node serves HTTP queries and how many it answers at once.</summary>
/// <param name="Host">Address to listen on (an IP or a hostname of this machine).</param>
/// <param name="Port">TCP port.</param>
/// <param name="MaxConcurrent">Requests in flight at most; more are answered 503 at once.</param>
/// <param name="AskTimeout">How long a request waits for the router's reply (the router itself always answers within
/// its query timeout, or the embedding timeout for a text).</param>
internal sealed record HttpQueryOptions(string Host, int Port, int MaxConcurrent, TimeSpan AskTimeout)
{
    /// <summary>The listener prefix: <c>0.0.0.0</c>, <c>*</c> or <c>+</c> listen on every address (HttpListener's
    /// wildcard, which accepts any Host header); an IPv6 address is bracketed.</summary>
    public string Prefix => Host is "0.0.0.0" or "*" or "+" or "::"
        ? $"http://*:{Port}/"
        : $"http://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}/";
}

/// <summary>
/// The HTTP query API of a node with the <c>query</c> role (<c>wals node --http-port N</c>): GET requests answered by the
/// node's query router, each with one JSON object, the keys of <c>wals recommend --cluster ... --json</c>
/// (<c>query</c>, <c>items</c> [{<c>item</c>, <c>score</c>}], <c>missing_shards</c>, <c>failure</c>):
/// <list type="table">
/// <item><term><c>/v1/recommend?user=ID[&amp;k=10]</c></term><description><see cref="Recommend"/>: the user's top k, trained items excluded.</description></item>
/// <item><term><c>/v1/recommend?items=ID:VALUE,ID:VALUE[&amp;k=10]</c></term><description><see cref="RecommendForItems"/>: a user not in the model, folded in from those interactions (VALUE defaults to 1).</description></item>
/// <item><term><c>/v1/recommend?text=WORDS[&amp;k=10]</c></term><description><see cref="RecommendForText"/>: a free-text query (needs an embedder node and a run with item texts).</description></item>
/// <item><term><c>/v1/similar?item=ID[&amp;k=10]</c></term><description><see cref="SimilarItems"/>: cosine of item factors.</description></item>
/// <item><term><c>/v1/health</c></term><description><c>{"status": "up"}</c> once the router is there.</description></item>
/// </list>
/// Status codes: 200 with the reply (a non-empty <c>missing_shards</c> marks a partial answer: those item shards did not
/// answer in time); 400 with <c>{"error": ...}</c> for a request that cannot be a query (another method or path, a
/// missing, repeated or invalid parameter); 422 with the reply when the router could not answer it (an unknown user or
/// item, no trained model, no projection for text); 503 with <c>{"error": ...}</c> when <see cref="HttpQueryOptions.MaxConcurrent"/>
/// requests are in flight, the router is not up yet (or did not answer in time) or the node is stopping; 500 for a bug,
/// also written to standard error.
/// </summary>
internal sealed class HttpQueryService(ActorRegistry registry, HttpQueryOptions options) : IHostedService, IDisposable
{
    /// <summary>The line the node prints once it listens (tests and supervisors may wait for it).</summary>
    public const string UpLine = "wals http up:";

    private readonly HttpListener _listener = new();
    private readonly SemaphoreSlim _slots = new(options.MaxConcurrent, options.MaxConcurrent);
    private readonly CancellationTokenSource _stopping = new();
    private IActorRef? _router;
    private Task? _loop;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener.Prefixes.Add(options.Prefix);
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new InvalidOperationException($"Cannot listen for HTTP queries on {options.Prefix}: {e.Message}", e);
        }
        _loop = Task.Run(() => AcceptAsync(_stopping.Token), CancellationToken.None);
        Console.Out.WriteLine($"{UpLine} {options.Prefix}v1/");
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        if (_loop is not null)
        {
            await Task.WhenAny(_loop, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken));
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _slots.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                // Stopped.
                return;
            }
            if (!_slots.Wait(0))
            {
                _ = WriteAsync(context, 503, Error($"{options.MaxConcurrent} queries are in flight; try again."));
                continue;
            }
            _ = Task.Run(async () =>
            {
                (int Status, JsonObject Body) answer;
                try
                {
                    answer = await HandleAsync(context, stopping);
                }
                finally
                {
                    // The slot bounds the queries the router works on; writing the reply does not need one.
                    try
                    {
                        _slots.Release();
                    }
                    catch (ObjectDisposedException)
                    {
                        // The service was disposed while this query was in flight.
                    }
                }
                await WriteAsync(context, answer.Status, answer.Body);
            }, CancellationToken.None);
        }
    }

    private async Task<(int Status, JsonObject Body)> HandleAsync(HttpListenerContext context, CancellationToken stopping)
    {
        try
        {
            return await AnswerAsync(context.Request, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return (503, Error("The node is stopping."));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"http {context.Request.HttpMethod} {context.Request.Url?.PathAndQuery}: {e.GetType().Name}: {e.Message}");
            return (500, Error($"{e.GetType().Name}: {e.Message}"));
        }
    }

    /// <summary>The status and body for a request (the routing and validation, then the router's reply).</summary>
    private async Task<(int Status, JsonObject Body)> AnswerAsync(HttpListenerRequest request, CancellationToken stopping)
    {
        if (request.HttpMethod != "GET")
        {
            return (400, Error($"Method {request.HttpMethod} is not served: queries are GET requests."));
        }
        if (request.RawUrl is { Length: > MaxUrlLength } longUrl)
        {
            return (414, Error($"The request URL has {longUrl.Length} characters; at most {MaxUrlLength} are read."));
        }
        var path = request.Url?.AbsolutePath.TrimEnd('/') ?? "";
        NameValueCollection query;
        try
        {
            query = HttpUtility.ParseQueryString(QueryString(request.RawUrl ?? ""), Encoding.UTF8);
        }
        catch (ArgumentException e)
        {
            return (400, Error(e.Message));
        }
        if (path == "/v1/health")
        {
            return !TryRouter(out _) ? (503, Error("The query router is not up yet.")) : (200, new JsonObject { ["status"] = "up" });
        }
        IWalsMessage message;
        try
        {
            message = path switch
            {
                "/v1/recommend" => RecommendQuery(query),
                "/v1/similar" => new SimilarItems(Single(query, "item") ?? throw new ArgumentException("Parameter 'item' is missing."), K(query)),
                _ => throw new ArgumentException($"Path '{path}' is not served: use /v1/recommend, /v1/similar or /v1/health."),
            };
            Only(query, path == "/v1/similar" ? ["item", "k"] : ["user", "items", "text", "k", "include_seen"]);
        }
        catch (ArgumentException e)
        {
            return (400, Error(e.Message));
        }
        if (!TryRouter(out var router))
        {
            return (503, Error("The query router is not up yet."));
        }
        Recommendations reply;
        try
        {
            reply = await router.Ask<Recommendations>(message, options.AskTimeout, stopping);
        }
        catch (AskTimeoutException)
        {
            return (503, Error($"The query router did not answer within {options.AskTimeout.TotalSeconds:0.###} s."));
        }
        return (reply.Failure is null ? 200 : 422, ClusterCommands.ReplyJson(reply));
    }

    private bool TryRouter(out IActorRef router)
    {
        if (_router is null && registry.TryGet<QueryRouterKey>(out var found))
        {
            _router = found;
        }
        router = _router ?? ActorRefs.Nobody;
        return _router is not null;
    }

    /// <summary>The longest request URL answered (a longer one gets 414): ids and texts of a query fit well inside it.</summary>
    internal const int MaxUrlLength = 32768;

    /// <summary>
    /// The query string of <paramref name="rawUrl"/>. Percent-encoded bytes are decoded as UTF-8 by the parser; a client
    /// that sends raw non-ASCII bytes (curl --globoff '...?text=café') gets them decoded as UTF-8 too, where
    /// HttpListener has turned each byte into one Latin-1 character. Bytes that are not UTF-8 are an error.
    /// </summary>
    internal static string QueryString(string rawUrl)
    {
        var at = rawUrl.IndexOf('?');
        var query = at < 0 ? "" : rawUrl[(at + 1)..];
        if (Ascii.IsValid(query) || query.Any(c => c > '\u00FF'))
        {
            return query;
        }
        var bytes = Encoding.Latin1.GetBytes(query);
        return Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : throw new ArgumentException("The query string has bytes that are not UTF-8.");
    }

    /// <summary>Exactly one of user, items and text.</summary>
    private static IWalsMessage RecommendQuery(NameValueCollection query)
    {
        var user = Single(query, "user");
        var items = Single(query, "items");
        var text = Single(query, "text");
        var k = K(query);
        var includeSeen = Single(query, "include_seen") is { } flag
            ? flag.ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw new ArgumentException($"Parameter 'include_seen' = '{flag}' is invalid: use true or false."),
            }
            : (bool?)null;
        if ((user is null ? 0 : 1) + (items is null ? 0 : 1) + (text is null ? 0 : 1) != 1)
        {
            throw new ArgumentException("Give exactly one of the parameters 'user', 'items' and 'text'.");
        }
        if (text is not null)
        {
            if (includeSeen is not null)
            {
                throw new ArgumentException("Parameter 'include_seen' goes with 'user' or 'items': a text query has no items to leave out.");
            }
            return string.IsNullOrWhiteSpace(text) ? throw new ArgumentException("Parameter 'text' is empty.") : new RecommendForText(text, k);
        }
        return ClusterCommands.Query(user, null, items, k, includeSeen ?? false);
    }

    /// <summary>The parameter's one value, null when absent; given twice is an error.</summary>
    private static string? Single(NameValueCollection query, string name)
    {
        var values = query.GetValues(name);
        return values switch
        {
            null => null,
            { Length: 1 } => values[0],
            _ => throw new ArgumentException($"Parameter '{name}' is given {values.Length} times."),
        };
    }

    private static int K(NameValueCollection query)
    {
        var text = Single(query, "k");
        if (text is null)
        {
            return 10;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var k) && k >= 1
            ? k
            : throw new ArgumentException($"Parameter 'k' = '{text}' is invalid: it must be a whole number of at least 1.");
    }

    private static void Only(NameValueCollection query, string[] allowed)
    {
        foreach (var key in query.AllKeys)
        {
            if (key is null || !allowed.Contains(key, StringComparer.Ordinal))
            {
                throw new ArgumentException($"Parameter '{key}' is not known here: use {string.Join(", ", allowed.Select(a => $"'{a}'"))}.");
            }
        }
    }

    private static JsonObject Error(string message) => new() { ["error"] = message };

    // Bodies are application/json, never HTML: quotes and non-ASCII text need no escaping beyond JSON's own.
    private static readonly System.Text.Json.JsonSerializerOptions BodyJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task WriteAsync(HttpListenerContext context, int status, JsonObject body)
    {
        byte[] bytes;
        try
        {
            bytes = Encoding.UTF8.GetBytes(body.ToJsonString(BodyJson));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            // A body that does not serialize (a non-finite number) still gets an answer.
            status = 500;
            bytes = Encoding.UTF8.GetBytes(Error($"The reply could not be written as JSON: {e.Message}").ToJsonString(BodyJson));
        }
        try
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
        {
            // The client went away.
        }
    }
}
