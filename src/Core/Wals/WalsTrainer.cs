using System.Diagnostics;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Wals;

/// <summary>One completed iteration: the full objective after it and the time it took.</summary>
/// <param name="Iteration">1-based iteration number.</param>
/// <param name="Loss">The full objective (DESIGN section 1) at the factors after this iteration.</param>
/// <param name="Seconds">Wall time of the iteration's two half-steps (Gram matrices and rotations included).</param>
/// <param name="UserSeconds">Wall time of the user half-step.</param>
/// <param name="ItemSeconds">Wall time of the item half-step.</param>
public sealed record IterationReport(int Iteration, double Loss, double Seconds, double UserSeconds, double ItemSeconds);

/// <summary>Seconds spent in each phase of one CG half-step.</summary>
public readonly record struct PhaseTimes(double Gram, double Eigen, double Rotate, double Solve);

/// <summary>The factors a run produced and its history.</summary>
public sealed record TrainedFactors(int Users, int Items, int Factors, float[] UserFactors, float[] ItemFactors, double InitialLoss, IReadOnlyList<IterationReport> History)
{
    public double FinalLoss => History.Count > 0 ? History[^1].Loss : InitialLoss;
}

/// <summary>
/// The single-process WALS trainer: alternates user and item half-steps (<see cref="HalfStep"/>) on all cores.
///
/// With the CG solver both factor matrices are kept in the eigenbasis of the fixed side's Gram matrix: before
/// each half-step, G_F = F^T F is formed (a blocked GEMM), diagonalised (G_F = Q L Q^T, k^3) and both sides are
/// rotated by Q (two GEMMs). Scores x . y are invariant under the common rotation, so the model is the same
/// model; only its basis moves.
///
/// The loss of the factors after iteration t is known at the end of its item half-step, at O(k) per item row: with the
/// user factors fixed, an item row's share of the objective is l(y) = sum c p + y^T A y - 2 b^T y, known at the row's
/// start (the first pass computes its observed terms anyway) and changed by a known amount by each CG step (Cholesky:
/// l = sum c p - b^T y at the exact solution); with the users' regularization that is the whole objective, so no pass
/// is needed after the last iteration. The first user half-step's first pass gives the initial loss.
/// With <see cref="WalsOptions.ZeroStart"/> the rows that start from zero are not rotated (the first user half-step
/// starts warm anyway, for the initial loss).
/// </summary>
public sealed class WalsTrainer
{
    private readonly WalsOptions _options;

    /// <summary>Receives the time of each phase of every CG half-step (for benchmarks and profiling).</summary>
    public Action<PhaseTimes>? PhaseTimes { get; init; }

    public WalsTrainer(WalsOptions options)
    {
        _options = options.Validate();
    }

    public TrainedFactors Train(CsrMatrix userItems, IProgress<IterationReport>? progress = null, CancellationToken cancellationToken = default)
    {
        var k = _options.Factors;
        var users = WeightedInteractions.Build(userItems, _options);
        var items = users.Transpose();
        var x = InitialFactors(userItems.Rows, k, _options.Seed, _options.InitScale);
        var y = InitialFactors(userItems.Columns, k, _options.Seed + 1, _options.InitScale);
        return Train(users, items, x, y, progress, cancellationToken);
    }

    /// <summary>Trains from given starting factors (rows x k, row-major), which are updated in place.</summary>
    public TrainedFactors Train(WeightedInteractions users, WeightedInteractions items, float[] x, float[] y, IProgress<IterationReport>? progress = null, CancellationToken cancellationToken = default)
    {
        var k = _options.Factors;
        var threads = _options.EffectiveThreads;
        var nUsers = users.Rows;
        var nItems = items.Rows;
        var history = new List<IterationReport>();
        var initialLoss = double.NaN;

        for (var iteration = 1; iteration <= _options.Iterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var watch = Stopwatch.StartNew();

            var userStep = RunHalfStep(users, y, x, nItems, threads, _options.StartsFromZero(userRows: true, iteration), lossAfter: false);
            var userSeconds = watch.Elapsed.TotalSeconds;
            if (iteration == 1)
            {
                initialLoss = userStep.LossBefore + RegularizationOf(items, y, nUsers);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var itemStep = RunHalfStep(items, x, y, nUsers, threads, _options.StartsFromZero(userRows: false, iteration), lossAfter: true);
            var seconds = watch.Elapsed.TotalSeconds;
            Emit(new IterationReport(iteration, itemStep.LossAfter + userStep.RegularizationAfter, seconds, userSeconds, seconds - userSeconds));
        }
        if (_options.Iterations == 0)
        {
            initialLoss = Loss(users, items, x, y, _options);
        }
        // The rounded copies of the fixed sides (GatherPrecision) are not part of the result.
        HalfStep.ReleaseGatherCopies(x);
        HalfStep.ReleaseGatherCopies(y);
        return new TrainedFactors(nUsers, nItems, k, x, y, initialLoss, history);

        void Emit(IterationReport report)
        {
            history.Add(report);
            progress?.Report(report);
        }
    }

    /// <summary>
    /// Solves the rows of <paramref name="solving"/> against <paramref name="fixedFactors"/>. With
    /// <paramref name="zeroStart"/> the rows start from zero (their current factors are neither rotated nor read; CG only);
    /// with <paramref name="lossAfter"/> the rows' share of the objective at the new factors is computed too.
    /// </summary>
    private HalfStepResult RunHalfStep(WeightedInteractions solving, float[] fixedFactors, float[] solvingFactors, int fixedCount, int threads, bool zeroStart, bool lossAfter)
    {
        var k = _options.Factors;
        var gram = new double[k * k];
        var watch = Stopwatch.StartNew();
        MatrixKernels.AddGram(fixedFactors, fixedCount, k, gram, threads);
        var gramSeconds = watch.Elapsed.TotalSeconds;
        if (_options.Solver == WalsSolver.Cholesky)
        {
            return HalfStep.SolveCholesky(solving, fixedFactors, gram, solvingFactors, fixedCount, _options, lossAfter);
        }
        var (q, eigenvalues) = Dense.SymmetricEigen(gram, k);
        var eigenSeconds = watch.Elapsed.TotalSeconds;
        MatrixKernels.MultiplyInPlace(fixedFactors, fixedCount, k, q, threads);
        if (!zeroStart)
        {
            MatrixKernels.MultiplyInPlace(solvingFactors, solving.Rows, k, q, threads);
        }
        var rotateSeconds = watch.Elapsed.TotalSeconds;
        var result = HalfStep.SolveConjugateGradientInEigenbasis(solving, fixedFactors, eigenvalues, solvingFactors, fixedCount, _options, zeroStart, lossAfter);
        PhaseTimes?.Invoke(new PhaseTimes(gramSeconds, eigenSeconds - gramSeconds, rotateSeconds - eigenSeconds, watch.Elapsed.TotalSeconds - rotateSeconds));
        return result;
    }

    /// <summary>sum_i lambda_i |y_i|^2 over the rows of one side.</summary>
    public static double RegularizationOf(WeightedInteractions side, float[] factors, int otherSideCount, WalsOptions options)
    {
        var k = options.Factors;
        double sum = 0;
        for (var i = 0; i < side.Rows; i++)
        {
            var v = factors.AsSpan(i * k, k);
            sum += WeightedInteractions.RowRegularization(side.Pattern.RowLength(i), otherSideCount, options) * (double)VectorKernels.Dot(v, v);
        }
        return sum;
    }

    private double RegularizationOf(WeightedInteractions side, float[] factors, int otherSideCount) =>
        RegularizationOf(side, factors, otherSideCount, _options);

    /// <summary>
    /// The full objective sum_(u,i) c_ui (p_ui - x_u.y_i)^2 + sum lambda_u |x_u|^2 + sum lambda_i |y_i|^2 without
    /// touching unobserved entries: sum over all (u,i) of w0 (x_u.y_i)^2 = w0 tr(G_X G_Y), plus the observed
    /// corrections c (p - t)^2 - w0 t^2.
    /// </summary>
    public static double Loss(WeightedInteractions users, WeightedInteractions items, float[] x, float[] y, WalsOptions options)
    {
        var k = options.Factors;
        var threads = options.EffectiveThreads;
        var gx = new double[k * k];
        var gy = new double[k * k];
        MatrixKernels.AddGram(x, users.Rows, k, gx, threads);
        MatrixKernels.AddGram(y, items.Rows, k, gy, threads);
        double implicitPart = 0;
        for (var i = 0; i < k * k; i++)
        {
            implicitPart += gx[i] * gy[i];
        }
        var observed = ObservedLoss(users, x, y, k, threads);
        return observed + options.UnobservedWeight * implicitPart
            + RegularizationOf(users, x, items.Rows, options) + RegularizationOf(items, y, users.Rows, options);
    }

    /// <summary>
    /// The observed corrections sum over the entries of <paramref name="rows"/> of c (p - t)^2 - w0 t^2 = Cp (1 - 2t) + Cw t^2
    /// (constant terms dropped as everywhere in the loss), t = x_row . y_column, rows in parallel.
    /// </summary>
    public static double ObservedLoss(WeightedInteractions rows, float[] rowFactors, float[] columnFactors, int k, int threads)
    {
        var observed = 0.0;
        var sync = new object();
        var pattern = rows.Pattern;
        Parallel.For(0, rows.Rows, Parallelism.Options(threads), () => 0.0,
            (u, _, local) =>
            {
                var xu = rowFactors.AsSpan(u * k, k);
                for (var e = pattern.RowStart[u]; e < pattern.RowStart[u + 1]; e++)
                {
                    var t = (double)VectorKernels.Dot(xu, columnFactors.AsSpan(pattern.ColumnIndex[e] * k, k));
                    local += rows.Cp[e] * (1 - 2 * t) + rows.Cw[e] * t * t;
                }
                return local;
            },
            local =>
            {
                lock (sync)
                {
                    observed += local;
                }
            });
        return observed;
    }

    /// <summary>
    /// Factors uniform in [0, scale), deterministic by seed: row r is <see cref="InitialRow"/>(seed, r), so any
    /// process that knows a row's global index (a shard of the cluster) starts it from the same values.
    /// </summary>
    public static float[] InitialFactors(int rows, int k, int seed, float scale)
    {
        var values = FactorArrays.Allocate((long)rows * k);
        for (var r = 0; r < rows; r++)
        {
            InitialRow(seed, r, scale, values.AsSpan(r * k, k));
        }
        return values;
    }

    /// <summary>The initial factors of global row <paramref name="row"/>: a SplitMix64 stream seeded by (seed, row).</summary>
    public static void InitialRow(int seed, long row, float scale, Span<float> destination)
    {
        var state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)row + 1) * 0xD1B54A32D192ED03UL);
        for (var i = 0; i < destination.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            destination[i] = (float)((z >> 40) * (1.0 / (1UL << 24))) * scale;
        }
    }
}
