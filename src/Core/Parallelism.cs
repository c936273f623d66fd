namespace WalsCluster.Core;

/// <summary>
/// The options of every parallel loop in Core: at most <c>threads</c> workers, scheduled on the CALLER's task scheduler
/// (<see cref="TaskScheduler.Current"/>; the thread pool unless the caller runs in a task of another scheduler). A host
/// can thus confine a whole solve to dedicated threads by starting it as a task on its own scheduler, as the cluster's
/// factor shards do. (A plain <see cref="ParallelOptions"/> would schedule on the thread pool whatever the caller.)
/// </summary>
public static class Parallelism
{
    public static ParallelOptions Options(int threads) =>
        new() { MaxDegreeOfParallelism = Math.Max(1, threads), TaskScheduler = TaskScheduler.Current };
}
