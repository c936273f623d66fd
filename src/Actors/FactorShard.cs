using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>
/// A factor shard entity (<c>user-N</c> or <c>item-N</c>; one type for both sides): holds its rows' interactions, its
/// in-block / out-block routing and its factor rows (<see cref="ShardBlock"/>), and runs the shard's part of the
/// half-step protocol (DESIGN section 3). Solves run on the node's dedicated solver threads (<see cref="SolverScheduler"/>,
/// result piped back to the shard) so the mailbox, remoting and the cluster heartbeat stay responsive. Idempotent by (run, iteration, side): factor blocks that arrive before BeginHalfStep are buffered,
/// duplicates ignored, and a BeginHalfStep for a half-step already solved is answered with the stored reply.
/// </summary>
public sealed partial class FactorShard : ReceiveActor
{
    private readonly WalsSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<int, BlockCollector> _collectors = [];
    private readonly Dictionary<int, HalfStepCompleted> _completed = [];
    private readonly string _entityId;
    private readonly Side _side;
    private readonly int _shard;
    private IActorRef? _region;
    private IngestBuffer? _ingest;
    private ShardBlock? _block;
    private RunPrepared? _prepared;
    private BeginHalfStep? _pendingBegin;
    private IActorRef _coordinator = ActorRefs.Nobody;
    private int? _solving;

    public FactorShard(WalsSettings settings, IActorRef? region)
    {
        _settings = settings;
        _region = region;
        _entityId = Uri.UnescapeDataString(Self.Path.Name);
        (_side, _shard) = ShardNames.Parse(_entityId);
        Receive<InteractionBatch>(HandleBatch);
        Receive<PrepareRun>(HandlePrepare);
        Receive<BeginHalfStep>(HandleBegin);
        Receive<FactorBlock>(HandleBlock);
        Receive<LocalFactorRows>(HandleLocalRows);
        Receive<PublishFactors>(HandlePublish);
        Receive<Solved>(HandleSolved);
        Receive<SolveFailed>(HandleSolveFailed);
        Receive<GetShardFactors>(HandleGetFactors);
        Receive<GetShardStatus>(_ => Sender.Tell(Status()));
        Receive<GetRowVector>(HandleGetRowVector);
        Receive<GetFoldInTerms>(HandleFoldIn);
        ReceiveEmbeddingMessages();
    }

    /// <param name="settings">Cluster settings (block sizes).</param>
    /// <param name="region">Where factor blocks for other shards go: the shard region, or a test probe; null looks up
    /// the region <see cref="WalsSystem.ShardTypeName"/> of the actor system.</param>
    public static Props Props(WalsSettings settings, IActorRef? region = null) =>
        Akka.Actor.Props.Create(() => new FactorShard(settings, region));

    private IActorRef Region => _region ??= ClusterSharding.Get(Context.System).ShardRegion(WalsSystem.ShardTypeName);

    protected override void PreStart() => LocalShards.Register(Context.System, _entityId, Self);

    protected override void PostStop() => LocalShards.Unregister(Context.System, _entityId, Self);

    private void HandleBatch(InteractionBatch batch)
    {
        if (_block is not null && _block.Run == batch.Run)
        {
            // A late re-send after PrepareRun: everything of the run is in the block already.
            Sender.Tell(new InteractionBatchAccepted(batch.Run, _side, _shard, batch.Sequence, _block.Interactions.Pattern.NonZeros, true));
            return;
        }
        if (_ingest is null || _ingest.Run != batch.Run)
        {
            _ingest = new IngestBuffer(batch.Run);
        }
        var fresh = _ingest.Accept(batch);
        Sender.Tell(new InteractionBatchAccepted(batch.Run, _side, _shard, batch.Sequence, _ingest.Entries, !fresh));
    }

    private void HandlePrepare(PrepareRun prepare)
    {
        if (_prepared is not null && _prepared.Run == prepare.Run)
        {
            Sender.Tell(_prepared);
            return;
        }
        if ((_ingest is null || _ingest.Run != prepare.Run) && prepare.ExpectedRows == 0 && prepare.ExpectedEntries == 0)
        {
            // Ingestion sends nothing to a shard that none of the run's ids hash to (a small data set on many shards).
            _ingest = new IngestBuffer(prepare.Run);
        }
        if (_ingest is null || _ingest.Run != prepare.Run)
        {
            Sender.Tell(Failed($"holds no interactions of run '{prepare.Run}' (it has {(_ingest is null ? "none" : $"run '{_ingest.Run}'")})."));
            return;
        }
        if (_ingest.Rows != prepare.ExpectedRows || _ingest.Entries != prepare.ExpectedEntries)
        {
            Sender.Tell(Failed($"holds {_ingest.Rows} rows and {_ingest.Entries} interactions of run '{prepare.Run}', expected {prepare.ExpectedRows} and {prepare.ExpectedEntries}."));
            return;
        }
        ShardBlock block;
        try
        {
            block = ShardBlock.Build(_ingest, prepare);
        }
        catch (ArgumentException e)
        {
            Sender.Tell(Failed(e.Message));
            return;
        }
        block.AllocateBuffers();
        _block = block;
        // The block holds everything now; the ingestion lists (hundreds of MB on a large run) can go.
        _ingest = null;
        _collectors.Clear();
        _completed.Clear();
        _pendingBegin = null;
        _solving = null;
        _prepared = new RunPrepared(prepare.Run, _side, _shard, block.Rows, block.Interactions.Pattern.NonZeros,
            PackedSymmetric.Pack(block.Gram(block.Factors), block.K), block.Regularization(), null);
        _log.Info("{0} prepared run [{1}]: [{2}] rows, [{3}] interactions, in-block from [{4}] shards", _entityId, prepare.Run, block.Rows, block.Interactions.Pattern.NonZeros, block.InSources.Length);
        Sender.Tell(_prepared);

        RunPrepared Failed(string why) => new(prepare.Run, _side, _shard, 0, 0, [], 0, $"Shard {_entityId} {why}");
    }

    private void HandleBegin(BeginHalfStep begin)
    {
        if (_block is null || _block.Run != begin.Run)
        {
            Sender.Tell(FailedStep(begin.Run, begin.Iteration, $"Shard {_entityId} holds no prepared run '{begin.Run}'."));
            return;
        }
        if (_completed.TryGetValue(begin.Iteration, out var done))
        {
            Sender.Tell(done);
            return;
        }
        _coordinator = Sender;
        if (_solving == begin.Iteration)
        {
            return;
        }
        if (_block.Version != begin.Iteration - 1)
        {
            Sender.Tell(FailedStep(begin.Run, begin.Iteration, $"Shard {_entityId} is at iteration {_block.Version} and cannot solve iteration {begin.Iteration}."));
            return;
        }
        _pendingBegin = begin;
        TrySolve();
    }

    private void HandleBlock(FactorBlock block)
    {
        if (IsForThisHalfStep(block.Run, block.Iteration) is not { } collector)
        {
            return;
        }
        var fresh = collector.Accept(block);
        // The rows are copied out (or were already): the block's array goes back to the pool for the next publisher.
        BlockBuffers.Return(block.Values);
        if (fresh)
        {
            TrySolve();
        }
    }

    private void HandleLocalRows(LocalFactorRows rows)
    {
        // The array is the source shard's own factors: copied out here, never returned to the block pool.
        if (IsForThisHalfStep(rows.Run, rows.Iteration) is { } collector && collector.Accept(rows))
        {
            TrySolve();
        }
    }

    /// <summary>The collector for rows of (run, iteration), or null when they are for another run or an old half-step.</summary>
    private BlockCollector? IsForThisHalfStep(string run, int iteration)
    {
        if (_block is null || _block.Run != run)
        {
            _log.Debug("{0} ignores factor rows of run [{1}] (holds [{2}])", _entityId, run, _block?.Run);
            return null;
        }
        if (iteration <= _block.Version || _completed.ContainsKey(iteration))
        {
            return null;
        }
        return CollectorFor(_block, iteration);
    }

    private void TrySolve()
    {
        if (_pendingBegin is not { } begin || _block is not { } block || _solving is not null)
        {
            return;
        }
        var collector = CollectorFor(block, begin.Iteration);
        if (!collector.IsComplete)
        {
            return;
        }
        _solving = begin.Iteration;
        var k = block.K;
        var gram = PackedSymmetric.Unpack(begin.Gram, k);
        var run = begin.Run;
        var iteration = begin.Iteration;
        var evaluate = begin.EvaluateOnly;
        var fixedCount = begin.FixedCount;
        var rotation = begin.Rotation;
        var eigenvalues = begin.Eigenvalues;
        if (!evaluate && block.Options.Solver == WalsSolver.ConjugateGradient && (rotation.Length != k * k || eigenvalues.Length != k))
        {
            Finish(FailedStep(run, iteration, $"Shard {_entityId}: BeginHalfStep of iteration {iteration} carries a rotation of {rotation.Length} and {eigenvalues.Length} eigenvalues; the CG solver needs {k * k} and {k}."));
            return;
        }
        var current = block.Factors;
        var spare = block.SpareFactors;
        SolverScheduler.For(Context.System, _settings).RunSolve(() =>
        {
            if (evaluate)
            {
                var own = block.Gram(current);
                return new Solved(run, iteration, null, block.Evaluate(collector.Buffer, gram, own), own);
            }
            var threads = block.Options.EffectiveThreads;
            // The loss after each iteration comes from its item half-step (the rules of Core's WalsTrainer).
            var lossAfter = _side == Side.Items;
            HalfStepResult result;
            if (block.Options.Solver == WalsSolver.Cholesky)
            {
                current.AsSpan().CopyTo(spare);
                result = HalfStep.SolveCholesky(block.Interactions, collector.Buffer, gram, spare, fixedCount, block.Options, lossAfter);
            }
            else
            {
                // The fixed rows arrived in the half-step's eigenbasis (their shards moved into it: ShardBlock.AdoptBasis);
                // rotate our warm start into it too (x' = x Q), run CG there and keep the solution in that basis.
                // Rows that start from zero skip the rotation (the first user half-step starts warm, as the engine's).
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var zeroStart = block.Options.StartsFromZero(_side == Side.Users, iteration);
                if (!zeroStart)
                {
                    ShardBlock.Rotate(current, spare, block.Rows, k, rotation, threads);
                }
                var cg = HalfStep.SolveConjugateGradientInEigenbasis(block.Interactions, collector.Buffer, eigenvalues, spare, fixedCount, block.Options, zeroStart, lossAfter);
                result = cg with { Seconds = watch.Elapsed.TotalSeconds };
                if (iteration >= block.Options.Iterations)
                {
                    // The run's last solve on this side: the rounded copy of the fixed rows (bfloat16 or int8, kept with the
                    // buffer between half-steps) is not needed by the queries that follow, so it does not stay in memory.
                    HalfStep.ReleaseGatherCopies(collector.Buffer);
                }
            }
            return new Solved(run, iteration, spare, result, block.Gram(spare));
        }).PipeTo(Self, failure: e => new SolveFailed(run, iteration, (e is AggregateException a ? a.GetBaseException() : e).Message));
    }

    /// <summary>The collector of <paramref name="iteration"/>; the next half-step's reuses the shard's block buffer.</summary>
    private BlockCollector CollectorFor(ShardBlock block, int iteration)
    {
        if (!_collectors.TryGetValue(iteration, out var collector))
        {
            collector = new BlockCollector(block, iteration, iteration == block.Version + 1 ? block.FixedBuffer : null);
            _collectors[iteration] = collector;
        }
        return collector;
    }

    private void HandleSolved(Solved solved)
    {
        if (_block is null || _block.Run != solved.Run || _solving != solved.Iteration)
        {
            return;
        }
        if (solved.Factors is not null)
        {
            _block.ReplaceFactors(solved.Factors, solved.Iteration);
        }
        var r = solved.Result;
        var reply = new HalfStepCompleted(solved.Run, solved.Iteration, _side, _shard, r.Rows, PackedSymmetric.Pack(solved.Gram, _block.K),
            r.ObservedLoss, r.ImplicitLoss, r.RegularizationBefore, r.RegularizationAfter, r.Seconds, null, r.LossAfter);
        Finish(reply);
        _log.Debug("{0} solved iteration [{1}] in [{2:F3}] s", _entityId, solved.Iteration, r.Seconds);
    }

    private void HandleSolveFailed(SolveFailed failed)
    {
        if (_block is null || _block.Run != failed.Run || _solving != failed.Iteration)
        {
            return;
        }
        _log.Warning("{0} failed iteration [{1}]: {2}", _entityId, failed.Iteration, failed.Reason);
        Finish(FailedStep(failed.Run, failed.Iteration, $"Shard {_entityId}: {failed.Reason}"));
    }

    private void Finish(HalfStepCompleted reply)
    {
        _completed[reply.Iteration] = reply;
        foreach (var done in _collectors.Keys.Where(i => i <= reply.Iteration).ToList())
        {
            _collectors.Remove(done);
        }
        _solving = null;
        _pendingBegin = null;
        _coordinator.Tell(reply);
    }

    private HalfStepCompleted FailedStep(string run, int iteration, string why) =>
        new(run, iteration, _side, _shard, 0, [], 0, 0, 0, 0, 0, why);

    private void HandlePublish(PublishFactors publish)
    {
        if (_block is null || _block.Run != publish.Run)
        {
            _log.Warning("{0} cannot publish run [{1}]: it holds [{2}]", _entityId, publish.Run, _block?.Run);
            return;
        }
        // Users solving iteration t need item factors after iteration t-1; items solving t need user factors after t.
        var required = publish.Solving == Side.Users ? publish.Iteration - 1 : publish.Iteration;
        if (_block.Version != required)
        {
            _log.Debug("{0} ignores PublishFactors for iteration [{1}] [{2}]: its factors are at iteration [{3}]", _entityId, publish.Iteration, publish.Solving, _block.Version);
            return;
        }
        var k = _block.K;
        if (publish.Rotation.Length != 0 && publish.Rotation.Length != k * k)
        {
            _log.Warning("{0} ignores PublishFactors for iteration [{1}] [{2}]: its rotation has {3} values, k = {4}", _entityId, publish.Iteration, publish.Solving, publish.Rotation.Length, k);
            return;
        }
        var rowsPerPart = Math.Max(1, _settings.FactorBlockBytes / (4 * (k + 1)));
        int blocks = 0;
        long rows = 0, bytes = 0;
        var factors = _block.AdoptBasis(publish.Rotation, publish.Iteration, publish.Solving);
        for (var t = 0; t < _block.OutBlocks.Length; t++)
        {
            var local = _block.OutBlocks[t];
            if (local.Length == 0 || (publish.Targets.Length > 0 && Array.IndexOf(publish.Targets, t) < 0))
            {
                continue;
            }
            // Same actor system: one reference to our factors instead of copied blocks (counted as the blocks it replaces).
            var localTarget = LocalShards.Find(Context.System, publish.Solving, t);
            if (localTarget is not null)
            {
                localTarget.Tell(new LocalFactorRows(publish.Run, publish.Iteration, publish.Solving, t, _shard, GlobalsOf(local), local, factors), Self);
                LocalShards.CountHandedOver(local.Length);
            }
            var parts = (local.Length + rowsPerPart - 1) / rowsPerPart;
            for (var part = 0; part < parts; part++)
            {
                var start = part * rowsPerPart;
                var n = Math.Min(rowsPerPart, local.Length - start);
                blocks++;
                rows += n;
                bytes += WalsSerializer.FactorBlockSize(publish.Run, n, k);
                if (localTarget is null)
                {
                    Region.Tell(Block(publish, t, part, parts, start, local.AsSpan(start, n), factors), Self);
                }
            }
        }
        Sender.Tell(new FactorsPublished(publish.Run, publish.Iteration, publish.Solving, _side, _shard, blocks, rows, bytes));
    }

    /// <summary>Part <paramref name="part"/> of the out-block for shard <paramref name="target"/>: the rows copied into a pooled array.</summary>
    private FactorBlock Block(PublishFactors publish, int target, int part, int parts, int start, ReadOnlySpan<int> localRows, float[] factors)
    {
        var k = _block!.K;
        var values = BlockBuffers.Rent(localRows.Length * k);
        for (var j = 0; j < localRows.Length; j++)
        {
            factors.AsSpan(localRows[j] * k, k).CopyTo(values.AsSpan(j * k, k));
        }
        return new FactorBlock(publish.Run, publish.Iteration, publish.Solving, target, _shard, part, parts, start, GlobalsOf(localRows), values);
    }

    /// <summary>The global indices of local rows <paramref name="localRows"/>.</summary>
    private int[] GlobalsOf(ReadOnlySpan<int> localRows)
    {
        var globals = GC.AllocateUninitializedArray<int>(localRows.Length);
        for (var j = 0; j < localRows.Length; j++)
        {
            globals[j] = _block!.RowGlobals[localRows[j]];
        }
        return globals;
    }

    private void HandleGetFactors(GetShardFactors get)
    {
        if (_block is null || _block.Run != get.Run)
        {
            Sender.Tell(new ShardFactors(get.Run, _side, _shard, 0, get.Offset, [], [], $"Shard {_entityId} holds no run '{get.Run}'."));
            return;
        }
        var k = _block.K;
        var offset = Math.Clamp(get.Offset, 0, _block.Rows);
        var n = Math.Clamp(get.MaxRows, 0, _block.Rows - offset);
        Sender.Tell(new ShardFactors(get.Run, _side, _shard, _block.Rows, offset, _block.RowGlobals.AsSpan(offset, n).ToArray(),
            _block.Factors.AsSpan(offset * k, n * k).ToArray(), null));
    }

    private ShardStatus Status()
    {
        var address = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();
        var phase = _block is null ? (_ingest is null ? "empty" : "ingesting") : _solving is not null ? "solving" : "ready";
        return new ShardStatus(_side, _shard, address, _block?.Run ?? _ingest?.Run, _block?.Rows ?? _ingest?.Rows ?? 0,
            _block?.Interactions.Pattern.NonZeros ?? _ingest?.Entries ?? 0, _block?.Version ?? 0, phase);
    }

    private void HandleGetRowVector(GetRowVector get)
    {
        var row = _block?.LocalRowOf(get.Id) ?? -1;
        if (_block is null || row < 0)
        {
            Sender.Tell(new RowVector(get.Id, -1, [], [], _block is null ? $"Shard {_entityId} holds no model." : $"'{get.Id}' is not in the model."));
            return;
        }
        var k = _block.K;
        Sender.Tell(new RowVector(get.Id, _block.RowGlobals[row], _block.Factors.AsSpan(row * k, k).ToArray(), _block.InteractionsOf(row), null));
    }

    private void HandleFoldIn(GetFoldInTerms get)
    {
        if (_block is null || get.Items.Length != get.Values.Length)
        {
            Sender.Tell(new FoldInTerms(_shard, [], [], [], [], 0, 0, 0, 0, _block is null ? $"Shard {_entityId} holds no model." : "Items and values differ in length."));
            return;
        }
        if (Array.FindIndex(get.Values, v => !float.IsFinite(v)) is var bad and >= 0)
        {
            Sender.Tell(FoldInFailure($"The value of item '{get.Items[bad]}' is {get.Values[bad]}, not a finite number."));
            return;
        }
        try
        {
            Sender.Tell(_block.FoldIn(get.Items, get.Values, CurrentCold));
        }
        catch (ArgumentException e)
        {
            // A query must never restart the shard (its trained block would be lost): it is answered as a failure.
            _log.Warning("{0} could not fold in [{1}] items: {2}", _entityId, get.Items.Length, e.Message);
            Sender.Tell(FoldInFailure($"Shard {_entityId}: {e.Message}"));
        }
    }

    private FoldInTerms FoldInFailure(string why) => new(_shard, [], [], [], [], 0, 0, 0, 0, why);

    /// <summary>A solve finished on the solver threads (private result piped back to Self).</summary>
    private sealed record Solved(string Run, int Iteration, float[]? Factors, HalfStepResult Result, double[] Gram);

    /// <summary>A solve threw (non-finite factors, a bug).</summary>
    private sealed record SolveFailed(string Run, int Iteration, string Reason);
}
