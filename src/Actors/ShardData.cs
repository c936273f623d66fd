using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>The interactions one shard has received for a run, before <see cref="PrepareRun"/> turns them into a <see cref="ShardBlock"/>.</summary>
public sealed class IngestBuffer
{
    private readonly HashSet<int> _sequences = [];
    private readonly Dictionary<int, string> _rowIds = [];
    private readonly List<int> _rows = [];
    private readonly List<int> _columns = [];
    private readonly List<int> _columnShards = [];
    private readonly List<float> _values = [];

    public IngestBuffer(string run) => Run = run;

    public string Run { get; }

    public long Entries => _values.Count;

    public int Rows => _rowIds.Count;

    /// <summary>Adds a batch unless its sequence number was seen; returns false for a duplicate.</summary>
    public bool Accept(InteractionBatch batch)
    {
        if (batch.Run != Run)
        {
            throw new ArgumentException($"Batch of run '{batch.Run}' offered to the buffer of run '{Run}'.");
        }
        if (batch.RowGlobals.Length != batch.RowIds.Length
            || batch.EntryRows.Length != batch.EntryColumns.Length || batch.EntryRows.Length != batch.EntryColumnShards.Length || batch.EntryRows.Length != batch.Values.Length)
        {
            throw new ArgumentException($"Batch {batch.Sequence} of run '{Run}' has arrays of different lengths.");
        }
        if (!_sequences.Add(batch.Sequence))
        {
            return false;
        }
        for (var j = 0; j < batch.RowGlobals.Length; j++)
        {
            _rowIds[batch.RowGlobals[j]] = batch.RowIds[j];
        }
        _rows.AddRange(batch.EntryRows);
        _columns.AddRange(batch.EntryColumns);
        _columnShards.AddRange(batch.EntryColumnShards);
        _values.AddRange(batch.Values);
        return true;
    }

    internal IReadOnlyDictionary<int, string> RowIds => _rowIds;
    internal List<int> EntryRows => _rows;
    internal List<int> EntryColumns => _columns;
    internal List<int> EntryColumnShards => _columnShards;
    internal List<float> Values => _values;
}

/// <summary>
/// One shard's block of a run: its rows (sorted by global index; local row r is global <see cref="RowGlobals"/>[r]), its
/// weighted interactions as a LOCAL CSR whose columns are positions in <see cref="FixedGlobals"/> (the other side's rows it
/// needs, ascending; the buffer a half-step's factor blocks are copied into), the in-block (shards of the other side that
/// send it rows), the out-block (for each shard of the other side, which of its local rows that shard needs) and its
/// factor rows. Only the actor that owns it touches it.
/// </summary>
public sealed class ShardBlock
{
    private readonly IdMap _idIndex;
    private FactorRanker? _ranker;
    private float[] _factors;
    private float[]? _spare;
    private float[]? _rotated;
    private float[]? _fixedBuffer;
    private (int Iteration, Side Solving)? _adoptedBasis;

    private ShardBlock(
        string run, Side side, int shard, WalsOptions options, int ownCount, int otherCount, int[] rowGlobals, string[] rowIds,
        int[] fixedGlobals, WeightedInteractions interactions, int[] inSources, int[][] outBlocks, int[][] inPositions, float[] factors)
    {
        Run = run;
        Side = side;
        Shard = shard;
        Options = options;
        OwnSideCount = ownCount;
        OtherSideCount = otherCount;
        RowGlobals = rowGlobals;
        RowIds = rowIds;
        FixedGlobals = fixedGlobals;
        Interactions = interactions;
        InSources = inSources;
        OutBlocks = outBlocks;
        InPositions = inPositions;
        _factors = factors;
        _idIndex = new IdMap(rowIds);
    }

    public string Run { get; }
    public Side Side { get; }
    public int Shard { get; }
    public WalsOptions Options { get; }
    public int K => Options.Factors;

    /// <summary>N of this shard's side (all shards together).</summary>
    public int OwnSideCount { get; }

    /// <summary>N_F of the other side, which enters lambda_u = lambda (n_u + w0 N_F)^nu.</summary>
    public int OtherSideCount { get; }

    public int[] RowGlobals { get; }
    public string[] RowIds { get; }
    public int[] FixedGlobals { get; }
    public WeightedInteractions Interactions { get; }
    public int[] InSources { get; }
    public int[][] OutBlocks { get; }

    /// <summary>For each shard t of the other side, the positions in <see cref="FixedGlobals"/> of the rows t sends
    /// (ascending, which is t's out-block order): row j of t's out-block lands at InPositions[t][j].</summary>
    public int[][] InPositions { get; }

    public int Rows => RowGlobals.Length;

    /// <summary>
    /// The buffer the factor blocks of the next half-step are copied into (FixedGlobals.Length x k), allocated once per run
    /// and reused: in a correct run the blocks of half-step t + 1 are only published after this shard finished t.
    /// </summary>
    public float[] FixedBuffer => _fixedBuffer ??= FactorArrays.Allocate(checked((long)FixedGlobals.Length * K));

    /// <summary>A second factor array (Rows x k) a solve writes into; <see cref="ReplaceFactors"/> swaps it with the current one.</summary>
    public float[] SpareFactors => _spare ??= FactorArrays.Allocate(_factors.Length);

    /// <summary>
    /// Allocates the per-run buffers (block buffer, spare factors, and with the CG solver the array the factors are rotated
    /// into, <see cref="AdoptBasis"/>) now, at PrepareRun, rather than in the first half-step (each is faulted in as it is
    /// zeroed). Like the engine's factor matrices they are <see cref="FactorArrays"/> (huge pages advised on Linux): the
    /// solves read the fixed-side buffer's rows in random order.
    /// </summary>
    public void AllocateBuffers()
    {
        _ = FixedBuffer;
        _ = SpareFactors;
        if (Options.Solver == WalsSolver.ConjugateGradient)
        {
            _rotated ??= FactorArrays.Allocate(_factors.Length);
        }
    }

    /// <summary>
    /// Moves the factors into the eigenbasis of a half-step in which this shard is the fixed side, and returns them: the
    /// factors become themselves times <paramref name="rotation"/> (k x k), as the single-process trainer rotates its fixed
    /// side in place. The solving side rotates its warm start by the same matrix and keeps its solution in that basis, so
    /// all shards are always in one common basis and no shard rotates back (scores x . y do not depend on the basis).
    /// Idempotent per (iteration, solving side): a re-sent PublishFactors does not rotate twice. An empty rotation (the
    /// Cholesky solver, the final evaluation) leaves the factors as they are.
    /// </summary>
    public float[] AdoptBasis(float[] rotation, int iteration, Side solving)
    {
        if (rotation.Length == 0 || _adoptedBasis == (iteration, solving))
        {
            return _factors;
        }
        _rotated ??= FactorArrays.Allocate(_factors.Length);
        Rotate(_factors, _rotated, Rows, K, rotation, Options.EffectiveThreads);
        (_factors, _rotated) = (_rotated, _factors);
        _adoptedBasis = (iteration, solving);
        _ranker = null;
        _foldInGram = null;
        return _factors;
    }

    /// <summary>destination (rows x k) = source (rows x k) * m (k x k), parallel over chunks of rows.</summary>
    public static void Rotate(float[] source, float[] destination, int rows, int k, float[] m, int threads)
    {
        const int chunkRows = 96;
        var chunks = (rows + chunkRows - 1) / chunkRows;
        Parallel.For(0, chunks, Core.Parallelism.Options(threads), chunk =>
        {
            var r0 = chunk * chunkRows;
            var n = Math.Min(chunkRows, rows - r0);
            MatrixKernels.Multiply(source.AsSpan(r0 * k, n * k), n, k, m, destination.AsSpan(r0 * k, n * k));
        });
    }

    /// <summary>
    /// The factor rows (Rows x k), in the common basis of the last half-step. Replaced (never mutated in place) by
    /// <see cref="ReplaceFactors"/> and <see cref="AdoptBasis"/>; a replaced array may be reused as scratch later, so
    /// readers copy what they keep.
    /// </summary>
    public float[] Factors => _factors;

    /// <summary>The last iteration this shard solved (0: initial factors).</summary>
    public int Version { get; private set; }

    /// <summary>Overwrites one row's factors (a row without interactions that gets y = W^T e + b from its text).</summary>
    public void SetRowFactors(int row, ReadOnlySpan<float> y)
    {
        y.CopyTo(_factors.AsSpan(row * K, K));
        _ranker = null;
        _foldInGram = null;
    }

    public void ReplaceFactors(float[] factors, int version)
    {
        if (factors.Length != _factors.Length)
        {
            throw new ArgumentException($"Shard {ShardNames.EntityId(Side, Shard)} got {factors.Length} factor values, expected {_factors.Length}.");
        }
        // The previous factors become the spare a later solve writes into (nothing else holds them: replies copy rows).
        _spare = ReferenceEquals(factors, _spare) ? _factors : null;
        _factors = factors;
        Version = version;
        _ranker = null;
        _foldInGram = null;
    }

    /// <summary>
    /// Builds the block from the ingested interactions: rows sorted by global index, initial factors from
    /// <see cref="WalsTrainer.InitialRow"/> (seed for users, seed + 1 for items, as the single-process trainer).
    /// </summary>
    public static ShardBlock Build(IngestBuffer buffer, PrepareRun prepare)
    {
        var options = prepare.Parameters.ToOptions();
        var side = prepare.Side;
        var otherShards = side == Side.Users ? prepare.ItemShards : prepare.UserShards;
        var ownCount = side == Side.Users ? prepare.Users : prepare.Items;
        var otherCount = side == Side.Users ? prepare.Items : prepare.Users;
        var rowGlobals = buffer.RowIds.Keys.ToArray();
        Array.Sort(rowGlobals);
        var rowIds = rowGlobals.Select(g => buffer.RowIds[g]).ToArray();
        var n = buffer.EntryRows.Count;
        var fixedGlobals = buffer.EntryColumns.Distinct().ToArray();
        Array.Sort(fixedGlobals);
        var localRows = new int[n];
        var localColumns = new int[n];
        var outSets = new HashSet<int>[otherShards];
        for (var e = 0; e < n; e++)
        {
            var r = Array.BinarySearch(rowGlobals, buffer.EntryRows[e]);
            if (r < 0)
            {
                throw new ArgumentException($"Shard {ShardNames.EntityId(side, prepare.Shard)}: entry {e} has row {buffer.EntryRows[e]}, which no batch declared.");
            }
            var target = buffer.EntryColumnShards[e];
            if ((uint)target >= (uint)otherShards)
            {
                throw new ArgumentException($"Shard {ShardNames.EntityId(side, prepare.Shard)}: entry {e} names shard {target} of the other side, which has {otherShards}.");
            }
            localRows[e] = r;
            localColumns[e] = Array.BinarySearch(fixedGlobals, buffer.EntryColumns[e]);
            (outSets[target] ??= []).Add(r);
        }
        var csr = CsrMatrix.FromCoordinates(rowGlobals.Length, fixedGlobals.Length, localRows, localColumns, buffer.Values.ToArray());
        var interactions = WeightedInteractions.Build(csr, options);
        var shardOfPosition = new int[fixedGlobals.Length];
        for (var e = 0; e < n; e++)
        {
            shardOfPosition[localColumns[e]] = buffer.EntryColumnShards[e];
        }
        var inCounts = new int[otherShards];
        foreach (var t in shardOfPosition)
        {
            inCounts[t]++;
        }
        var inPositions = new int[otherShards][];
        for (var t = 0; t < otherShards; t++)
        {
            inPositions[t] = new int[inCounts[t]];
        }
        var filled = new int[otherShards];
        for (var p = 0; p < fixedGlobals.Length; p++)
        {
            var t = shardOfPosition[p];
            inPositions[t][filled[t]++] = p;
        }
        var outBlocks = new int[otherShards][];
        var inSources = new List<int>();
        for (var t = 0; t < otherShards; t++)
        {
            var rows = outSets[t]?.ToArray() ?? [];
            Array.Sort(rows);
            outBlocks[t] = rows;
            if (rows.Length > 0)
            {
                // Interactions are stored at both ends, so the shards that need my rows are exactly those that send me theirs.
                inSources.Add(t);
            }
        }
        var k = options.Factors;
        var factors = FactorArrays.Allocate((long)rowGlobals.Length * k);
        var seed = side == Side.Users ? options.Seed : options.Seed + 1;
        for (var r = 0; r < rowGlobals.Length; r++)
        {
            WalsTrainer.InitialRow(seed, rowGlobals[r], options.InitScale, factors.AsSpan(r * k, k));
        }
        return new ShardBlock(prepare.Run, side, prepare.Shard, options, ownCount, otherCount, rowGlobals, rowIds, fixedGlobals, interactions, inSources.ToArray(), outBlocks, inPositions, factors);
    }

    /// <summary>X_s^T X_s of the given factors (k x k, full).</summary>
    public double[] Gram(float[] factors)
    {
        var gram = new double[K * K];
        MatrixKernels.AddGram(factors, Rows, K, gram, Options.EffectiveThreads);
        return gram;
    }

    /// <summary>sum_u lambda_u |x_u|^2 of the current factors.</summary>
    public double Regularization() => WalsTrainer.RegularizationOf(Interactions, _factors, OtherSideCount, Options);

    /// <summary>
    /// The loss terms of the current factors without solving (the final objective): observed sum c (p - t)^2 - w0 t^2 =
    /// Cp (1 - 2t) + Cw t^2 with t = x . y (rows in parallel), implicit w0 sum_u x_u^T G x_u = w0 tr(G X^T X) from the
    /// shard's own Gram matrix <paramref name="ownGram"/> (k^2 instead of k^2 per row), and sum lambda_u |x_u|^2.
    /// </summary>
    public HalfStepResult Evaluate(float[] fixedFactors, double[] gram, double[] ownGram)
    {
        var k = K;
        var observed = WalsTrainer.ObservedLoss(Interactions, _factors, fixedFactors, k, Options.EffectiveThreads);
        double implicitPart = 0;
        for (var i = 0; i < k * k; i++)
        {
            implicitPart += gram[i] * ownGram[i];
        }
        var reg = Regularization();
        return new HalfStepResult(Rows, observed, Options.UnobservedWeight * implicitPart, reg, reg, 0);
    }

    public int LocalRowOf(string id) => _idIndex.IndexOf(id);

    /// <summary>Global indices (ascending) of the other side's rows that local row <paramref name="row"/> interacted with.</summary>
    public int[] InteractionsOf(int row)
    {
        var columns = Interactions.Pattern.RowIndices(row);
        var globals = new int[columns.Length];
        for (var j = 0; j < columns.Length; j++)
        {
            globals[j] = FixedGlobals[columns[j]];
        }
        Array.Sort(globals);
        return globals;
    }

    /// <summary>
    /// This shard's top <paramref name="k"/> rows for a query vector, by dot product or cosine, with the single-process
    /// ranker's kernels. Local rows are in global order, so ties go to the lower global index as in the engine.
    /// </summary>
    public ShardTopK TopK(float[] query, int k, bool cosine, int[] sortedGlobalExclude)
    {
        _ranker ??= new FactorRanker([], 0, _factors, Rows, K);
        var exclude = new List<int>();
        foreach (var g in sortedGlobalExclude)
        {
            var local = Array.BinarySearch(RowGlobals, g);
            if (local >= 0)
            {
                exclude.Add(local);
            }
        }
        var top = cosine ? _ranker.SimilarItems(query, k, exclude.ToArray()) : _ranker.Recommend(query, k, exclude.ToArray());
        return new ShardTopK(Shard, top.Select(s => RowGlobals[s.Item]).ToArray(), top.Select(s => RowIds[s.Item]).ToArray(), top.Select(s => s.Score).ToArray(), null);
    }

    private double[]? _foldInGram;

    /// <summary>
    /// This shard's share of the fold-in normal equations for the given items: those it holds as trained rows or, with
    /// <paramref name="cold"/>, as cold items with projected factors (the saved model holds both); the others are listed
    /// in <see cref="FoldInTerms.Unknown"/>. The Gram covers the trained rows and the cold items, as the model file's
    /// item list does.
    /// </summary>
    public FoldInTerms FoldIn(string[] ids, float[] values, ColdItems? cold = null)
    {
        var k = K;
        var w0 = Options.UnobservedWeight;
        var lowRank = new double[k * k];
        var b = new double[k];
        var found = new List<int>();
        var unknown = new List<string>();
        for (var j = 0; j < ids.Length; j++)
        {
            ReadOnlySpan<float> y;
            if (LocalRowOf(ids[j]) is var r and >= 0)
            {
                found.Add(RowGlobals[r]);
                y = _factors.AsSpan(r * k, k);
            }
            else if (cold?.IndexOf(ids[j]) is { } c and >= 0)
            {
                found.Add(cold.Globals[c]);
                y = cold.Factors.AsSpan(c * k, k);
            }
            else
            {
                unknown.Add(ids[j]);
                continue;
            }
            var (confidence, p) = WeightedInteractions.Confidence(values[j], Options);
            for (var i = 0; i < k; i++)
            {
                b[i] += confidence * p * (double)y[i];
                for (var l = 0; l < k; l++)
                {
                    lowRank[i * k + l] += (confidence - w0) * (double)y[i] * y[l];
                }
            }
        }
        // The Gram of the current factors is the same for every query until they change (kept, never modified).
        _foldInGram ??= PackedSymmetric.Pack(Gram(_factors), k);
        var gram = _foldInGram;
        if (cold is { Count: > 0 })
        {
            gram = (double[])gram.Clone();
            PackedSymmetric.AddInto(gram, cold.PackedGram);
        }
        return new FoldInTerms(Shard, gram, PackedSymmetric.Pack(lowRank, k), b, found.ToArray(),
            w0, Options.Regularization, Options.RegularizationExponent, OwnSideCount, null, cold?.Count ?? 0, unknown.Count == 0 ? null : unknown.ToArray());
    }
}

/// <summary>
/// The factor rows a solving shard collects for one half-step: a buffer of <see cref="ShardBlock.FixedGlobals"/>.Length
/// rows filled from <see cref="FactorBlock"/>s, each row copied straight to its position (<see cref="ShardBlock.InPositions"/>
/// of the block's source at the block's offset) after checking that it is the row expected there. Duplicates are
/// ignored; complete when every in-block source sent all its parts and all its rows.
/// </summary>
public sealed class BlockCollector
{
    private readonly ShardBlock _block;
    private readonly Dictionary<int, int> _partsBySource = [];
    private readonly Dictionary<int, int> _receivedBySource = [];
    private readonly Dictionary<int, long> _rowsBySource = [];
    private readonly HashSet<(int Source, int Part)> _received = [];

    /// <param name="block">The shard's block.</param>
    /// <param name="iteration">The half-step's iteration.</param>
    /// <param name="buffer">Where the rows go (FixedGlobals.Length x k); a fresh array when null.</param>
    public BlockCollector(ShardBlock block, int iteration, float[]? buffer = null)
    {
        _block = block;
        Iteration = iteration;
        var length = (long)block.FixedGlobals.Length * block.K;
        Buffer = buffer ?? FactorArrays.Allocate(length);
        if (Buffer.Length != length)
        {
            throw new ArgumentException($"The collector buffer has {Buffer.Length} values, expected {length}.", nameof(buffer));
        }
    }

    public int Iteration { get; }

    public float[] Buffer { get; }

    public long BlocksReceived => _received.Count;

    public bool IsComplete => _block.InSources.All(s => _partsBySource.TryGetValue(s, out var parts) && _receivedBySource[s] == parts
        && _rowsBySource[s] == _block.InPositions[s].Length);

    /// <summary>Copies the block's rows into the buffer; false when this (source, part) was already received.</summary>
    public bool Accept(FactorBlock block)
    {
        var k = _block.K;
        if (block.Values.Length != (long)block.Rows.Length * k || block.Parts < 1 || (uint)block.Part >= (uint)block.Parts)
        {
            throw new ArgumentException($"Factor block from shard {block.SourceShard} part {block.Part}/{block.Parts} is malformed ({block.Rows.Length} rows, {block.Values.Length} values, k = {k}).");
        }
        return Accept(block.SourceShard, block.Part, block.Parts, block.Offset, block.Rows, block.Values, null);
    }

    /// <summary>
    /// Copies the rows of a same-process source (<see cref="LocalFactorRows"/>: its whole out-block as one part) straight
    /// from the source's factor array into the buffer; false when that source's rows were already received.
    /// </summary>
    internal bool Accept(LocalFactorRows rows)
    {
        var k = Math.Max(1, _block.K);
        var sourceRows = rows.Factors.Length / k;
        if (rows.SourceRows.Length != rows.Rows.Length || rows.Factors.Length % k != 0 || rows.SourceRows.Any(r => (uint)r >= (uint)sourceRows))
        {
            throw new ArgumentException($"Local factor rows from shard {rows.SourceShard} are malformed ({rows.Rows.Length} rows, {rows.SourceRows.Length} source rows, {rows.Factors.Length} values, k = {_block.K}).");
        }
        return Accept(rows.SourceShard, 0, 1, 0, rows.Rows, rows.Factors, rows.SourceRows);
    }

    /// <summary>
    /// Checks that rows[j] is the row expected at position offset + j of the source's out-block, then copies the values
    /// (row j at <paramref name="valueRows"/>[j] of <paramref name="values"/>, or at j when it is null) to their positions,
    /// in parallel for large parts.
    /// </summary>
    private bool Accept(int source, int part, int parts, int offset, int[] rows, float[] values, int[]? valueRows)
    {
        var k = _block.K;
        var positions = (uint)source < (uint)_block.InPositions.Length ? _block.InPositions[source] : [];
        if (offset < 0 || (long)offset + rows.Length > positions.Length)
        {
            throw new ArgumentException($"Factor block from shard {source} part {part}/{parts} covers rows {offset}..{(long)offset + rows.Length - 1} of its out-block, but shard {ShardNames.EntityId(_block.Side, _block.Shard)} expects {positions.Length} rows from it.");
        }
        if (_received.Contains((source, part)))
        {
            return false;
        }
        var fixedGlobals = _block.FixedGlobals;
        for (var j = 0; j < rows.Length; j++)
        {
            var position = positions[offset + j];
            if (fixedGlobals[position] != rows[j])
            {
                throw new ArgumentException($"Factor block from shard {source} carries row {rows[j]} at offset {offset + j}, where shard {ShardNames.EntityId(_block.Side, _block.Shard)} expects row {fixedGlobals[position]}.");
            }
        }
        const int chunkRows = 4096;
        var buffer = Buffer;
        var chunks = (rows.Length + chunkRows - 1) / chunkRows;
        Parallel.For(0, chunks, Core.Parallelism.Options(chunks > 1 ? _block.Options.EffectiveThreads : 1), chunk =>
        {
            var end = Math.Min(rows.Length, (chunk + 1) * chunkRows);
            for (var j = chunk * chunkRows; j < end; j++)
            {
                var from = valueRows is null ? j : valueRows[j];
                values.AsSpan(from * k, k).CopyTo(buffer.AsSpan(positions[offset + j] * k, k));
            }
        });
        _received.Add((source, part));
        _partsBySource[source] = parts;
        _receivedBySource[source] = _receivedBySource.GetValueOrDefault(source) + 1;
        _rowsBySource[source] = _rowsBySource.GetValueOrDefault(source) + rows.Length;
        return true;
    }
}
