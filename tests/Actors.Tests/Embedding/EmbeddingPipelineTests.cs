using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using WalsCluster.Actors.Embedding;
using WalsCluster.Core.Data;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests.Embedding;

/// <summary>The pipeline from item texts through a real <see cref="EmbeddingPool"/> (fake encoder) into scripted item shards,
/// and the item shard's side of the embedding protocol.</summary>
public sealed class EmbeddingPipelineTests : TestKit
{
    private const string Run = "run-embed";

    public EmbeddingPipelineTests() : base(EmbeddingPoolSettings.DefaultConfig)
    {
    }

    private static IReadOnlyList<ItemTextRecord> Records(int count) =>
        Enumerable.Range(0, count).Select(n => new ItemTextRecord($"item-{n}", $"t{n}")).ToList();

    [Fact]
    public void Items_without_interactions_get_global_indices_after_the_known_items_in_source_order()
    {
        var known = new IdMap(["item-3", "item-0"]);
        var items = EmbeddingPipeline.Assign(Records(5), known);
        Assert.Equal([1, 2, 3, 0, 4], items.Select(i => i.Global));
        Assert.Equal(["item-0", "item-1", "item-2", "item-3", "item-4"], items.Select(i => i.Id));
    }

    [Fact]
    public void The_validation_split_holds_out_about_the_fraction_of_similar_ids()
    {
        var held = Enumerable.Range(0, 4000).Count(n => ProjectionSplit.IsValidation($"item{n}", 0.25));
        Assert.InRange(held, 900, 1100);
        Assert.Equal(ProjectionSplit.IsValidation("item42", 0.25), ProjectionSplit.IsValidation("item42", 0.25));
    }

    [Fact]
    public void The_batcher_cuts_per_shard_batches_and_flushes_the_rest_at_the_end()
    {
        var batcher = new ShardBatcher(Run, 3, batchItems: 2);
        var batches = Enumerable.Range(0, 11).Select(n => new EmbeddedItem($"item-{n}", n, [n, -n]))
            .Append(ShardBatcher.End).SelectMany(batcher.Add).ToList();
        Assert.Equal(Enumerable.Range(0, batches.Count), batches.Select(b => b.Sequence));
        Assert.All(batches, b => Assert.InRange(b.Ids.Length, 1, 2));
        Assert.All(batches, b => Assert.All(b.Ids, id => Assert.Equal(b.Shard, StableHash.ShardOf(id, 3))));
        Assert.Equal(Enumerable.Range(0, 11).Select(n => $"item-{n}").Order(), batches.SelectMany(b => b.Ids).Order());
        var five = batches.Single(b => b.Ids.Contains("item-5"));
        var j = Array.IndexOf(five.Ids, "item-5");
        Assert.Equal(5, five.Globals[j]);
        Assert.Equal([5f, -5f], five.Vectors.AsSpan(j * 2, 2).ToArray());
        Assert.Equal(11, batcher.Sent.Sum());
    }

    [Fact]
    public async Task Every_text_reaches_its_item_shard_exactly_once_with_its_vector_even_when_the_pool_answers_busy()
    {
        using var gate = new ManualResetEventSlim(false);
        var fake = new FakeEncoder { Gate = gate };
        var pool = Sys.ActorOf(EmbeddingPool.Props(new EmbeddingPoolSettings { MaxBatchTexts = 4, MaxQueuedTexts = 4, MaxWait = TimeSpan.FromMilliseconds(1) }, fake.Create));
        var received = new ConcurrentQueue<ItemEmbeddingBatch>();
        var held = new int[3];
        var region = CreateTestProbe();
        region.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            if (message is ItemEmbeddingBatch batch)
            {
                received.Enqueue(batch);
                held[batch.Shard] += batch.Ids.Length;
                sender.Tell(new ItemEmbeddingsAccepted(batch.Run, batch.Shard, batch.Sequence, held[batch.Shard], false, null));
            }
            return AutoPilot.KeepRunning;
        }));
        var records = Records(60);
        var known = new IdMap(records.Take(40).Select(r => r.Id));
        var items = EmbeddingPipeline.Assign(records, known);
        var pipeline = new EmbeddingPipelineSettings
        {
            RequestTexts = 4,
            Parallelism = 4,
            AskTimeout = TimeSpan.FromSeconds(20),
            BusyBackoffMin = TimeSpan.FromMilliseconds(5),
            BusyBackoffMax = TimeSpan.FromMilliseconds(50),
            ShardBatchItems = 7,
        };
        var settings = new WalsSettings { ItemShards = 3, IngestAskTimeout = TimeSpan.FromSeconds(10) };

        // While the first batch is held in the encoder, one request runs, one waits in the queue and the others are busy.
        var run = EmbeddingPipeline.RunAsync(Sys, pool, region.Ref, items, Run, 3, known.Count, pipeline, settings);
        await Task.Delay(300);
        gate.Set();
        var summary = await run.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(summary.BusyAnswers > 0, "the pool should have answered busy while the encoder was held");
        var batches = received.ToArray();
        var ids = batches.SelectMany(b => b.Ids).ToList();
        Assert.Equal(records.Count, ids.Count);
        Assert.Equal(records.Select(r => r.Id).Order(), ids.Order());
        Assert.Equal(batches.Length, batches.Select(b => b.Sequence).Distinct().Count());
        foreach (var b in batches)
        {
            Assert.Equal(Run, b.Run);
            Assert.Equal(2, b.Dimension);
            for (var j = 0; j < b.Ids.Length; j++)
            {
                var item = items.Single(i => i.Id == b.Ids[j]);
                Assert.Equal(StableHash.ShardOf(item.Id, 3), b.Shard);
                Assert.Equal(item.Global, b.Globals[j]);
                Assert.Equal(FakeEncoder.VectorOf(item.Text), b.Vectors.AsSpan(j * 2, 2).ToArray());
            }
        }
        Assert.Equal(held, summary.ShardItems);
        Assert.Equal(20, summary.ItemsWithoutInteractions);
        Assert.Equal(60, fake.Calls.Sum(c => c.Length));
    }

    [Fact]
    public async Task Texts_go_to_the_pools_in_order_of_length_so_that_batches_pad_little()
    {
        var fake = new FakeEncoder();
        var pool = Sys.ActorOf(EmbeddingPool.Props(new EmbeddingPoolSettings { MaxBatchTexts = 4, MaxQueuedTexts = 8, MaxWait = TimeSpan.FromMilliseconds(1) }, fake.Create));
        var region = CreateTestProbe();
        var held = new int[2];
        region.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            if (message is ItemEmbeddingBatch batch)
            {
                held[batch.Shard] += batch.Ids.Length;
                sender.Tell(new ItemEmbeddingsAccepted(batch.Run, batch.Shard, batch.Sequence, held[batch.Shard], false, null));
            }
            return AutoPilot.KeepRunning;
        }));
        // Texts t0..t119 of 2, 3 and 4 characters, in a shuffled source order.
        var numbers = Enumerable.Range(0, 120).ToArray();
        new Random(3).Shuffle(numbers);
        var records = numbers.Select(n => new ItemTextRecord($"item-{n}", $"t{n}")).ToList();
        var items = EmbeddingPipeline.Assign(records, new IdMap());
        await EmbeddingPipeline.RunAsync(Sys, pool, region.Ref, items, Run, 2, 0,
            new EmbeddingPipelineSettings { RequestTexts = 4, Parallelism = 1 }, new WalsSettings { ItemShards = 2 }).WaitAsync(TimeSpan.FromSeconds(60));
        var sent = fake.Calls.SelectMany(c => c).ToArray();
        // Shortest first; texts of one length keep their source order.
        Assert.Equal(records.Select(r => r.Text).OrderBy(t => t.Length), sent);
    }

    [Fact]
    public async Task A_pool_that_rejects_a_request_as_invalid_fails_the_pipeline_with_its_reason()
    {
        var fake = new FakeEncoder();
        var pool = Sys.ActorOf(EmbeddingPool.Props(new EmbeddingPoolSettings { MaxBatchTexts = 4, MaxQueuedTexts = 4 }, fake.Create));
        var items = EmbeddingPipeline.Assign(Records(10), new IdMap());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => EmbeddingPipeline.RunAsync(Sys, pool, CreateTestProbe().Ref, items, Run, 2, 0,
            new EmbeddingPipelineSettings { RequestTexts = 8 }, new WalsSettings { ItemShards = 2 }).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("max-queued-texts", e.Message);
    }

    [Fact]
    public void An_item_shard_stores_each_batch_once_and_refuses_ids_of_other_shards()
    {
        var shard = Sys.ActorOf(FactorShard.Props(new WalsSettings { ItemShards = 2 }, CreateTestProbe().Ref), "item-1");
        var mine = Enumerable.Range(0, 20).Select(n => $"item-{n}").Where(id => StableHash.ShardOf(id, 2) == 1).Take(3).ToArray();
        var other = Enumerable.Range(0, 20).Select(n => $"item-{n}").First(id => StableHash.ShardOf(id, 2) == 0);
        var batch = new ItemEmbeddingBatch(Run, Side.Items, 1, 0, 2, mine, [0, 1, 2], 2, [1, 2, 3, 4, 5, 6]);

        shard.Tell(batch);
        var first = ExpectMsg<ItemEmbeddingsAccepted>();
        Assert.Null(first.Failure);
        Assert.Equal((3, false), (first.Items, first.Duplicate));
        shard.Tell(batch);
        var again = ExpectMsg<ItemEmbeddingsAccepted>();
        Assert.Equal((3, true), (again.Items, again.Duplicate));

        shard.Tell(batch with { Sequence = 1, Ids = [other], Globals = [3], Vectors = [1, 2] });
        Assert.Contains("belongs to item-0", ExpectMsg<ItemEmbeddingsAccepted>().Failure);
        shard.Tell(batch with { Sequence = 2, Ids = [mine[0]], Globals = [0], Vectors = [1, 2] });
        Assert.Contains("already sent", ExpectMsg<ItemEmbeddingsAccepted>().Failure);
        shard.Tell(new GetProjectionSums(Run, Side.Items, 1, false, 0.1, 0, 3));
        Assert.Contains("holds no trained run", ExpectMsg<ProjectionSumsReport>().Failure);
    }
}
