using Akka.Actor;
using Akka.Cluster.Sharding;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;
using Recommendations = WalsCluster.Messages.Recommendations;

namespace WalsCluster.Actors;

/// <summary>
/// Answers <see cref="Recommend"/>, <see cref="SimilarItems"/>, <see cref="RecommendForItems"/> and
/// <see cref="RecommendForText"/>: finds the query vector (the user's row from its shard, the item's row, trained or cold,
/// a fold-in solve, or the text's embedding from the cluster's embedding pool projected with the coordinator's last
/// projection, x = W^T e + b), fans out to every item shard (each returns its own top-k over its trained rows and its
/// cold items by exact dot products or cosines, <see cref="RankShardItems"/>), and merges the partial lists (score
/// descending, ties to the lower item index, as the single-process ranker). An item shard that does not answer within <see cref="WalsSettings.QueryTimeout"/> is
/// listed in <see cref="Recommendations.MissingShards"/>; the caller always gets a reply. Each query runs as a task piped
/// to the captured sender, so the router's mailbox never waits.
/// </summary>
public sealed class QueryRouter : ReceiveActor
{
    private readonly WalsSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _embedding;
    private readonly TimeSpan _embedTimeout;
    private IActorRef? _region;

    public QueryRouter(WalsSettings settings, IActorRef? region, IActorRef? coordinator, IActorRef? embedding, TimeSpan? embedTimeout)
    {
        _settings = settings;
        _region = region;
        _coordinator = coordinator ?? ActorRefs.Nobody;
        _embedding = embedding ?? ActorRefs.Nobody;
        _embedTimeout = embedTimeout ?? TimeSpan.FromSeconds(60);
        Receive<Recommend>(q => Answer(RecommendAsync(q)));
        Receive<SimilarItems>(q => Answer(SimilarAsync(q)));
        Receive<RecommendForItems>(q => Answer(FoldInAsync(q)));
        Receive<RecommendForText>(q => Answer(TextAsync(q)));
    }

    /// <summary>
    /// How long a caller waits for the router's reply: it answers within its query timeout per step (a fold-in or a text
    /// query takes up to three), and a text query first waits up to <paramref name="embeddingAskTimeout"/> for its vector.
    /// </summary>
    public static TimeSpan ReplyTimeout(WalsSettings settings, TimeSpan embeddingAskTimeout, bool text) =>
        settings.QueryTimeout * 3 + (text ? embeddingAskTimeout : TimeSpan.Zero) + TimeSpan.FromSeconds(5);

    /// <param name="settings">Cluster settings.</param>
    /// <param name="region">The factor shard region or its proxy (or a test probe); null looks it up.</param>
    /// <param name="coordinator">The coordinator (singleton proxy) that holds the projection for text queries.</param>
    /// <param name="embedding">The embedding pool (or the router over the cluster's pools) that embeds text queries.</param>
    /// <param name="embedTimeout">How long a text query waits for its vector (<c>wals.embedding.pipeline.ask-timeout</c>).</param>
    public static Props Props(WalsSettings settings, IActorRef? region = null, IActorRef? coordinator = null, IActorRef? embedding = null, TimeSpan? embedTimeout = null) =>
        Akka.Actor.Props.Create(() => new QueryRouter(settings, region, coordinator, embedding, embedTimeout));

    private IActorRef Region => _region ??= ClusterSharding.Get(Context.System).ShardRegion(WalsSystem.ShardTypeName);

    private void Answer(Task<Recommendations> reply)
    {
        var sender = Sender;
        reply.PipeTo(sender, failure: e => new Recommendations("", [], [], $"Query failed: {(e is AggregateException a ? a.GetBaseException() : e).Message}"));
    }

    private async Task<Recommendations> RecommendAsync(Recommend q)
    {
        var region = Region;
        var row = await AskOrNull<RowVector>(region, new GetRowVector(Side.Users, StableHash.ShardOf(q.User, _settings.UserShards), q.User));
        if (row is null)
        {
            return new Recommendations(q.User, [], [], $"The shard of user '{q.User}' did not answer within {_settings.QueryTimeout.TotalSeconds:0.###} s.");
        }
        if (row.Failure is not null)
        {
            return new Recommendations(q.User, [], [], row.Failure);
        }
        return await FanOutAsync(region, q.User, row.Vector, q.K, cosine: false, q.IncludeSeen ? [] : row.Interactions);
    }

    private async Task<Recommendations> SimilarAsync(SimilarItems q)
    {
        var region = Region;
        var shard = StableHash.ShardOf(q.Item, _settings.ItemShards);
        var row = await AskOrNull<RowVector>(region, new GetRowVector(Side.Items, shard, q.Item));
        if (row is { Failure: not null, Global: < 0 })
        {
            // Not a trained row: it may be a cold item with projected factors.
            row = await AskOrNull<RowVector>(region, new GetColdItemVector(Side.Items, shard, q.Item));
        }
        if (row is null)
        {
            return new Recommendations(q.Item, [], [], $"The shard of item '{q.Item}' did not answer within {_settings.QueryTimeout.TotalSeconds:0.###} s.");
        }
        if (row.Failure is not null)
        {
            return new Recommendations(q.Item, [], [], row.Failure);
        }
        return await FanOutAsync(region, q.Item, row.Vector, q.K, cosine: true, [row.Global]);
    }

    private async Task<Recommendations> FoldInAsync(RecommendForItems q)
    {
        var query = string.Join(",", q.Items);
        if (q.Items.Length != q.Values.Length)
        {
            return new Recommendations(query, [], [], $"{q.Items.Length} items but {q.Values.Length} values.");
        }
        var region = Region;
        // An id given twice is one interaction with the values summed, as in training and the local fold-in.
        var merged = new Dictionary<string, float>(StringComparer.Ordinal);
        for (var j = 0; j < q.Items.Length; j++)
        {
            merged[q.Items[j]] = merged.GetValueOrDefault(q.Items[j]) + q.Values[j];
        }
        var byShard = Enumerable.Range(0, _settings.ItemShards).Select(_ => (Ids: new List<string>(), Values: new List<float>())).ToArray();
        if (merged.FirstOrDefault(m => !float.IsFinite(m.Value)) is { Key: not null } bad)
        {
            return new Recommendations(query, [], [], $"The value of item '{bad.Key}' is {bad.Value} (summed over its repeats), not a finite number.");
        }
        foreach (var (id, value) in merged)
        {
            var s = StableHash.ShardOf(id, _settings.ItemShards);
            byShard[s].Ids.Add(id);
            byShard[s].Values.Add(value);
        }
        var (terms, why) = await FoldInTermsAsync(region, query, s => (byShard[s].Ids.ToArray(), byShard[s].Values.ToArray()));
        if (why is not null)
        {
            return why;
        }
        var unknown = terms.SelectMany(t => t.Unknown ?? []).Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
        {
            return new Recommendations(query, [], [], $"Item{(unknown.Length == 1 ? "" : "s")} {string.Join(", ", unknown.Select(u => $"'{u}'"))} " +
                $"{(unknown.Length == 1 ? "is" : "are")} not in the model (neither trained nor a cold item with projected factors).");
        }
        var x = ShardFoldIn.Solve(terms);
        if (x is null)
        {
            return new Recommendations(query, [], [], "The fold-in system is not positive definite (no known items and no regularization?).");
        }
        var exclude = q.IncludeSeen ? [] : terms.SelectMany(t => t.Found).ToArray();
        Array.Sort(exclude);
        return await FanOutAsync(region, query, x, q.K, cosine: false, exclude);
    }

    private async Task<Recommendations> TextAsync(RecommendForText q)
    {
        if (q.K < 1)
        {
            return new Recommendations(q.Text, [], [], $"k = {q.K} must be at least 1.");
        }
        if (_embedding.IsNobody() || _coordinator.IsNobody())
        {
            return new Recommendations(q.Text, [], [], "This router has no embedding pool or coordinator to answer text queries.");
        }
        object fit;
        try
        {
            fit = await _coordinator.Ask<object>(GetProjection.Instance, _settings.QueryTimeout);
        }
        catch (AskTimeoutException)
        {
            return new Recommendations(q.Text, [], [], $"The coordinator did not send the projection within {_settings.QueryTimeout.TotalSeconds:0.###} s.");
        }
        if (fit is not ProjectionFitted fitted)
        {
            return new Recommendations(q.Text, [], [], fit is ProjectionFailed failed ? failed.Reason : $"The coordinator answered {fit.GetType().Name}.");
        }
        // A free text has no genres, year or tags: with metadata features it is projected with the text-only map.
        var map = fitted.QueryProjection is { } query ? RidgeProjection.FromBytes(query)
            : fitted.MetadataFeatures == 0 ? RidgeProjection.FromBytes(fitted.Projection)
            : null;
        if (map is null)
        {
            return new Recommendations(q.Text, [], [], $"The projection of run '{fitted.Run}' takes {fitted.MetadataFeatures} metadata features and has no text-only map for free-text queries.");
        }
        var embedded = await EmbedQueryAsync(q.Text);
        if (embedded is string why)
        {
            return new Recommendations(q.Text, [], [], why);
        }
        var e = (float[])embedded;
        if (e.Length != map.D)
        {
            return new Recommendations(q.Text, [], [], $"The embedding pool gives {e.Length}-dimensional vectors but the projection of run '{fitted.Run}' takes {map.D}: " +
                "the embedders' encoder changed since the fit.");
        }
        var region = Region;
        var (terms, failure) = await FoldInTermsAsync(region, q.Text, _ => ([], []));
        if (failure is not null)
        {
            return failure;
        }
        return await FanOutAsync(region, q.Text, ShardFoldIn.QueryVector(terms, map.Apply(e)), q.K, cosine: false, []);
    }

    /// <summary>
    /// Every item shard's <see cref="FoldInTerms"/> for its share of the given items (<paramref name="given"/> by shard),
    /// or the reply that says why there are none: a shard that did not answer in time (without every shard's partial
    /// Gram the normal equations are wrong, not just partial) or one that failed.
    /// </summary>
    private async Task<(FoldInTerms[] Terms, Recommendations? Failure)> FoldInTermsAsync(IActorRef region, string query, Func<int, (string[] Ids, float[] Values)> given)
    {
        var terms = await Task.WhenAll(Enumerable.Range(0, _settings.ItemShards).Select(s =>
        {
            var (ids, values) = given(s);
            return AskOrNull<FoldInTerms>(region, new GetFoldInTerms(Side.Items, s, ids, values));
        }));
        var missing = Enumerable.Range(0, terms.Length).Where(s => terms[s] is null).ToArray();
        if (missing.Length > 0)
        {
            return ([], new Recommendations(query, [], missing, $"Item shards {string.Join(", ", missing)} did not answer the fold-in within {_settings.QueryTimeout.TotalSeconds:0.###} s."));
        }
        var failure = terms.FirstOrDefault(t => t!.Failure is not null)?.Failure;
        return failure is null ? (Array.ConvertAll(terms, t => t!), null) : ([], new Recommendations(query, [], [], failure));
    }

    /// <summary>The text's vector, or why there is none; busy answers are retried with a doubling wait within the timeout.</summary>
    private async Task<object> EmbedQueryAsync(string text)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var backoff = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            var left = _embedTimeout - watch.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return $"No embedding pool embedded the query within {_embedTimeout.TotalSeconds:0.###} s.";
            }
            object reply;
            try
            {
                reply = await _embedding.Ask<object>(new EmbedTexts(["query"], [text]), left);
            }
            catch (AskTimeoutException)
            {
                return $"No embedding pool answered the query within {_embedTimeout.TotalSeconds:0.###} s (is a node with the '{WalsSystem.EmbedderRole}' role and wals.embedding.enabled = on up?).";
            }
            switch (reply)
            {
                case TextsEmbedded { Vectors.Length: 1 } done:
                    return done.Vectors[0];
                case EmbeddingRejected busy when busy.Reason.StartsWith("busy", StringComparison.Ordinal):
                    await Task.Delay(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                    break;
                case EmbeddingRejected rejected:
                    return $"The embedding pool rejected the query: {rejected.Reason}";
                default:
                    return $"The embedding pool answered the query with {reply.GetType().Name}.";
            }
        }
    }

    private async Task<Recommendations> FanOutAsync(IActorRef region, string query, float[] vector, int k, bool cosine, int[] sortedExclude)
    {
        var replies = await Task.WhenAll(Enumerable.Range(0, _settings.ItemShards).Select(s =>
            AskOrNull<ShardTopK>(region, new RankShardItems(Side.Items, s, vector, k, cosine, sortedExclude))));
        var missing = Enumerable.Range(0, replies.Length).Where(s => replies[s] is null || replies[s]!.Failure is not null).ToArray();
        return new Recommendations(query, RankMerge.Merge(replies.Where(r => r is { Failure: null })!, k), missing, null);
    }

    private async Task<T?> AskOrNull<T>(IActorRef region, IShardMessage message) where T : class
    {
        try
        {
            return await region.Ask<T>(message, _settings.QueryTimeout);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }
}

/// <summary>Merging per-shard top-k lists (pure functions, tested without actors).</summary>
public static class RankMerge
{
    /// <summary>The best <paramref name="k"/> of the union: score descending, ties to the lower global item index
    /// (<see cref="ScoredItem.RanksBefore"/>), each item once.</summary>
    public static RankedItem[] Merge(IEnumerable<ShardTopK> parts, int k)
    {
        var all = new List<RankedItem>();
        foreach (var p in parts)
        {
            for (var j = 0; j < p.Items.Length; j++)
            {
                all.Add(new RankedItem(p.Ids[j], p.Items[j], p.Scores[j]));
            }
        }
        all.Sort((a, b) => ScoredItem.RanksBefore(a.Score, a.Index, b.Score, b.Index) ? -1 : ScoredItem.RanksBefore(b.Score, b.Index, a.Score, a.Index) ? 1 : 0);
        var result = new List<RankedItem>(Math.Min(k, all.Count));
        var seen = new HashSet<int>();
        foreach (var item in all)
        {
            if (result.Count == k)
            {
                break;
            }
            if (seen.Add(item.Index))
            {
                result.Add(item);
            }
        }
        return result.ToArray();
    }
}

/// <summary>The fold-in solve of a user from the item shards' terms.</summary>
public static class ShardFoldIn
{
    /// <summary>
    /// x = (w0 G + sum (c - w0) y y^T + lambda_u I)^-1 sum c p y with G the sum of the partial Grams and
    /// lambda_u = lambda (n_u + w0 N_items)^nu, n_u the number of known items. Null when the system is not positive definite.
    /// </summary>
    public static float[]? Solve(IReadOnlyList<FoldInTerms?> terms)
    {
        var (g, l, b, found, items, options) = Sum(terms);
        return FoldIn.TrySolve(g, l, b, found, items, options);
    }

    /// <summary>The query vector of a user whose only interaction is the point <paramref name="itemVector"/> of the factor
    /// space (<see cref="FoldIn.QueryVector(ReadOnlySpan{double}, int, ReadOnlySpan{float}, WalsOptions)"/>),
    /// G from the item shards' terms.</summary>
    public static float[] QueryVector(IReadOnlyList<FoldInTerms?> terms, float[] itemVector)
    {
        var (g, _, _, _, items, options) = Sum(terms);
        return FoldIn.QueryVector(g, items, itemVector, options);
    }

    /// <summary>The shards' terms added: G and the low-rank part (unpacked, k x k), b, the known items, the item count
    /// N (trained and cold) and the run's w0, lambda and nu.</summary>
    private static (double[] Gram, double[] LowRank, double[] B, int Found, int Items, WalsOptions Options) Sum(IReadOnlyList<FoldInTerms?> terms)
    {
        var first = terms[0]!;
        var k = PackedSymmetric.Order(first.PartialGram.Length);
        var gram = new double[PackedSymmetric.Length(k)];
        var lowRank = new double[PackedSymmetric.Length(k)];
        var b = new double[k];
        int found = 0, cold = 0;
        foreach (var t in terms)
        {
            PackedSymmetric.AddInto(gram, t!.PartialGram);
            PackedSymmetric.AddInto(lowRank, t.LowRank);
            for (var i = 0; i < k; i++)
            {
                b[i] += t.B[i];
            }
            found += t.Found.Length;
            cold += t.ColdItems;
        }
        var options = new WalsOptions { Factors = k, UnobservedWeight = first.UnobservedWeight, Regularization = first.Regularization, RegularizationExponent = first.RegularizationExponent };
        return (PackedSymmetric.Unpack(gram, k), PackedSymmetric.Unpack(lowRank, k), b, found, first.ItemCount + cold, options);
    }
}
