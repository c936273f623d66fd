using System.Collections.Concurrent;
using Akka.Actor;

namespace WalsCluster.Actors;

/// <summary>
/// The dedicated threads on which a node's factor shards run their solves (the row solves, rotations and Gram
/// matrices of the Core engine), apart from the .NET thread pool that runs Akka's default dispatcher, remoting and the
/// cluster heartbeat: a long half-step then cannot starve the shards' mailboxes or the failure detector of threads.
///
/// A solve is started as a task on this scheduler; the engine's parallel loops inside it schedule on the caller's
/// scheduler (<see cref="Core.Parallelism"/>), i.e. on these same threads, so all the node's shards together never use
/// more than <c>wals.cluster.solver-threads</c> threads, however many of them solve at once.
/// One instance per actor system (<see cref="For"/>); its threads end when the system terminates.
/// </summary>
public sealed class SolverScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = [];
    private readonly Thread[] _threads;
    private static readonly ConcurrentDictionary<ActorSystem, SolverScheduler> Schedulers = new();

    [ThreadStatic]
    private static SolverScheduler? _current;

    /// <param name="threads">Dedicated threads, at least 1.</param>
    /// <param name="name">Prefix of the threads' names (seen in debuggers and dumps).</param>
    public SolverScheduler(int threads, string name = "wals-solver")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>The number of dedicated threads.</summary>
    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>
    /// The scheduler of <paramref name="system"/>, created on first use with <see cref="WalsSettings.SolverThreads"/>
    /// threads (0 = one per core) and disposed when the system terminates.
    /// </summary>
    public static SolverScheduler For(ActorSystem system, WalsSettings settings) =>
        Schedulers.GetOrAdd(system, s =>
        {
            var scheduler = new SolverScheduler(settings.SolverThreads > 0 ? settings.SolverThreads : Environment.ProcessorCount);
            s.WhenTerminated.ContinueWith(_ =>
            {
                Schedulers.TryRemove(s, out var _);
                scheduler.Dispose();
            }, TaskScheduler.Default);
            return scheduler;
        });

    /// <summary>Runs <paramref name="work"/> on the dedicated threads.</summary>
    public Task<T> Run<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);

    /// <summary>Stops taking work; the threads finish the queued tasks and end.</summary>
    public void Dispose() => _queue.CompleteAdding();

    protected override void QueueTask(Task task) => _queue.Add(task);

    /// <summary>Inline execution only on this scheduler's own threads (never on an Akka or thread-pool thread).</summary>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        _current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void Work()
    {
        _current = this;
        foreach (var task in _queue.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
