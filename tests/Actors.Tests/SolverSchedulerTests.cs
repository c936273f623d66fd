using Akka.Actor;
using Akka.TestKit.Xunit2;

namespace WalsCluster.Actors.Tests;

/// <summary>The dedicated solver threads: what runs on them, how many at once, and that actors stay responsive.</summary>
public sealed class SolverSchedulerTests : TestKit
{
    [Fact]
    public async Task A_solve_and_its_parallel_loops_run_on_the_dedicated_threads_only()
    {
        // Core.Parallelism.Options is what every parallel loop of the engine uses.
        await RunsOnDedicatedThreads();
    }

    private static async Task RunsOnDedicatedThreads()
    {
        using var scheduler = new SolverScheduler(2, "test-solver");
        var names = new System.Collections.Concurrent.ConcurrentBag<(string? Name, bool Pool)>();
        await scheduler.Run(() =>
        {
            Parallel.For(0, 64, Core.Parallelism.Options(4), _ =>
            {
                names.Add((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
                Thread.Sleep(5);
            });
            return 0;
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(64, names.Count);
        // Both dedicated threads take part in one solve's loop.
        Assert.Equal(2, names.Select(n => n.Name).Distinct().Count());
        Assert.All(names, n =>
        {
            Assert.StartsWith("test-solver-", n.Name);
            Assert.False(n.Pool);
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Concurrent_solves_share_the_threads_without_deadlock_and_never_exceed_them(int threads)
    {
        using var scheduler = new SolverScheduler(threads);
        var running = 0;
        var peak = 0;
        var solves = Enumerable.Range(0, 5).Select(s => scheduler.Run(() =>
        {
            var sum = 0L;
            Parallel.For(0, 40, Core.Parallelism.Options(8), i =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref peak, now);
                Thread.SpinWait(10_000);
                Interlocked.Add(ref sum, i);
                Interlocked.Decrement(ref running);
            });
            return sum;
        })).ToArray();
        var sums = await Task.WhenAll(solves).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(sums, s => Assert.Equal(780L, s));
        Assert.InRange(peak, 1, threads);
    }

    [Fact]
    public async Task Actors_answer_while_every_solver_thread_is_busy()
    {
        using var scheduler = new SolverScheduler(2);
        using var release = new ManualResetEventSlim();
        var blocked = Enumerable.Range(0, 4).Select(_ => scheduler.Run(() => release.Wait(TimeSpan.FromSeconds(30)))).ToArray();
        var echo = Sys.ActorOf(Props.Create(() => new Echo()));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, await echo.Ask<int>(i, TimeSpan.FromSeconds(5)));
        }
        Assert.All(blocked, t => Assert.False(t.IsCompleted));
        release.Set();
        Assert.All(await Task.WhenAll(blocked).WaitAsync(TimeSpan.FromSeconds(30)), Assert.True);
    }

    [Fact]
    public void One_scheduler_per_actor_system_sized_by_the_settings()
    {
        var a = SolverScheduler.For(Sys, new WalsSettings { SolverThreads = 3 });
        var b = SolverScheduler.For(Sys, new WalsSettings { SolverThreads = 5 });
        Assert.Same(a, b);
        Assert.Equal(3, a.MaximumConcurrencyLevel);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SolverScheduler(0));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo() => Receive<int>(i => Sender.Tell(i));
    }
}
