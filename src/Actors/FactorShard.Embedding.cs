using Akka.Actor;
using Akka.Event;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// The item shard's part of cold start (DESIGN section 1): it stores the text embedding of each of its items
/// (<see cref="ItemEmbeddingBatch"/>, kept in <see cref="ShardEmbeddings"/>), reports its part of the projection's sums
/// over its warm items (<see cref="GetProjectionSums"/>, computed on the thread pool), gives its cold items (text, no
/// interactions) factors y = W^T e + b (<see cref="ApplyProjection"/>, kept in <see cref="ColdItems"/>), and ranks trained
/// rows and cold items together (<see cref="RankShardItems"/>).
/// </summary>
public sealed partial class FactorShard
{
    private ShardEmbeddings? _embeddings;
    private ColdItems? _cold;
    private SumsJob? _sums;

    private void ReceiveEmbeddingMessages()
    {
        Receive<ItemEmbeddingBatch>(HandleEmbeddingBatch);
        Receive<GetProjectionSums>(HandleGetProjectionSums);
        Receive<SumsComputed>(HandleSumsComputed);
        Receive<ApplyProjection>(HandleApplyProjection);
        Receive<RankShardItems>(HandleRank);
        Receive<GetColdItemVector>(HandleGetColdItemVector);
        Receive<GetColdItems>(HandleGetColdItems);
    }

    /// <summary>The cold items of the run the shard holds (null when none were projected for it).</summary>
    private ColdItems? CurrentCold => _cold is { } cold && _block is { } block && cold.Run == block.Run ? cold : null;

    private void HandleEmbeddingBatch(ItemEmbeddingBatch batch)
    {
        if (_side != Side.Items)
        {
            Sender.Tell(new ItemEmbeddingsAccepted(batch.Run, _shard, batch.Sequence, 0, false, $"Shard {_entityId} is a user shard; item embeddings go to item shards."));
            return;
        }
        if (_embeddings is null || _embeddings.Run != batch.Run)
        {
            _embeddings = new ShardEmbeddings(batch.Run, _shard);
        }
        try
        {
            var fresh = _embeddings.Accept(batch);
            Sender.Tell(new ItemEmbeddingsAccepted(batch.Run, _shard, batch.Sequence, _embeddings.Count, !fresh, null));
        }
        catch (ArgumentException e)
        {
            _log.Warning("{0} refused embedding batch [{1}] of run [{2}]: {3}", _entityId, batch.Sequence, batch.Run, e.Message);
            Sender.Tell(new ItemEmbeddingsAccepted(batch.Run, _shard, batch.Sequence, _embeddings.Count, false, $"Shard {_entityId}: {e.Message}"));
        }
    }

    private void HandleGetProjectionSums(GetProjectionSums get)
    {
        string? why = _block is null || _block.Run != get.Run ? $"holds no trained run '{get.Run}' (it holds {(_block is null ? "none" : $"'{_block.Run}'")})."
            : _embeddings is null || _embeddings.Run != get.Run ? $"holds no embeddings of run '{get.Run}'."
            : _embeddings.Count != get.ExpectedEmbeddings ? $"holds {_embeddings.Count} embeddings of run '{get.Run}', expected {get.ExpectedEmbeddings}."
            : get.Weighting > (byte)ProjectionWeighting.Count ? $"does not know projection weighting {get.Weighting}."
            : null;
        if (why is not null)
        {
            Sender.Tell(new ProjectionSumsReport(get.Run, _shard, get.Validation, [], 0, 0, $"Shard {_entityId} {why}"));
            return;
        }
        var key = new SumsKey(get.Run, get.ValidationFraction, get.Weighting);
        if (_sums is { } job && job.Key == key)
        {
            if (job.Result is { } done)
            {
                Sender.Tell(Report(done, get.Validation));
            }
            else
            {
                job.Waiting.Add((Sender, get.Validation));
            }
            return;
        }
        _sums = new SumsJob(key);
        _sums.Waiting.Add((Sender, get.Validation));
        var block = _block!;
        var embeddings = _embeddings!;
        var weighting = (ProjectionWeighting)get.Weighting;
        // E^T E costs d^2 per warm item: off the mailbox. The block's factors are only replaced during training (a solve,
        // or the fixed side's move into a half-step's basis), and a trained run does not train again; the embeddings of a run only grow from batches of that run, which have all arrived.
        Task.Run(() => embeddings.Sums(block, key.Fraction, weighting))
            .PipeTo(Self, success: sums => new SumsComputed(key, sums, null),
                failure: e => new SumsComputed(key, null, (e is AggregateException a ? a.GetBaseException() : e).Message));
    }

    private void HandleSumsComputed(SumsComputed computed)
    {
        if (_sums is not { } job || job.Key != computed.Key)
        {
            return;
        }
        if (computed.Sums is null)
        {
            foreach (var (replyTo, validation) in job.Waiting)
            {
                replyTo.Tell(new ProjectionSumsReport(job.Key.Run, _shard, validation, [], 0, 0, $"Shard {_entityId}: {computed.Failure}"));
            }
            _sums = null;
            return;
        }
        job.Result = computed.Sums;
        foreach (var (replyTo, validation) in job.Waiting)
        {
            replyTo.Tell(Report(computed.Sums, validation));
        }
        job.Waiting.Clear();
        _log.Info("{0} projection sums of run [{1}]: [{2}] training and [{3}] validation items, [{4}] cold items", _entityId, job.Key.Run,
            computed.Sums.TrainItems, computed.Sums.ValidationItems, computed.Sums.ColdItems);
    }

    private ProjectionSumsReport Report(ShardProjectionSums sums, bool validation) => validation
        ? new ProjectionSumsReport(_sums!.Key.Run, _shard, true, sums.Validation.ToBytes(), sums.ValidationItems, sums.ColdItems, null)
        : new ProjectionSumsReport(_sums!.Key.Run, _shard, false, sums.Train.ToBytes(), sums.TrainItems, sums.ColdItems, null);

    private void HandleApplyProjection(ApplyProjection apply)
    {
        if (_block is null || _block.Run != apply.Run || _embeddings is null || _embeddings.Run != apply.Run)
        {
            Sender.Tell(new ProjectionApplied(apply.Run, _shard, 0, $"Shard {_entityId} holds no trained run '{apply.Run}' with embeddings."));
            return;
        }
        try
        {
            _cold = _embeddings.Project(_block, RidgeProjection.FromBytes(apply.Projection));
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            Sender.Tell(new ProjectionApplied(apply.Run, _shard, 0, $"Shard {_entityId}: {e.Message}"));
            return;
        }
        _log.Info("{0} gave [{1}] cold items of run [{2}] projected factors", _entityId, _cold.Count, apply.Run);
        Sender.Tell(new ProjectionApplied(apply.Run, _shard, _cold.Count, null));
    }

    private void HandleRank(RankShardItems rank)
    {
        if (_block is null || rank.Query.Length != _block.K)
        {
            Sender.Tell(new ShardTopK(_shard, [], [], [], _block is null ? $"Shard {_entityId} holds no model." : $"The query has {rank.Query.Length} values, the model {_block.K}."));
            return;
        }
        if (rank.K < 1 || Array.FindIndex(rank.Query, v => !float.IsFinite(v)) >= 0)
        {
            Sender.Tell(new ShardTopK(_shard, [], [], [], rank.K < 1 ? $"k = {rank.K} must be at least 1." : "The query vector has a value that is not a finite number."));
            return;
        }
        var trained = _block.TopK(rank.Query, rank.K, rank.Cosine, rank.Exclude);
        if (CurrentCold is not { Count: > 0 } cold)
        {
            Sender.Tell(trained);
            return;
        }
        var merged = RankMerge.Merge([trained, cold.TopK(rank.Query, rank.K, rank.Cosine, rank.Exclude)], rank.K);
        Sender.Tell(new ShardTopK(_shard, merged.Select(m => m.Index).ToArray(), merged.Select(m => m.Id).ToArray(), merged.Select(m => m.Score).ToArray(), null));
    }

    private void HandleGetColdItemVector(GetColdItemVector get)
    {
        var cold = CurrentCold;
        var c = cold?.IndexOf(get.Id) ?? -1;
        if (cold is null || c < 0)
        {
            Sender.Tell(new RowVector(get.Id, -1, [], [], $"'{get.Id}' is not in the model (neither trained nor a cold item with projected factors)."));
            return;
        }
        Sender.Tell(new RowVector(get.Id, cold.Globals[c], cold.Factors.AsSpan(c * cold.K, cold.K).ToArray(), [], null));
    }

    private void HandleGetColdItems(GetColdItems get)
    {
        if (CurrentCold is not { } cold || cold.Run != get.Run)
        {
            Sender.Tell(new ColdItemFactors(get.Run, _shard, 0, get.Offset, [], [], [], $"Shard {_entityId} has no projected cold items of run '{get.Run}'."));
            return;
        }
        var offset = Math.Clamp(get.Offset, 0, cold.Count);
        var n = Math.Clamp(get.MaxRows, 0, cold.Count - offset);
        Sender.Tell(new ColdItemFactors(get.Run, _shard, cold.Count, offset, cold.Ids.AsSpan(offset, n).ToArray(), cold.Globals.AsSpan(offset, n).ToArray(),
            cold.Factors.AsSpan(offset * cold.K, n * cold.K).ToArray(), null));
    }

    /// <summary>Which sums were asked for: the run, the validation fraction and the weighting.</summary>
    private sealed record SumsKey(string Run, double Fraction, byte Weighting);

    /// <summary>One computation of the sums and who waits for which part.</summary>
    private sealed class SumsJob(SumsKey key)
    {
        public SumsKey Key { get; } = key;
        public ShardProjectionSums? Result { get; set; }
        public List<(IActorRef ReplyTo, bool Validation)> Waiting { get; } = [];
    }

    /// <summary>The sums were computed on the thread pool (private result piped back to Self).</summary>
    private sealed record SumsComputed(SumsKey Key, ShardProjectionSums? Sums, string? Failure);
}
