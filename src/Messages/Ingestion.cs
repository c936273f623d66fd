namespace WalsCluster.Messages;

/// <summary>
/// A batch of interactions for one shard of run <paramref name="Run"/>: every interaction goes once to its user shard
/// (Side = Users, rows = users, columns = items) and once to its item shard (Side = Items). Row and column indices
/// are the dense global indices of the single-process loader (first-seen order), so every shard starts its rows from
/// the same initial factors as the engine. <paramref name="RowIds"/>[j] is the external id of global row
/// <paramref name="RowGlobals"/>[j] (rows without interactions may appear there too); entry e is
/// (<paramref name="EntryRows"/>[e], <paramref name="EntryColumns"/>[e], <paramref name="Values"/>[e]) and its column lives
/// on shard <paramref name="EntryColumnShards"/>[e] of the other side. Idempotent by <paramref name="Sequence"/>;
/// replied with <see cref="InteractionBatchAccepted"/>.
/// </summary>
public sealed record InteractionBatch(
    string Run, Side Side, int Shard, int Sequence, int[] RowGlobals, string[] RowIds,
    int[] EntryRows, int[] EntryColumns, int[] EntryColumnShards, float[] Values) : IShardMessage;

/// <summary>Reply to <see cref="InteractionBatch"/>: the shard now holds <paramref name="Entries"/> interactions of the run.</summary>
public sealed record InteractionBatchAccepted(string Run, Side Side, int Shard, int Sequence, long Entries, bool Duplicate) : IWalsMessage;
