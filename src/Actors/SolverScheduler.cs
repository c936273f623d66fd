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
///
/// <see cref="RunSolve"/> also caps how many shard solves run at once (<c>wals.cluster.concurrent-solves</c>, default 1):
/// one solve at a time on all the threads keeps one shard's fixed-side rows in the caches and balances the threads
/// within the solve, where two shards solving side by side on one thread each double the working set and leave a
/// thread idle at the end. Later solves wait (without holding a thread) until one finishes.
/// </summary>
public sealed class SolverScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = [];
    private readonly Thread[] _threads;
    private static readonly ConcurrentDictionary<ActorSystem, SolverScheduler> Schedulers = new();

    [ThreadStatic]
    private static SolverScheduler? _current;

    private readonly SemaphoreSlim _solves;

    /// <param name="threads">Dedicated threads, at least 1.</param>
    /// <param name="name">Prefix of the threads' names (seen in debuggers and dumps).</param>
    /// <param name="concurrentSolves">Solves that <see cref="RunSolve"/> runs at once, at least 1.</param>
    public SolverScheduler(int threads, string name = "wals-solver", int concurrentSolves = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrentSolves, 1);
        _solves = new SemaphoreSlim(concurrentSolves, concurrentSolves);
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
            var scheduler = new SolverScheduler(settings.SolverThreads > 0 ? settings.SolverThreads : Environment.ProcessorCount, concurrentSolves: settings.ConcurrentSolves);
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

    /// <summary>
    /// Runs one shard's solve on the dedicated threads once fewer than <c>concurrentSolves</c> solves are running
    /// (waiting without holding a thread); its parallel loops use all the threads.
    /// </summary>
    public async Task<T> RunSolve<T>(Func<T> work)
    {
        await _solves.WaitAsync().ConfigureAwait(false);
        try
        {
            return await Run(work).ConfigureAwait(false);
        }
        finally
        {
            _solves.Release();
        }
    }

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
