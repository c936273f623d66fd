using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Embedding;

/// <summary>
/// Front of the node's embedders (one per configured device). Queues <see cref="EmbedTexts"/> requests in a bounded
/// <see cref="BatchPlanner{TRequester}"/>, sends one batch (several requests concatenated) to an idle embedder when
/// <see cref="EmbeddingPoolSettings.MaxBatchTexts"/> texts wait or the oldest request has waited
/// <see cref="EmbeddingPoolSettings.MaxWait"/>, and splits the vectors back to the requesters. A request that does not
/// fit in the queue is answered <c>busy</c> at once; a failed batch answers each of its requesters
/// <see cref="EmbeddingRejected"/>. Nothing is dropped silently.
/// </summary>
public sealed class EmbeddingPool : ReceiveActor, IWithTimers
{
    private const string FlushTimer = "flush";

    private readonly EmbeddingPoolSettings _settings;
    private readonly BatchPlanner<IActorRef> _planner;
    private readonly Queue<IActorRef> _idle = new();
    private readonly Dictionary<IActorRef, PlannedBatch<IActorRef>?> _embedders = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public EmbeddingPool(EmbeddingPoolSettings settings, Func<string, IEmbeddingSession> createSession, string dispatcherId)
    {
        _settings = settings;
        _planner = new BatchPlanner<IActorRef>(settings.MaxBatchTexts, settings.MaxQueuedTexts, settings.MaxWait);
        for (int i = 0; i < settings.Devices.Count; i++)
        {
            string device = settings.Devices[i];
            var embedder = Context.ActorOf(Embedder.Props(device, () => createSession(device), dispatcherId), $"embedder-{i}");
            Context.Watch(embedder);
            _embedders[embedder] = null;
            _idle.Enqueue(embedder);
        }
        Receive<EmbedTexts>(HandleEmbedTexts);
        Receive<TextsEmbedded>(HandleBatchEmbedded);
        Receive<EmbeddingRejected>(HandleBatchRejected);
        Receive<GetEncoderSettings>(HandleGetEncoderSettings);
        Receive<FlushDue>(_ => Dispatch());
        Receive<Terminated>(HandleEmbedderTerminated);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A pool of one embedder per device of <paramref name="settings"/>, each session made by
    /// <paramref name="createSession"/>(device) on the embedder's own thread.</summary>
    public static Props Props(EmbeddingPoolSettings settings, Func<string, IEmbeddingSession> createSession,
        string dispatcherId = EmbeddingPoolSettings.DispatcherId)
        => Akka.Actor.Props.Create(() => new EmbeddingPool(settings, createSession, dispatcherId));

    /// <summary>An embedder that fails to start or crashes is stopped; its batch is rejected on Terminated.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private TimeSpan Now => _clock.Elapsed;

    private void HandleEmbedTexts(EmbedTexts request)
    {
        var sender = Sender;
        if (request.Ids.Length != request.Texts.Length)
        {
            sender.Tell(new EmbeddingRejected($"invalid request: {request.Ids.Length} ids for {request.Texts.Length} texts."), Self);
            return;
        }
        if (request.Texts.Length == 0)
        {
            sender.Tell(new TextsEmbedded([], []), Self);
            return;
        }
        if (_embedders.Count == 0)
        {
            sender.Tell(new EmbeddingRejected("failed: no embedder is running on this node."), Self);
            return;
        }
        if (request.Texts.Length > _planner.MaxQueuedTexts)
        {
            sender.Tell(new EmbeddingRejected(
                $"invalid request: {request.Texts.Length} texts exceed the queue's capacity of {_planner.MaxQueuedTexts} (max-queued-texts)."), Self);
            return;
        }
        if (!_planner.TryAdd(new PendingRequest<IActorRef>(sender, request.Ids, request.Texts, Now)))
        {
            _log.Debug("Embedding pool busy: [{0}] texts queued, [{1}] more refused", _planner.QueuedTexts, request.Texts.Length);
            sender.Tell(new EmbeddingRejected(
                $"busy: {_planner.QueuedTexts} of {_planner.MaxQueuedTexts} queued texts, {request.Texts.Length} more do not fit; retry later."), Self);
            return;
        }
        Dispatch();
    }

    /// <summary>Every embedder runs the same encoder: the first one answers (after the batch it is running, if any).</summary>
    private void HandleGetEncoderSettings(GetEncoderSettings get)
    {
        if (_embedders.Count == 0)
        {
            Sender.Tell(new EncoderSettingsReport("", "failed: no embedder is running on this node."), Self);
            return;
        }
        _embedders.Keys.First().Forward(get);
    }

    private void HandleBatchEmbedded(TextsEmbedded reply)
    {
        if (!TryFinish(Sender, out var batch))
        {
            return;
        }
        IReadOnlyList<RequestResult<IActorRef>> results;
        try
        {
            results = batch.Split(reply.Vectors);
        }
        catch (ArgumentException e)
        {
            Reject(batch.Requests, $"failed: {e.Message}");
            Dispatch();
            return;
        }
        foreach (var r in results)
        {
            r.Requester.Tell(new TextsEmbedded(r.Ids, r.Vectors), Self);
        }
        Dispatch();
    }

    private void HandleBatchRejected(EmbeddingRejected reply)
    {
        if (TryFinish(Sender, out var batch))
        {
            Reject(batch.Requests, reply.Reason);
            Dispatch();
        }
    }

    private void HandleEmbedderTerminated(Terminated terminated)
    {
        if (!_embedders.Remove(terminated.ActorRef, out var batch))
        {
            return;
        }
        _log.Warning("Embedding pool lost embedder {0}; [{1}] embedders left", terminated.ActorRef.Path.Name, _embedders.Count);
        var remaining = _idle.Where(e => !e.Equals(terminated.ActorRef)).ToArray();
        _idle.Clear();
        foreach (var e in remaining)
        {
            _idle.Enqueue(e);
        }
        if (batch is not null)
        {
            Reject(batch.Requests, $"failed: embedder {terminated.ActorRef.Path.Name} stopped.");
        }
        if (_embedders.Count == 0)
        {
            Reject(_planner.TakeAll(), "failed: no embedder is running on this node.");
            Timers.Cancel(FlushTimer);
        }
        else
        {
            Dispatch();
        }
    }

    /// <summary>Marks the embedder idle again and returns the batch it was running.</summary>
    private bool TryFinish(IActorRef embedder, out PlannedBatch<IActorRef> batch)
    {
        if (_embedders.TryGetValue(embedder, out var running) && running is not null)
        {
            _embedders[embedder] = null;
            _idle.Enqueue(embedder);
            batch = running;
            return true;
        }
        batch = null!;
        return false;
    }

    /// <summary>Sends due batches to idle embedders, then arms the max-wait timer for the oldest request left.</summary>
    private void Dispatch()
    {
        while (_idle.Count > 0 && _planner.IsBatchDue(Now))
        {
            var batch = _planner.TakeBatch()!;
            var embedder = _idle.Dequeue();
            _embedders[embedder] = batch;
            var ids = batch.Requests.SelectMany(r => r.Ids).ToArray();
            _log.Debug("Embedding pool sends [{0}] texts of [{1}] requests to {2}", batch.Texts.Length, batch.Requests.Count, embedder.Path.Name);
            embedder.Tell(new EmbedTexts(ids, batch.Texts), Self);
        }
        // With no idle embedder the next reply calls Dispatch; a timer would only spin.
        if (_idle.Count > 0 && _planner.DueIn(Now) is { } dueIn)
        {
            Timers.StartSingleTimer(FlushTimer, FlushDue.Instance, dueIn);
        }
        else
        {
            Timers.Cancel(FlushTimer);
        }
    }

    private void Reject(IEnumerable<PendingRequest<IActorRef>> requests, string reason)
    {
        foreach (var r in requests)
        {
            r.Requester.Tell(new EmbeddingRejected(reason), Self);
        }
    }

    /// <summary>The oldest queued request has waited max-wait.</summary>
    private sealed record FlushDue
    {
        public static FlushDue Instance { get; } = new();
    }
}
