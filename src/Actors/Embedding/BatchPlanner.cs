namespace WalsCluster.Actors.Embedding;

/// <summary>A request waiting in a <see cref="BatchPlanner{TRequester}"/>: who asked, what, and when it was queued.</summary>
public sealed record PendingRequest<TRequester>(TRequester Requester, string[] Ids, string[] Texts, TimeSpan EnqueuedAt);

/// <summary>What one request gets back from a batch: its requester, its ids and its vectors, in order.</summary>
public sealed record RequestResult<TRequester>(TRequester Requester, string[] Ids, float[][] Vectors);

/// <summary>Whole requests concatenated into one encoder call.</summary>
public sealed record PlannedBatch<TRequester>(IReadOnlyList<PendingRequest<TRequester>> Requests)
{
    public string[] Texts { get; } = Requests.SelectMany(r => r.Texts).ToArray();

    /// <summary>Cuts the batch's vectors (one per <see cref="Texts"/> entry, in order) back into per-request results.</summary>
    public IReadOnlyList<RequestResult<TRequester>> Split(float[][] vectors)
    {
        if (vectors.Length != Texts.Length)
        {
            throw new ArgumentException($"the batch has {Texts.Length} texts but {vectors.Length} vectors came back.", nameof(vectors));
        }
        var results = new List<RequestResult<TRequester>>(Requests.Count);
        int offset = 0;
        foreach (var r in Requests)
        {
            results.Add(new RequestResult<TRequester>(r.Requester, r.Ids, vectors[offset..(offset + r.Texts.Length)]));
            offset += r.Texts.Length;
        }
        return results;
    }
}

/// <summary>
/// The dynamic-batching state of an <see cref="EmbeddingPool"/>, without actors: a FIFO of whole requests bounded by
/// <see cref="MaxQueuedTexts"/> texts. A batch is due when <see cref="MaxBatchTexts"/> texts are waiting or the oldest
/// request has waited <see cref="MaxWait"/>; <see cref="TakeBatch"/> takes whole requests, oldest first, up to
/// <see cref="MaxBatchTexts"/> texts (a single larger request forms a batch of its own; requests are never split).
/// </summary>
public sealed class BatchPlanner<TRequester>
{
    private readonly Queue<PendingRequest<TRequester>> _queue = new();

    public BatchPlanner(int maxBatchTexts, int maxQueuedTexts, TimeSpan maxWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchTexts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuedTexts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        MaxBatchTexts = maxBatchTexts;
        MaxQueuedTexts = maxQueuedTexts;
        MaxWait = maxWait;
    }

    public int MaxBatchTexts { get; }

    public int MaxQueuedTexts { get; }

    public TimeSpan MaxWait { get; }

    /// <summary>Texts waiting, over all queued requests.</summary>
    public int QueuedTexts { get; private set; }

    public int QueuedRequests => _queue.Count;

    public bool IsEmpty => _queue.Count == 0;

    /// <summary>True when no further text fits in the queue.</summary>
    public bool IsFull => QueuedTexts >= MaxQueuedTexts;

    /// <summary>Whether a request of <paramref name="textCount"/> texts fits in the queue now.</summary>
    public bool CanAccept(int textCount) => QueuedTexts + textCount <= MaxQueuedTexts;

    /// <summary>Queues the request if it fits; false (and nothing queued) when it does not.</summary>
    public bool TryAdd(PendingRequest<TRequester> request)
    {
        if (request.Ids.Length != request.Texts.Length)
        {
            throw new ArgumentException($"{request.Ids.Length} ids for {request.Texts.Length} texts.", nameof(request));
        }
        if (!CanAccept(request.Texts.Length))
        {
            return false;
        }
        _queue.Enqueue(request);
        QueuedTexts += request.Texts.Length;
        return true;
    }

    /// <summary>A batch is due: a full batch is waiting, or the oldest request was queued <see cref="MaxWait"/> ago.</summary>
    public bool IsBatchDue(TimeSpan now)
        => !IsEmpty && (QueuedTexts >= MaxBatchTexts || now - _queue.Peek().EnqueuedAt >= MaxWait);

    /// <summary>Time until the oldest request reaches <see cref="MaxWait"/> (zero when due); null when empty.</summary>
    public TimeSpan? DueIn(TimeSpan now)
    {
        if (IsEmpty)
        {
            return null;
        }
        if (QueuedTexts >= MaxBatchTexts)
        {
            return TimeSpan.Zero;
        }
        var left = _queue.Peek().EnqueuedAt + MaxWait - now;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Removes whole requests, oldest first, while they fit in <see cref="MaxBatchTexts"/> texts (at least one); null when empty.</summary>
    public PlannedBatch<TRequester>? TakeBatch()
    {
        if (IsEmpty)
        {
            return null;
        }
        var taken = new List<PendingRequest<TRequester>>();
        int texts = 0;
        while (_queue.Count > 0 && (taken.Count == 0 || texts + _queue.Peek().Texts.Length <= MaxBatchTexts))
        {
            var r = _queue.Dequeue();
            taken.Add(r);
            texts += r.Texts.Length;
        }
        QueuedTexts -= texts;
        return new PlannedBatch<TRequester>(taken);
    }

    /// <summary>Removes every queued request (to reject them when no embedder is left).</summary>
    public IReadOnlyList<PendingRequest<TRequester>> TakeAll()
    {
        var all = _queue.ToArray();
        _queue.Clear();
        QueuedTexts = 0;
        return all;
    }
}
