using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Ranking;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// Which warm items hold out for choosing the projection's mu: a stable hash of the item id below
/// <c>fraction x 2^32</c>. The hash is FNV-1a of the UTF-8 id followed by MurmurHash3's 32-bit finaliser: FNV-1a alone
/// hardly moves its top bits when only the last characters differ (item41, item42, ...), so its value is not uniform
/// over such ids; the finaliser spreads every input bit over the whole word. The same on every shard, every process and
/// in the tests' local reference, and unrelated to the shard assignment (FNV-1a mod I).
/// </summary>
public static class ProjectionSplit
{
    public static bool IsValidation(string id, double fraction) => Hash(id) < fraction * 4294967296.0;

    public static uint Hash(string id)
    {
        var h = StableHash.Fnv1a(id);
        h ^= h >> 16;
        h = unchecked(h * 0x85EBCA6B);
        h ^= h >> 13;
        h = unchecked(h * 0xC2B2AE35);
        h ^= h >> 16;
        return h;
    }
}

/// <summary>One item shard's part of the projection's sums: training and validation parts and the counts.</summary>
public sealed record ShardProjectionSums(ProjectionSums Train, ProjectionSums Validation, int TrainItems, int ValidationItems, int ColdItems);

/// <summary>
/// The text embeddings an item shard received for one run (<see cref="ItemEmbeddingBatch"/>es, idempotent by sequence
/// number), kept apart from the run's <see cref="ShardBlock"/>: embeddings may arrive before the block is built. Joined
/// with the block once it is trained: an embedded item that is a row of the block with at least one interaction is warm
/// (it enters the projection's sums), one that is no row of the block is cold (it gets factors W^T e + b from
/// <see cref="Project"/>). Only the actor that owns it touches it.
/// </summary>
public sealed class ShardEmbeddings
{
    private readonly HashSet<int> _sequences = [];
    private readonly IdMap _ids = new();
    private readonly List<int> _globals = [];
    private readonly List<float> _vectors = [];

    public ShardEmbeddings(string run, int shard)
    {
        Run = run;
        Shard = shard;
    }

    public string Run { get; }

    public int Shard { get; }

    /// <summary>d, fixed by the first batch (0 before).</summary>
    public int Dimension { get; private set; }

    public int Count => _ids.Count;

    /// <summary>Adds a batch unless its sequence was seen (false). Throws <see cref="ArgumentException"/> naming the problem
    /// for a batch of another shard or run, another dimension, or an id already stored; nothing is stored then.</summary>
    public bool Accept(ItemEmbeddingBatch batch)
    {
        if (batch.Run != Run || batch.Shard != Shard)
        {
            throw new ArgumentException($"Embedding batch {batch.Sequence} of run '{batch.Run}' for item-{batch.Shard} offered to item-{Shard} of run '{Run}'.");
        }
        if (_sequences.Contains(batch.Sequence))
        {
            return false;
        }
        var n = batch.Ids.Length;
        if (batch.Globals.Length != n || batch.Dimension < 1 || batch.Vectors.Length != (long)n * batch.Dimension)
        {
            throw new ArgumentException($"Embedding batch {batch.Sequence}: {n} ids, {batch.Globals.Length} global indices and {batch.Vectors.Length} values of dimension {batch.Dimension} do not match.");
        }
        if (Dimension != 0 && batch.Dimension != Dimension)
        {
            throw new ArgumentException($"Embedding batch {batch.Sequence} has vectors of dimension {batch.Dimension}, the run's earlier batches {Dimension}: every embedder of the cluster must use the same encoder.");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in batch.Ids)
        {
            if (StableHash.ShardOf(id, batch.ItemShards) != Shard)
            {
                throw new ArgumentException($"Embedding batch {batch.Sequence}: item '{id}' belongs to item-{StableHash.ShardOf(id, batch.ItemShards)} of {batch.ItemShards}, not item-{Shard}.");
            }
            if (_ids.Contains(id) || !seen.Add(id))
            {
                throw new ArgumentException($"Embedding batch {batch.Sequence}: item '{id}' was already sent in another batch of run '{Run}'.");
            }
        }
        if (!batch.Vectors.All(float.IsFinite))
        {
            throw new ArgumentException($"Embedding batch {batch.Sequence} has a non-finite vector value.");
        }
        Dimension = batch.Dimension;
        _sequences.Add(batch.Sequence);
        for (var j = 0; j < n; j++)
        {
            _ids.GetOrAdd(batch.Ids[j]);
            _globals.Add(batch.Globals[j]);
        }
        _vectors.AddRange(batch.Vectors);
        return true;
    }

    /// <summary>Row r's vector.</summary>
    public ReadOnlySpan<float> Vector(int row) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_vectors).Slice(row * Dimension, Dimension);

    /// <summary>
    /// The training and validation sums over the warm items (embedded rows of <paramref name="block"/> with at least one
    /// interaction; split by <see cref="ProjectionSplit"/>), each item counted <see cref="ProjectionTraining.Weight"/>
    /// times. Embedded rows of the block without interactions enter neither part nor the cold items (they keep their
    /// trained factors, as in the single-process <c>ProjectionTraining</c>). Throws when an embedded item's global index
    /// differs from the block's.
    /// </summary>
    public ShardProjectionSums Sums(ShardBlock block, double validationFraction, ProjectionWeighting weighting)
    {
        var k = block.K;
        var train = new ProjectionSums(Math.Max(1, Dimension), k);
        var validation = new ProjectionSums(Math.Max(1, Dimension), k);
        int trainItems = 0, validationItems = 0, cold = 0;
        var pattern = block.Interactions.Pattern;
        for (var j = 0; j < _ids.Count; j++)
        {
            var row = block.LocalRowOf(_ids[j]);
            if (row < 0)
            {
                cold++;
                continue;
            }
            if (block.RowGlobals[row] != _globals[j])
            {
                throw new ArgumentException($"Item '{_ids[j]}' was embedded as global index {_globals[j]} but is row {block.RowGlobals[row]} of run '{Run}'.");
            }
            var interactions = pattern.RowStart[row + 1] - pattern.RowStart[row];
            if (interactions == 0)
            {
                continue;
            }
            var held = ProjectionSplit.IsValidation(_ids[j], validationFraction);
            var sums = held ? validation : train;
            if (held)
            {
                validationItems++;
            }
            else
            {
                trainItems++;
            }
            var y = block.Factors.AsSpan(row * k, k);
            sums.Add(Vector(j), y, ProjectionTraining.Weight(weighting, interactions));
        }
        return new ShardProjectionSums(train, validation, trainItems, validationItems, cold);
    }

    /// <summary>
    /// The cold items (embedded, not rows of <paramref name="block"/>) with factors y = W^T e + b, in global order. Embedded
    /// rows of the block without interactions (items whose interactions are all in a test part) get y = W^T e + b in the
    /// block itself, as the single-process <c>ProjectionTraining.Attach</c> gives them: training left them near 0.
    /// </summary>
    public ColdItems Project(ShardBlock block, RidgeProjection projection)
    {
        if (projection.D != Dimension || projection.K != block.K)
        {
            throw new ArgumentException($"The projection maps {projection.D} -> {projection.K}; item-{Shard} holds {Dimension}-dimensional embeddings and k = {block.K}.");
        }
        var pattern = block.Interactions.Pattern;
        var y = new float[block.K];
        var cold = new List<int>();
        for (var j = 0; j < _ids.Count; j++)
        {
            var row = block.LocalRowOf(_ids[j]);
            if (row < 0)
            {
                cold.Add(j);
            }
            else if (pattern.RowStart[row + 1] == pattern.RowStart[row])
            {
                projection.Apply(Vector(j), y);
                block.SetRowFactors(row, y);
            }
        }
        var rows = cold.OrderBy(j => _globals[j]).ToArray();
        var k = block.K;
        var factors = new float[(long)rows.Length * k];
        for (var c = 0; c < rows.Length; c++)
        {
            projection.Apply(Vector(rows[c]), factors.AsSpan(c * k, k));
        }
        return new ColdItems(Run, Shard, rows.Select(j => _ids[j]).ToArray(), rows.Select(j => _globals[j]).ToArray(), factors, k);
    }
}

/// <summary>An item shard's cold items of one run with their projected factors, ranked like the trained rows.</summary>
public sealed class ColdItems
{
    private readonly IdMap _indexOf;
    private FactorRanker? _ranker;

    public ColdItems(string run, int shard, string[] ids, int[] globals, float[] factors, int k)
    {
        Run = run;
        Shard = shard;
        Ids = ids;
        Globals = globals;
        Factors = factors;
        K = k;
        _indexOf = new IdMap(ids);
    }

    public string Run { get; }
    public int Shard { get; }

    /// <summary>Ids in ascending global order.</summary>
    public string[] Ids { get; }

    /// <summary>Global indices, ascending.</summary>
    public int[] Globals { get; }

    /// <summary>Factors, Ids.Length x k.</summary>
    public float[] Factors { get; }

    public int K { get; }

    public int Count => Ids.Length;

    public int IndexOf(string id) => _indexOf.IndexOf(id);

    /// <summary>Y_c^T Y_c of the cold items' factors, packed (computed once; the factors never change).</summary>
    public double[] PackedGram => _gram ??= ComputeGram();

    private double[]? _gram;

    private double[] ComputeGram()
    {
        var gram = new double[K * K];
        MatrixKernels.AddGram(Factors, Count, K, gram, 1);
        return PackedSymmetric.Pack(gram, K);
    }

    /// <summary>The top <paramref name="k"/> cold items by dot product or cosine, leaving out <paramref name="sortedGlobalExclude"/>.</summary>
    public ShardTopK TopK(float[] query, int k, bool cosine, int[] sortedGlobalExclude)
    {
        if (Count == 0)
        {
            return new ShardTopK(Shard, [], [], [], null);
        }
        _ranker ??= new FactorRanker([], 0, Factors, Count, K);
        var exclude = sortedGlobalExclude.Select(g => Array.BinarySearch(Globals, g)).Where(c => c >= 0).ToArray();
        var top = cosine ? _ranker.SimilarItems(query, k, exclude) : _ranker.Recommend(query, k, exclude);
        return new ShardTopK(Shard, top.Select(s => Globals[s.Item]).ToArray(), top.Select(s => Ids[s.Item]).ToArray(), top.Select(s => s.Score).ToArray(), null);
    }
}
