using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using WalsCluster.Actors.Embedding;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests.Embedding;

public sealed class EmbeddingPoolTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public EmbeddingPoolTests() : base(EmbeddingPoolSettings.DefaultConfig)
    {
    }

    private static EmbedTexts Request(string prefix, params int[] numbers)
        => new(numbers.Select(n => $"{prefix}{n}").ToArray(), numbers.Select(n => $"t{n}").ToArray());

    private static void AssertAnswers(EmbedTexts request, TextsEmbedded reply)
    {
        Assert.Equal(request.Ids, reply.Ids);
        Assert.Equal(request.Texts.Length, reply.Vectors.Length);
        for (int i = 0; i < request.Texts.Length; i++)
        {
            Assert.Equal(FakeEncoder.VectorOf(request.Texts[i]), reply.Vectors[i]);
        }
    }

    private IActorRef Pool(FakeEncoder fake, int maxBatch, int maxQueued, TimeSpan maxWait, params string[] devices)
        => Sys.ActorOf(EmbeddingPool.Props(new EmbeddingPoolSettings
        {
            Devices = devices.Length == 0 ? ["cpu"] : devices,
            MaxBatchTexts = maxBatch,
            MaxQueuedTexts = maxQueued,
            MaxWait = maxWait,
        }, fake.Create));

    [Fact]
    public void An_embedder_replies_one_vector_per_text_in_order_on_its_own_thread()
    {
        var fake = new FakeEncoder();
        var embedder = Sys.ActorOf(Embedder.Props("cpu", () => fake.Create("cpu")));
        var first = Request("id", 5, 3, 9, 1);
        var second = Request("id", 2);

        embedder.Tell(first, TestActor);
        AssertAnswers(first, ExpectMsg<TextsEmbedded>(Wait));
        embedder.Tell(second, TestActor);
        AssertAnswers(second, ExpectMsg<TextsEmbedded>(Wait));

        // The pinned dispatcher: a dedicated thread, not the .NET thread pool, the same one for every call.
        var threads = fake.Threads.ToArray();
        Assert.Equal(2, threads.Length);
        Assert.All(threads, t => Assert.False(t.IsThreadPool));
        Assert.Equal(threads[0].ThreadId, threads[1].ThreadId);
    }

    [Fact]
    public void An_embedder_disposes_its_session_when_it_stops()
    {
        var fake = new FakeEncoder();
        var embedder = Sys.ActorOf(Embedder.Props("cpu", () => fake.Create("cpu")));
        Watch(embedder);
        embedder.Tell(Request("id", 1), TestActor);
        ExpectMsg<TextsEmbedded>(Wait);
        Sys.Stop(embedder);
        ExpectTerminated(embedder, Wait);
        AwaitCondition(() => Volatile.Read(ref fake.Disposed) == 1, Wait);
    }

    [Fact]
    public void The_pool_answers_each_request_with_its_own_vectors_in_order()
    {
        var fake = new FakeEncoder();
        var pool = Pool(fake, maxBatch: 4, maxQueued: 64, maxWait: TimeSpan.FromMilliseconds(20));
        var probes = Enumerable.Range(0, 5).Select(_ => CreateTestProbe()).ToArray();
        var requests = Enumerable.Range(0, 5).Select(p => Request($"r{p}-", Enumerable.Range(p * 10, p + 1).ToArray())).ToArray();

        for (int p = 0; p < probes.Length; p++)
        {
            probes[p].Send(pool, requests[p]);
        }
        for (int p = 0; p < probes.Length; p++)
        {
            AssertAnswers(requests[p], probes[p].ExpectMsg<TextsEmbedded>(Wait));
        }
        // 15 texts, at most 4 per call, whole requests (the 5-text request alone).
        Assert.Equal(15, fake.Calls.Sum(c => c.Length));
        Assert.All(fake.Calls, c => Assert.True(c.Length <= 4 || c.Length == 5));
    }

    [Fact]
    public void Several_small_requests_are_merged_into_one_encoder_call()
    {
        var fake = new FakeEncoder();
        // max-wait far beyond the test: only a full batch of 8 texts can be sent.
        var pool = Pool(fake, maxBatch: 8, maxQueued: 64, maxWait: TimeSpan.FromMinutes(1));
        var probes = Enumerable.Range(0, 4).Select(_ => CreateTestProbe()).ToArray();
        var requests = Enumerable.Range(0, 4).Select(p => Request($"r{p}-", 2 * p, 2 * p + 1)).ToArray();

        for (int p = 0; p < probes.Length; p++)
        {
            probes[p].Send(pool, requests[p]);
        }
        for (int p = 0; p < probes.Length; p++)
        {
            AssertAnswers(requests[p], probes[p].ExpectMsg<TextsEmbedded>(Wait));
        }
        var call = Assert.Single(fake.Calls);
        Assert.Equal(["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"], call);
    }

    [Fact]
    public void Max_wait_flushes_a_partial_batch()
    {
        var fake = new FakeEncoder();
        var pool = Pool(fake, maxBatch: 100, maxQueued: 1000, maxWait: TimeSpan.FromMilliseconds(30));
        var request = Request("id", 1, 2, 3);

        pool.Tell(request, TestActor);

        AssertAnswers(request, ExpectMsg<TextsEmbedded>(Wait));
        Assert.Equal(3, Assert.Single(fake.Calls).Length);
    }

    [Fact]
    public void A_full_queue_answers_busy_at_once_and_keeps_the_queued_requests()
    {
        using var gate = new ManualResetEventSlim(false);
        var fake = new FakeEncoder { Gate = gate };
        var pool = Pool(fake, maxBatch: 2, maxQueued: 4, maxWait: TimeSpan.Zero);
        var running = CreateTestProbe();
        var queued1 = CreateTestProbe();
        var queued2 = CreateTestProbe();
        var refused = CreateTestProbe();
        var a = Request("a", 1, 2);
        var b = Request("b", 3, 4);
        var c = Request("c", 5, 6);

        running.Send(pool, a);            // sent to the only embedder, which holds it at the gate
        AwaitCondition(() => fake.Calls.Count == 1, Wait);
        queued1.Send(pool, b);            // 2 of 4 queued texts
        queued2.Send(pool, c);            // 4 of 4
        refused.Send(pool, Request("d", 7));

        var busy = refused.ExpectMsg<EmbeddingRejected>(Wait);
        Assert.StartsWith("busy", busy.Reason);
        running.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        gate.Set();
        AssertAnswers(a, running.ExpectMsg<TextsEmbedded>(Wait));
        AssertAnswers(b, queued1.ExpectMsg<TextsEmbedded>(Wait));
        AssertAnswers(c, queued2.ExpectMsg<TextsEmbedded>(Wait));
        refused.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void An_encoder_failure_answers_the_batch_rejected_and_the_pool_keeps_serving()
    {
        var fake = new FakeEncoder();
        var pool = Pool(fake, maxBatch: 2, maxQueued: 16, maxWait: TimeSpan.Zero);
        var failing = new EmbedTexts(["x", "y"], ["t1", "boom"]);

        pool.Tell(failing, TestActor);
        var rejected = ExpectMsg<EmbeddingRejected>(Wait);
        Assert.StartsWith("failed", rejected.Reason);
        Assert.Contains("boom", rejected.Reason);

        var next = Request("id", 4, 5);
        pool.Tell(next, TestActor);
        AssertAnswers(next, ExpectMsg<TextsEmbedded>(Wait));
    }

    [Fact]
    public void An_embedder_that_cannot_start_its_session_answers_rejected_not_silence()
    {
        var pool = Sys.ActorOf(EmbeddingPool.Props(new EmbeddingPoolSettings { MaxWait = TimeSpan.Zero },
            _ => throw new InvalidOperationException("no such model")));

        pool.Tell(Request("id", 1), TestActor);
        Assert.StartsWith("failed", ExpectMsg<EmbeddingRejected>(Wait).Reason);
        pool.Tell(Request("id", 2), TestActor);
        Assert.StartsWith("failed", ExpectMsg<EmbeddingRejected>(Wait).Reason);
    }

    [Fact]
    public void Malformed_and_empty_requests_are_answered_without_an_encoder_call()
    {
        var fake = new FakeEncoder();
        var pool = Pool(fake, maxBatch: 2, maxQueued: 4, maxWait: TimeSpan.Zero);

        pool.Tell(new EmbedTexts(["a"], ["t1", "t2"]), TestActor);
        Assert.StartsWith("invalid", ExpectMsg<EmbeddingRejected>(Wait).Reason);
        pool.Tell(Request("id", 1, 2, 3, 4, 5), TestActor);
        Assert.StartsWith("invalid", ExpectMsg<EmbeddingRejected>(Wait).Reason);
        pool.Tell(new EmbedTexts([], []), TestActor);
        var empty = ExpectMsg<TextsEmbedded>(Wait);
        Assert.Empty(empty.Vectors);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public void Two_devices_get_one_session_each_and_share_the_work()
    {
        using var gate = new ManualResetEventSlim(false);
        var fake = new FakeEncoder { Gate = gate };
        var pool = Pool(fake, maxBatch: 1, maxQueued: 16, maxWait: TimeSpan.Zero, "cpu", "cpu");
        var first = CreateTestProbe();
        var second = CreateTestProbe();

        first.Send(pool, Request("a", 1));
        second.Send(pool, Request("b", 2));
        // Both calls start while the gate is shut: two embedders run at once.
        AwaitCondition(() => fake.Calls.Count == 2, Wait);
        Assert.Equal(2, Volatile.Read(ref fake.Sessions));
        gate.Set();
        first.ExpectMsg<TextsEmbedded>(Wait);
        second.ExpectMsg<TextsEmbedded>(Wait);
    }
}
