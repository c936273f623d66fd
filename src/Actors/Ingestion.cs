using System.Diagnostics;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using WalsCluster.Core.Data;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>What ingestion shipped: per shard the rows and interactions it must hold (for <see cref="StartTrainingRun"/>).</summary>
public sealed record IngestionSummary(int[] UserShardRows, int[] UserShardEntries, int[] ItemShardRows, int[] ItemShardEntries, int Batches, long Bytes, double Seconds);

/// <summary>
/// Ships an interaction table (read with Core's loaders, so global indices are the engine's) to the factor shards:
/// every interaction once to its user shard and once to its item shard, partitioned by <see cref="StableHash"/> of the
/// external ids. An Akka.Streams pipeline with backpressure: batches are generated lazily and at most
/// <see cref="WalsSettings.IngestParallelism"/> are unacknowledged; a batch not acknowledged in time is sent again
/// (shards drop duplicates by sequence number), at most <see cref="WalsSettings.IngestAttempts"/> times.
/// </summary>
public static class Ingestion
{
    /// <summary>The batches of one run (pure: no actors). Rows with no interactions on a shard still get declared.</summary>
    public static IEnumerable<InteractionBatch> Batches(InteractionTable table, string run, int userShards, int itemShards, int batchEntries)
    {
        var userShardOf = table.Users.Ids.Select(id => StableHash.ShardOf(id, userShards)).ToArray();
        var itemShardOf = table.Items.Ids.Select(id => StableHash.ShardOf(id, itemShards)).ToArray();
        var sequence = 0;
        foreach (var side in new[] { Side.Users, Side.Items })
        {
            var shards = side == Side.Users ? userShards : itemShards;
            var rowShard = side == Side.Users ? userShardOf : itemShardOf;
            var columnShard = side == Side.Users ? itemShardOf : userShardOf;
            var rowIndex = side == Side.Users ? table.UserIndex : table.ItemIndex;
            var columnIndex = side == Side.Users ? table.ItemIndex : table.UserIndex;
            var ids = side == Side.Users ? table.Users : table.Items;
            // Counting sort of the entries by shard of their row.
            var start = new int[shards + 1];
            foreach (var r in rowIndex)
            {
                start[rowShard[r] + 1]++;
            }
            for (var s = 0; s < shards; s++)
            {
                start[s + 1] += start[s];
            }
            var order = new int[rowIndex.Length];
            var next = (int[])start.Clone();
            for (var e = 0; e < rowIndex.Length; e++)
            {
                order[next[rowShard[rowIndex[e]]]++] = e;
            }
            for (var s = 0; s < shards; s++)
            {
                var declared = new HashSet<int>();
                for (var b = start[s]; b < start[s + 1]; b += batchEntries)
                {
                    var n = Math.Min(batchEntries, start[s + 1] - b);
                    var rows = new int[n];
                    var columns = new int[n];
                    var columnShards = new int[n];
                    var values = new float[n];
                    var fresh = new List<int>();
                    for (var j = 0; j < n; j++)
                    {
                        var e = order[b + j];
                        rows[j] = rowIndex[e];
                        columns[j] = columnIndex[e];
                        columnShards[j] = columnShard[columns[j]];
                        values[j] = table.Values[e];
                        if (declared.Add(rows[j]))
                        {
                            fresh.Add(rows[j]);
                        }
                    }
                    yield return new InteractionBatch(run, side, s, sequence++, fresh.ToArray(), fresh.Select(r => ids[r]).ToArray(), rows, columns, columnShards, values);
                }
                var idle = Enumerable.Range(0, ids.Count).Where(r => rowShard[r] == s && !declared.Contains(r)).ToArray();
                if (idle.Length > 0)
                {
                    yield return new InteractionBatch(run, side, s, sequence++, idle, idle.Select(r => ids[r]).ToArray(), [], [], [], []);
                }
            }
        }
    }

    /// <summary>Rows and interactions per shard, as <see cref="Batches"/> distributes them.</summary>
    public static (int[] Rows, int[] Entries) Expected(InteractionTable table, Side side, int shards)
    {
        var ids = side == Side.Users ? table.Users : table.Items;
        var index = side == Side.Users ? table.UserIndex : table.ItemIndex;
        var shardOf = ids.Ids.Select(id => StableHash.ShardOf(id, shards)).ToArray();
        var rows = new int[shards];
        var entries = new int[shards];
        foreach (var s in shardOf)
        {
            rows[s]++;
        }
        foreach (var r in index)
        {
            entries[shardOf[r]]++;
        }
        return (rows, entries);
    }

    /// <summary>Streams the table's batches to <paramref name="region"/> with backpressure and waits for every acknowledgement.</summary>
    public static async Task<IngestionSummary> RunAsync(ActorSystem system, IActorRef region, InteractionTable table, string run, WalsSettings settings, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var materializer = system.Materializer();
        var serializer = system.Serialization.FindSerializerForType(typeof(InteractionBatch));
        long bytes = 0;
        var batches = await Source.FromEnumerator<InteractionBatch>(() => Batches(table, run, settings.UserShards, settings.ItemShards, settings.IngestBatchEntries).GetEnumerator())
            .SelectAsync(settings.IngestParallelism, async batch =>
            {
                Interlocked.Add(ref bytes, serializer.ToBinary(batch).LongLength);
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        var ack = await region.Ask<InteractionBatchAccepted>(batch, settings.IngestAskTimeout, cancellationToken);
                        return ack.Sequence == batch.Sequence ? 1 : throw new InvalidOperationException($"Batch {batch.Sequence} was acknowledged as {ack.Sequence}.");
                    }
                    catch (AskTimeoutException) when (attempt < settings.IngestAttempts)
                    {
                    }
                }
            })
            .RunWith(Sink.Aggregate<int, int>(0, (sum, one) => sum + one), materializer);
        var (userRows, userEntries) = Expected(table, Side.Users, settings.UserShards);
        var (itemRows, itemEntries) = Expected(table, Side.Items, settings.ItemShards);
        return new IngestionSummary(userRows, userEntries, itemRows, itemEntries, batches, bytes, watch.Elapsed.TotalSeconds);
    }
}
