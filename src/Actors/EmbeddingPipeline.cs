using System.Diagnostics;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using WalsCluster.Actors.Embedding;
using WalsCluster.Core.Data;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>One item text on its way through the pipeline: its id, text and global index.</summary>
/// <param name="Id">External item id.</param>
/// <param name="Text">The text to embed.</param>
/// <param name="Global">The item's index in the run's interactions, or for an item without interactions the item count plus
/// its rank among those in the source (the order <c>ProjectionTraining.Attach</c> appends them to a model).</param>
/// <param name="Features">Values appended after the encoder's (metadata features), or null.</param>
public sealed record ItemTextItem(string Id, string Text, int Global, float[]? Features = null);

/// <summary>An item with its vector, before it is batched for its item shard.</summary>
public sealed record EmbeddedItem(string Id, int Global, float[] Vector);

/// <summary>What the pipeline shipped: embeddings per item shard (for <see cref="ProjectionRequest.ItemShardEmbeddings"/>),
/// how many of the items have no interactions, the encoder's dimension (without appended features), the pool requests and
/// their busy answers, the shard batches.</summary>
public sealed record EmbeddingPipelineSummary(int Texts, int[] ShardItems, int ItemsWithoutInteractions, int Dimension, int Requests, int BusyAnswers, int Batches, double Seconds);

/// <summary>
/// Streams item texts (CSV, JSONL or <c>movielens:DIR</c>, read by <see cref="ItemTextFile"/>) through the cluster's
/// embedding pools into the item shards, an Akka.Streams pipeline with backpressure: requests of
/// <see cref="EmbeddingPipelineSettings.RequestTexts"/> texts, at most <see cref="EmbeddingPipelineSettings.Parallelism"/>
/// unanswered; a <c>busy</c> answer is retried after a bounded exponential backoff and nothing is dropped; each
/// (id, vector) goes to item shard FNV-1a(id) mod I (<see cref="StableHash"/>, the partitioner of ingestion) in
/// acknowledged <see cref="ItemEmbeddingBatch"/>es (idempotent by sequence number, re-sent after
/// <see cref="WalsSettings.IngestAskTimeout"/>, at most <see cref="WalsSettings.IngestParallelism"/> in flight).
/// </summary>
public static class EmbeddingPipeline
{
    /// <summary>Global indices for <paramref name="records"/> (pure): known items keep theirs, the others get
    /// <paramref name="items"/>.Count + their rank among the unknown ones, in source order. <paramref name="features"/>
    /// gives each id the values to append after its vector (null: none).</summary>
    public static IReadOnlyList<ItemTextItem> Assign(IReadOnlyList<ItemTextRecord> records, IdMap items, Func<string, float[]>? features = null)
    {
        var result = new List<ItemTextItem>(records.Count);
        var next = items.Count;
        foreach (var r in records)
        {
            var known = items.IndexOf(r.Id);
            result.Add(new ItemTextItem(r.Id, r.Text, known >= 0 ? known : next++, features?.Invoke(r.Id)));
        }
        return result;
    }

    /// <summary>Runs the pipeline for run <paramref name="run"/> and waits until every batch is acknowledged:
    /// <paramref name="items"/> (from <see cref="Assign"/>) go to <paramref name="embedding"/> (a pool, or the router over the
    /// cluster's pools) and their vectors to the <paramref name="itemShards"/> item shards through <paramref name="region"/>
    /// (the shard region, or a test probe). <paramref name="knownItems"/> is the run's item count.</summary>
    public static async Task<EmbeddingPipelineSummary> RunAsync(ActorSystem system, IActorRef embedding, IActorRef region, IReadOnlyList<ItemTextItem> items,
        string run, int itemShards, int knownItems, EmbeddingPipelineSettings pipeline, WalsSettings settings, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var materializer = system.Materializer();
        var stats = new Stats();
        var shardItems = new int[itemShards];
        var batcher = new ShardBatcher(run, itemShards, pipeline.ShardBatchItems);
        try
        {
            await RunStream();
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.Count == 1)
        {
            // A stage that fails with a faulted task may hand the stream its AggregateException; callers get the reason.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
        }

        // Texts of similar length travel together (by characters, a proxy for tokens the pipeline can count without a
        // tokenizer), so that the pools' batches are padded to little more than their own texts; each vector goes to its
        // shard by id, so the order does not matter downstream.
        Task RunStream() => Source.From(items.OrderBy(i => i.Text.Length).ToArray())
            .Grouped(pipeline.RequestTexts)
            .SelectAsync(pipeline.Parallelism, chunk => EmbedAsync(embedding, chunk.ToArray(), pipeline, stats, cancellationToken))
            .Concat(Source.Single(new[] { ShardBatcher.End }))
            .SelectMany(batch => batch)
            .SelectMany(batcher.Add)
            .SelectAsync(settings.IngestParallelism, batch => SendAsync(region, batch, settings, cancellationToken))
            .RunForeach(ack =>
            {
                shardItems[ack.Shard] = Math.Max(shardItems[ack.Shard], ack.Items);
                stats.Batches++;
            }, materializer);
        var sent = batcher.Sent;
        for (var s = 0; s < itemShards; s++)
        {
            if (sent[s] != shardItems[s])
            {
                throw new InvalidOperationException($"Item shard item-{s} holds {shardItems[s]} embeddings of run '{run}' but {sent[s]} were sent to it.");
            }
        }
        return new EmbeddingPipelineSummary(items.Count, shardItems, items.Count(i => i.Global >= knownItems), stats.Dimension, stats.Requests, stats.Busy, stats.Batches, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Asks the pool for one request's vectors: busy answers wait and retry (not an attempt); timeouts and failed
    /// answers are retried up to <see cref="EmbeddingPipelineSettings.Attempts"/> times; an invalid answer fails at once.</summary>
    private static async Task<EmbeddedItem[]> EmbedAsync(IActorRef embedding, ItemTextItem[] chunk, EmbeddingPipelineSettings pipeline, Stats stats, CancellationToken cancellationToken)
    {
        var request = new EmbedTexts(chunk.Select(c => c.Id).ToArray(), chunk.Select(c => c.Text).ToArray());
        var backoff = pipeline.BusyBackoffMin;
        var busySince = (Stopwatch?)null;
        var what = $"{chunk.Length} texts from item '{chunk[0].Id}' on";
        for (var attempt = 1; ;)
        {
            object reply;
            try
            {
                Interlocked.Increment(ref stats.Requests);
                reply = await embedding.Ask<object>(request, pipeline.AskTimeout, cancellationToken);
            }
            catch (AskTimeoutException)
            {
                if (++attempt > pipeline.Attempts)
                {
                    throw new InvalidOperationException($"No embedding pool answered a request of {what} within {pipeline.AskTimeout.TotalSeconds:0.###} s, {pipeline.Attempts} times " +
                        $"(is a node with the '{WalsSystem.EmbedderRole}' role and wals.embedding.enabled = on up?).");
                }
                continue;
            }
            switch (reply)
            {
                case TextsEmbedded done:
                    return Check(done, request, chunk, stats);
                case EmbeddingRejected busy when busy.Reason.StartsWith("busy", StringComparison.Ordinal):
                    Interlocked.Increment(ref stats.Busy);
                    busySince ??= Stopwatch.StartNew();
                    if (busySince.Elapsed > pipeline.BusyTimeout)
                    {
                        throw new InvalidOperationException($"The embedding pools answered busy to a request of {what} for {pipeline.BusyTimeout.TotalSeconds:0} s ({busy.Reason}).");
                    }
                    await Task.Delay(backoff, cancellationToken);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, pipeline.BusyBackoffMax.Ticks));
                    break;
                case EmbeddingRejected failed when failed.Reason.StartsWith("failed", StringComparison.Ordinal) && ++attempt <= pipeline.Attempts:
                    await Task.Delay(backoff, cancellationToken);
                    break;
                case EmbeddingRejected rejected:
                    throw new InvalidOperationException($"The embedding pool rejected a request of {what}: {rejected.Reason}");
                default:
                    throw new InvalidOperationException($"The embedding pool answered a request of {what} with {reply.GetType().Name}.");
            }
        }
    }

    private static EmbeddedItem[] Check(TextsEmbedded done, EmbedTexts request, ItemTextItem[] chunk, Stats stats)
    {
        if (!done.Ids.AsSpan().SequenceEqual(request.Ids) || done.Vectors.Length != request.Ids.Length)
        {
            throw new InvalidOperationException($"The embedding pool answered a request for items '{request.Ids[0]}'.. with {done.Vectors.Length} vectors for other ids.");
        }
        var result = new EmbeddedItem[done.Ids.Length];
        for (var j = 0; j < result.Length; j++)
        {
            var d = done.Vectors[j].Length;
            var first = Interlocked.CompareExchange(ref stats.Dimension, d, 0);
            if (d == 0 || (first != 0 && first != d))
            {
                throw new InvalidOperationException($"Item '{done.Ids[j]}' got a vector of dimension {d}, earlier items {first}: every embedder of the cluster must use the same encoder.");
            }
            var vector = done.Vectors[j];
            if (chunk[j].Features is { Length: > 0 } features)
            {
                vector = [.. vector, .. features];
            }
            result[j] = new EmbeddedItem(done.Ids[j], chunk[j].Global, vector);
        }
        return result;
    }

    private static async Task<ItemEmbeddingsAccepted> SendAsync(IActorRef region, ItemEmbeddingBatch batch, WalsSettings settings, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var ack = await region.Ask<ItemEmbeddingsAccepted>(batch, settings.IngestAskTimeout, cancellationToken);
                if (ack.Failure is not null)
                {
                    throw new InvalidOperationException(ack.Failure);
                }
                return ack.Sequence == batch.Sequence && ack.Shard == batch.Shard ? ack
                    : throw new InvalidOperationException($"Embedding batch {batch.Sequence} for item-{batch.Shard} was acknowledged as {ack.Sequence} by item-{ack.Shard}.");
            }
            catch (AskTimeoutException) when (attempt < settings.IngestAttempts)
            {
            }
        }
    }

    /// <summary>Counters shared by the pipeline's concurrent stages.</summary>
    private sealed class Stats
    {
        public int Requests;
        public int Busy;
        public int Batches;
        public int Dimension;
    }
}

/// <summary>
/// Cuts a stream of embedded items into <see cref="ItemEmbeddingBatch"/>es per item shard (pure, tested without actors):
/// <see cref="Add"/> returns a batch when a shard's buffer reaches <c>batchItems</c>, and every non-empty buffer at the end
/// of the stream (<see cref="End"/>; streams carry no nulls). Sequence numbers are unique within the run.
/// </summary>
public sealed class ShardBatcher
{
    private readonly string _run;
    private readonly int _shards;
    private readonly int _batchItems;
    private readonly List<EmbeddedItem>[] _buffers;
    private int _sequence;

    public ShardBatcher(string run, int shards, int batchItems)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchItems, 1);
        _run = run;
        _shards = shards;
        _batchItems = batchItems;
        _buffers = Enumerable.Range(0, shards).Select(_ => new List<EmbeddedItem>()).ToArray();
        Sent = new int[shards];
    }

    /// <summary>The item that marks the end of the stream.</summary>
    public static EmbeddedItem End { get; } = new("", -1, []);

    /// <summary>Embeddings put into batches so far, per shard.</summary>
    public int[] Sent { get; }

    /// <summary>The batches <paramref name="item"/> completes; <see cref="End"/> flushes every buffer.</summary>
    public IEnumerable<ItemEmbeddingBatch> Add(EmbeddedItem item)
    {
        if (ReferenceEquals(item, End))
        {
            var rest = new List<ItemEmbeddingBatch>();
            for (var s = 0; s < _shards; s++)
            {
                if (_buffers[s].Count > 0)
                {
                    rest.Add(Cut(s));
                }
            }
            return rest;
        }
        var shard = StableHash.ShardOf(item.Id, _shards);
        _buffers[shard].Add(item);
        return _buffers[shard].Count >= _batchItems ? [Cut(shard)] : [];
    }

    private ItemEmbeddingBatch Cut(int shard)
    {
        var buffer = _buffers[shard];
        var d = buffer[0].Vector.Length;
        var vectors = new float[(long)buffer.Count * d];
        for (var j = 0; j < buffer.Count; j++)
        {
            buffer[j].Vector.CopyTo(vectors, (long)j * d);
        }
        var batch = new ItemEmbeddingBatch(_run, Side.Items, shard, _sequence++, _shards, buffer.Select(b => b.Id).ToArray(),
            buffer.Select(b => b.Global).ToArray(), d, vectors);
        Sent[shard] += buffer.Count;
        buffer.Clear();
        return batch;
    }
}
