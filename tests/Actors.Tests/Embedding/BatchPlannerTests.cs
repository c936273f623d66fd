using WalsCluster.Actors.Embedding;

namespace WalsCluster.Actors.Tests.Embedding;

public sealed class BatchPlannerTests
{
    private static PendingRequest<string> Request(string who, int texts, double atMs = 0)
        => new(who, Enumerable.Range(0, texts).Select(i => $"{who}{i}").ToArray(),
            Enumerable.Range(0, texts).Select(i => $"t{i}").ToArray(), TimeSpan.FromMilliseconds(atMs));

    [Fact]
    public void A_batch_takes_whole_requests_oldest_first_up_to_the_max_batch()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 5, maxQueuedTexts: 100, TimeSpan.FromSeconds(1));
        Assert.True(planner.TryAdd(Request("a", 2)));
        Assert.True(planner.TryAdd(Request("b", 2)));
        Assert.True(planner.TryAdd(Request("c", 2)));

        var first = planner.TakeBatch()!;
        Assert.Equal(["a", "b"], first.Requests.Select(r => r.Requester));
        Assert.Equal(4, first.Texts.Length);
        Assert.Equal(2, planner.QueuedTexts);

        var second = planner.TakeBatch()!;
        Assert.Equal(["c"], second.Requests.Select(r => r.Requester));
        Assert.True(planner.IsEmpty);
        Assert.Null(planner.TakeBatch());
    }

    [Fact]
    public void A_request_larger_than_the_max_batch_forms_a_batch_of_its_own()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 3, maxQueuedTexts: 100, TimeSpan.FromSeconds(1));
        planner.TryAdd(Request("big", 7));
        planner.TryAdd(Request("small", 1));
        var batch = planner.TakeBatch()!;
        Assert.Equal(["big"], batch.Requests.Select(r => r.Requester));
        Assert.Equal(7, batch.Texts.Length);
        Assert.Equal(1, planner.QueuedTexts);
    }

    [Fact]
    public void A_request_that_does_not_fit_the_queue_is_refused_and_changes_nothing()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 2, maxQueuedTexts: 4, TimeSpan.FromSeconds(1));
        Assert.True(planner.TryAdd(Request("a", 3)));
        Assert.False(planner.IsFull);
        Assert.False(planner.TryAdd(Request("b", 2)));
        Assert.Equal(3, planner.QueuedTexts);
        Assert.Equal(1, planner.QueuedRequests);
        Assert.True(planner.TryAdd(Request("c", 1)));
        Assert.True(planner.IsFull);
        Assert.False(planner.CanAccept(1));
    }

    [Fact]
    public void A_batch_is_due_when_full_or_when_the_oldest_request_waited_max_wait()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 4, maxQueuedTexts: 100, TimeSpan.FromMilliseconds(10));
        Assert.False(planner.IsBatchDue(TimeSpan.Zero));
        Assert.Null(planner.DueIn(TimeSpan.Zero));

        planner.TryAdd(Request("a", 1, atMs: 100));
        planner.TryAdd(Request("b", 1, atMs: 105));
        Assert.False(planner.IsBatchDue(TimeSpan.FromMilliseconds(109)));
        Assert.Equal(TimeSpan.FromMilliseconds(1), planner.DueIn(TimeSpan.FromMilliseconds(109)));
        Assert.True(planner.IsBatchDue(TimeSpan.FromMilliseconds(110)));
        Assert.Equal(TimeSpan.Zero, planner.DueIn(TimeSpan.FromMilliseconds(120)));

        planner.TryAdd(Request("c", 2, atMs: 106));
        Assert.True(planner.IsBatchDue(TimeSpan.FromMilliseconds(106)));
        Assert.Equal(TimeSpan.Zero, planner.DueIn(TimeSpan.FromMilliseconds(106)));
    }

    [Fact]
    public void Split_gives_each_request_its_own_vectors_in_order()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 10, maxQueuedTexts: 100, TimeSpan.Zero);
        planner.TryAdd(Request("a", 2));
        planner.TryAdd(Request("b", 3));
        var batch = planner.TakeBatch()!;
        var vectors = Enumerable.Range(0, 5).Select(i => new float[] { i }).ToArray();

        var results = batch.Split(vectors);

        Assert.Equal(2, results.Count);
        Assert.Equal("a", results[0].Requester);
        Assert.Equal(["a0", "a1"], results[0].Ids);
        Assert.Equal([0f, 1f], results[0].Vectors.Select(v => v[0]));
        Assert.Equal("b", results[1].Requester);
        Assert.Equal(["b0", "b1", "b2"], results[1].Ids);
        Assert.Equal([2f, 3f, 4f], results[1].Vectors.Select(v => v[0]));
    }

    [Fact]
    public void Split_refuses_a_vector_count_that_differs_from_the_text_count()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 10, maxQueuedTexts: 100, TimeSpan.Zero);
        planner.TryAdd(Request("a", 2));
        var batch = planner.TakeBatch()!;
        Assert.Throws<ArgumentException>(() => batch.Split([[1f]]));
    }

    [Fact]
    public void Take_all_empties_the_queue()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 2, maxQueuedTexts: 10, TimeSpan.Zero);
        planner.TryAdd(Request("a", 2));
        planner.TryAdd(Request("b", 1));
        Assert.Equal(["a", "b"], planner.TakeAll().Select(r => r.Requester));
        Assert.True(planner.IsEmpty);
        Assert.Equal(0, planner.QueuedTexts);
    }

    [Fact]
    public void Mismatched_ids_and_texts_are_refused()
    {
        var planner = new BatchPlanner<string>(maxBatchTexts: 2, maxQueuedTexts: 10, TimeSpan.Zero);
        Assert.Throws<ArgumentException>(() => planner.TryAdd(new PendingRequest<string>("a", ["x"], ["t1", "t2"], TimeSpan.Zero)));
    }
}
