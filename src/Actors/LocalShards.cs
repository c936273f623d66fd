using System.Collections.Concurrent;
using Akka.Actor;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// The factor shard entities alive in this process, per actor system. A shard that publishes its rows for a shard of
/// the same actor system hands it a <see cref="LocalFactorRows"/> (a reference to its factor array) instead of copying
/// the rows into <see cref="FactorBlock"/>s that the receiver copies again: on a one-node cluster every half-step's
/// rows then move once (straight into the receiver's block buffer) instead of twice.
/// </summary>
internal static class LocalShards
{
    private static readonly ConcurrentDictionary<(ActorSystem System, string EntityId), IActorRef> Alive = new();
    private static long _rowsHandedOver;

    /// <summary>Factor rows handed to same-process shards by reference since the process started (for tests and diagnostics).</summary>
    public static long RowsHandedOver => Interlocked.Read(ref _rowsHandedOver);

    public static void CountHandedOver(int rows) => Interlocked.Add(ref _rowsHandedOver, rows);

    public static void Register(ActorSystem system, string entityId, IActorRef shard) => Alive[(system, entityId)] = shard;

    public static void Unregister(ActorSystem system, string entityId, IActorRef shard) =>
        Alive.TryRemove(new KeyValuePair<(ActorSystem, string), IActorRef>((system, entityId), shard));

    public static IActorRef? Find(ActorSystem system, Side side, int shard) =>
        Alive.TryGetValue((system, ShardNames.EntityId(side, shard)), out var actor) ? actor : null;
}

/// <summary>
/// A half-step's factor rows for a shard in the same actor system: global row indices <paramref name="Rows"/> (the
/// source's whole out-block for the receiver, ascending) whose values are rows <paramref name="SourceRows"/> of the
/// source shard's factor array <paramref name="Factors"/> (Rows x k, in the half-step's basis). The array is the
/// source's current factors, which it does not change before the receiver has solved this half-step (it solves
/// into its spare array and rotates into its scratch array; see <see cref="ShardBlock.AdoptBasis"/>); the receiver
/// copies the rows out as soon as it handles the message. Never leaves the process, so it is never serialized.
/// </summary>
internal sealed record LocalFactorRows(string Run, int Iteration, Side Side, int Shard, int SourceShard, int[] Rows, int[] SourceRows, float[] Factors)
    : INoSerializationVerificationNeeded;
