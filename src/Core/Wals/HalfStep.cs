using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using WalsCluster.Core.LinearAlgebra;

namespace WalsCluster.Core.Wals;

/// <summary>
/// One weighted least-squares half-step: with the fixed side's factors Y (N_F x k) and its Gram matrix
/// G = Y^T Y, every row u of the solving side gets
///   x_u = A_u^-1 b_u,  A_u = w0 G + sum_{i in I_u} (c_ui - w0) y_i y_i^T + lambda_u I,  b_u = sum_{i in I_u} c_ui p_ui y_i.
/// Rows are solved in parallel (dynamic chunks, so heavy rows do not stall a thread).
///
/// Solvers:
/// - Cholesky: forms A_u in double precision (n_u k^2 for the low-rank part, k^2 for w0 G) and factorises it.
/// - Conjugate gradient: works in the eigenbasis of G. With G = Q diag(lambda) Q^T and y' = Q^T y, the
///   system becomes A'_u = w0 diag(lambda) + lambda_u I + sum (c - w0) y'_i y'_i^T, so a product A'_u p costs
///   k + 4 n_u k flops instead of 2k^2 + 4 n_u k, and its diagonal is known exactly for a Jacobi
///   preconditioner. The rotation Y' = Y Q (and x' = Q^T x) is one dense product per side, run as a
///   blocked GEMM, and CG is invariant under it, so unpreconditioned CG gives the same iterates as CG in
///   the original basis. The row's factors are gathered once into a contiguous buffer and reused by
///   every CG step. With <see cref="GatherPrecision.BFloat16"/> the gather reads a bfloat16 copy of the fixed
///   side (made once per half-step) and widens each row exactly into the float32 buffer: half the bytes of the
///   random reads, and every later step is the same float32 arithmetic on the rounded rows.
/// </summary>
public static class HalfStep
{
    private const int ChunkRows = 16;

    /// <summary>How many entries ahead the first pass prefetches the fixed side's rows.</summary>
    private const int PrefetchDistance = 6;

    /// <summary>Rows whose gathered factors would exceed this many floats are read in place each step.</summary>
    internal const int MaxGatherFloats = 1 << 24;

    /// <summary>
    /// Solves every row of <paramref name="rows"/> in place in <paramref name="factors"/> (rows x k, the warm start),
    /// in the original basis. <paramref name="fixedFactors"/> are the rows of the fixed side that the column indices
    /// of <paramref name="rows"/> point to; <paramref name="gram"/> is the Gram matrix of the WHOLE fixed side;
    /// <paramref name="fixedSideCount"/> is N_F, used by frequency-scaled regularization.
    /// </summary>
    public static HalfStepResult Solve(WeightedInteractions rows, float[] fixedFactors, double[] gram, float[] factors, int fixedSideCount, WalsOptions options)
    {
        var k = options.Factors;
        CheckSizes(rows, fixedFactors, gram, factors, k);
        if (options.Solver == WalsSolver.Cholesky)
        {
            return SolveCholesky(rows, fixedFactors, gram, factors, fixedSideCount, options);
        }
        var (q, lambda) = Dense.SymmetricEigen(gram, k);
        var fixedCount = fixedFactors.Length / k;
        var rotatedFixed = (float[])fixedFactors.Clone();
        var threads = options.EffectiveThreads;
        MatrixKernels.MultiplyInPlace(rotatedFixed, fixedCount, k, q, threads);
        MatrixKernels.MultiplyInPlace(factors, rows.Rows, k, q, threads);
        var result = SolveConjugateGradientInEigenbasis(rows, rotatedFixed, lambda, factors, fixedSideCount, options);
        MatrixKernels.MultiplyInPlace(factors, rows.Rows, k, Dense.Transpose(q, k), threads);
        return result;
    }

    /// <summary>
    /// The CG half-step when both sides are already expressed in the eigenbasis of the fixed side's Gram matrix,
    /// whose eigenvalues are <paramref name="eigenvalues"/> (so G = diag(eigenvalues) in this basis).
    /// </summary>
    public static HalfStepResult SolveConjugateGradientInEigenbasis(WeightedInteractions rows, float[] fixedFactors, float[] eigenvalues, float[] factors, int fixedSideCount, WalsOptions options) =>
        SolveConjugateGradientInEigenbasis(rows, fixedFactors, eigenvalues, factors, fixedSideCount, options, MaxGatherFloats);

    /// <summary>
    /// As above. With <paramref name="zeroStart"/> every row starts from x = 0 (the values in <paramref name="factors"/>
    /// are not read, and the result's before-terms are 0); with <paramref name="lossAfter"/> the result also carries
    /// the rows' share of the objective at the new factors (<see cref="HalfStepResult.LossAfter"/>), tracked through
    /// the CG steps at O(k) per step: no extra pass over the rows.
    /// </summary>
    public static HalfStepResult SolveConjugateGradientInEigenbasis(WeightedInteractions rows, float[] fixedFactors, float[] eigenvalues, float[] factors, int fixedSideCount, WalsOptions options, bool zeroStart, bool lossAfter) =>
        SolveConjugateGradientInEigenbasis(rows, fixedFactors, eigenvalues, factors, fixedSideCount, options, MaxGatherFloats, zeroStart, lossAfter);

    /// <summary>As above, with rows of more than <paramref name="maxGatherFloats"/> gathered floats read in place (tests use 0).</summary>
    internal static HalfStepResult SolveConjugateGradientInEigenbasis(WeightedInteractions rows, float[] fixedFactors, float[] eigenvalues, float[] factors, int fixedSideCount, WalsOptions options, int maxGatherFloats,
        bool zeroStart = false, bool lossAfter = false)
    {
        var k = options.Factors;
        var w0 = options.UnobservedWeight;
        var pattern = rows.Pattern;
        var jacobi = options.CgPreconditioner == CgPreconditioner.Jacobi;
        var fixedHalf = options.GatherPrecision == GatherPrecision.BFloat16 ? BFloat16Kernels.RoundParallel(fixedFactors, options.EffectiveThreads) : null;
        var fixedInt8 = options.GatherPrecision == GatherPrecision.Int8 ? Int8Kernels.QuantizeParallel(fixedFactors, k, options.EffectiveThreads, eigenvalues) : null;
        var diagonalFloor = DiagonalFloor(eigenvalues, w0);
        return SolveRows(rows, factors, fixedSideCount, options,
            [MethodImpl(MethodImplOptions.AggressiveOptimization)] (int u, int start, int n, float lambdaU, Span<float> x, CgWorkspace ws) =>
            {
                if (u + 1 < rows.Rows)
                {
                    // The first pass prefetches within a row only; ask now for the next row's first entries
                    // (and its warm start), which this row's solve then hides.
                    PrefetchRowStart(pattern, u + 1, fixedFactors, fixedHalf, fixedInt8, factors, k);
                }
                CgRow(
                    pattern.ColumnIndex.AsSpan(start, n), rows.Cw.AsSpan(start, n), rows.Cp.AsSpan(start, n),
                    fixedFactors, eigenvalues, w0, lambdaU, options.CgSteps, jacobi, x, ws, maxGatherFloats, fixedHalf, zeroStart, lossAfter, fixedInt8, diagonalFloor);
                return true;
            },
            u => $"Row {u} got a non-finite factor (NaN or infinity) in the conjugate-gradient half-step; lower alpha or raise the regularization.",
            lossAfter);
    }

    /// <summary>
    /// Drops the rounded copies (bfloat16 or int8, <see cref="GatherPrecision"/>) kept with <paramref name="fixedFactors"/>
    /// between half-steps, once no more half-steps read them; a later half-step makes a new one.
    /// </summary>
    public static void ReleaseGatherCopies(float[] fixedFactors)
    {
        BFloat16Kernels.ReleaseCopy(fixedFactors);
        Int8Kernels.ReleaseCopy(fixedFactors);
    }

    /// <summary>Solves one row in place in <paramref name="x"/>; false when its system cannot be solved.</summary>
    private delegate bool RowSolver(int row, int start, int entries, float lambdaU, Span<float> x, CgWorkspace ws);

    /// <summary>
    /// The shared driver of both solvers: rows in parallel over dynamic chunks of 16 (heavy rows do not stall a
    /// thread), lambda_u per row, the non-finite check, the regularization after the solve, the summed loss terms.
    /// </summary>
    private static HalfStepResult SolveRows(WeightedInteractions rows, float[] factors, int fixedSideCount, WalsOptions options, RowSolver solve, Func<int, string> failure, bool lossAfter = false)
    {
        var k = options.Factors;
        var watch = Stopwatch.StartNew();
        var pattern = rows.Pattern;
        var chunks = (rows.Rows + ChunkRows - 1) / ChunkRows;
        var totals = new Accumulator();
        var failed = -1;
        Parallel.For(0, chunks, Parallelism.Options(options.EffectiveThreads),
            () => new CgWorkspace(k),
            [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, state, ws) =>
            {
                var end = Math.Min(rows.Rows, (chunk + 1) * ChunkRows);
                for (var u = chunk * ChunkRows; u < end; u++)
                {
                    var start = pattern.RowStart[u];
                    var n = pattern.RowStart[u + 1] - start;
                    var lambdaU = WeightedInteractions.RowRegularization(n, fixedSideCount, options);
                    var x = factors.AsSpan(u * k, k);
                    double xx;
                    // One vectorised pass: |x|^2 is finite exactly when every entry of x is.
                    if (!solve(u, start, n, lambdaU, x, ws) || !double.IsFinite(xx = VectorKernels.SquaredNorm(x)))
                    {
                        Volatile.Write(ref failed, u);
                        state.Stop();
                        return ws;
                    }
                    ws.RegAfter += lambdaU * xx;
                }
                return ws;
            },
            ws => totals.Add(ws));
        if (failed >= 0)
        {
            throw new NonFiniteFactorsException(failure(failed));
        }
        return new HalfStepResult(rows.Rows, totals.Observed, totals.Implicit, totals.RegBefore, totals.RegAfter, watch.Elapsed.TotalSeconds,
            lossAfter ? totals.LossAfter : double.NaN);
    }

    /// <summary>
    /// (Preconditioned) conjugate gradient for one row in the eigenbasis, warm-started from x (or from 0 with
    /// <paramref name="zeroStart"/>), then <paramref name="steps"/> steps. Accumulates the row's loss terms at the
    /// starting x into the workspace, and with <paramref name="lossAfter"/> those at the solution too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CgRow(
        ReadOnlySpan<int> columns, ReadOnlySpan<float> cw, ReadOnlySpan<float> cp,
        float[] fixedFactors, ReadOnlySpan<float> eigenvalues, float w0, float lambdaU, int steps, bool jacobi,
        Span<float> x, CgWorkspace ws, int maxGatherFloats = MaxGatherFloats, ushort[]? fixedHalf = null,
        bool zeroStart = false, bool lossAfter = false, Int8Rows? fixedInt8 = null, float diagonalFloor = 1e-12f)
    {
        var k = x.Length;
        if (zeroStart)
        {
            x.Clear();
        }
        var n = columns.Length;
        var gather = n > 0 && Gathers(n, k, maxGatherFloats);
        // A row too long to gather reads the float32 rows in place, whatever the precision.
        var source = gather ? new FixedRows(fixedFactors, fixedHalf, fixedInt8, k) : new FixedRows(fixedFactors, null, null, k);
        var buffer = gather ? ws.Gather(n * k) : Span<float>.Empty;
        var b = ws.B;
        var q = ws.Q;
        var d = ws.D;
        b.Clear();
        q.Clear();
        d.Clear();

        // Pass 1: b = sum c p y, q = sum (c - w0)(y.x) y (the low-rank part of A x; the four-entry kernel folds it into b,
        // as only b - q is used), d = sum (c - w0) y^2,
        // and the observed loss at the warm start, four entries at a time. Each y' row is read once from the fixed
        // side (prefetched a few entries ahead); when the row's factors fit the gather buffer they are copied there
        // and every CG step streams the contiguous buffer instead of the scattered rows.
        double observed = 0;
        ref var fixedStart = ref MemoryMarshal.GetArrayDataReference(fixedFactors);
        ref var bufferStart = ref gather ? ref MemoryMarshal.GetReference(buffer) : ref fixedStart;
        ref var rb = ref MemoryMarshal.GetReference(b);
        ref var rd = ref MemoryMarshal.GetReference(d);
        ref var rx = ref MemoryMarshal.GetReference(x);
        var j = 0;
        for (; j <= n - 4; j += 4)
        {
            for (var ahead = j + PrefetchDistance; ahead < Math.Min(n, j + PrefetchDistance + 4); ahead++)
            {
                source.Prefetch(columns[ahead]);
            }
            if (gather)
            {
                for (var e = j; e < j + 4; e++)
                {
                    source.CopyRow(columns[e], buffer.Slice(e * k, k));
                }
            }
            ref var y0 = ref Row(ref fixedStart, ref bufferStart, columns, j, k, gather);
            ref var y1 = ref Row(ref fixedStart, ref bufferStart, columns, j + 1, k, gather);
            ref var y2 = ref Row(ref fixedStart, ref bufferStart, columns, j + 2, k, gather);
            ref var y3 = ref Row(ref fixedStart, ref bufferStart, columns, j + 3, k, gather);
            observed += RowBlockKernels.First4(ref y0, ref y1, ref y2, ref y3,
                cp[j], cp[j + 1], cp[j + 2], cp[j + 3], cw[j], cw[j + 1], cw[j + 2], cw[j + 3], ref rx, ref rb, ref rd, k, zeroStart);
        }
        for (; j < n; j++)
        {
            // A rounded row is widened into the buffer first; a float32 row is copied there by the entry's own pass.
            if (source.Rounded)
            {
                source.CopyRow(columns[j], buffer.Slice(j * k, k));
            }
            var y = source.Rounded ? buffer.Slice(j * k, k) : fixedFactors.AsSpan(columns[j] * k, k);
            var copy = gather && !source.Rounded ? buffer.Slice(j * k, k) : default;
            var tj = VectorKernels.FirstPassEntry(y, x, cp[j], cw[j], b, q, d, copy);
            if (!zeroStart)
            {
                observed += cp[j] * (1.0 - 2.0 * tj) + (double)cw[j] * tj * tj;
            }
        }

        var r = ws.R;
        var minv = ws.M;
        var d0 = ws.D0;
        var p = ws.P;
        var ap = ws.Ap;
        var z = ws.Z;
        // The exact diagonal D0 + d of A' is >= lambda_u in exact arithmetic; the floor guards rounding (DiagonalFloor).
        var (rz, eigXX, xx) = CgKernels.Start(eigenvalues, w0, lambdaU, jacobi, MathF.Max(lambdaU, diagonalFloor), b, q, d, x, d0, r, minv, z, p);
        ws.Observed += observed;
        ws.Implicit += (double)w0 * eigXX;
        ws.RegBefore += lambdaU * (double)xx;

        // The row's share of the objective is l(x) = sum cp + x^T A' x - 2 b^T x (the observed terms, w0 x^T L x and
        // lambda_u |x|^2); each CG step x += a p changes it by -2 a (p . r) + a^2 (p . A'p), so with lossAfter the loss at
        // the solution is tracked from the loss at the start (computed above, or sum cp at x = 0) at O(k) per step.
        var loss = 0.0;
        if (lossAfter)
        {
            if (zeroStart)
            {
                foreach (var v in cp)
                {
                    loss += v;
                }
            }
            else
            {
                loss = observed + (double)w0 * eigXX + lambdaU * (double)xx;
            }
        }

        var beta = 0f;
        for (var step = 0; step < steps; step++)
        {
            if (rz < 1e-20f)
            {
                break;
            }
            // p = z + beta p; Ap = D0 p + sum (c - w0) (y'.p) y'
            CgKernels.Direction(step == 0, beta, z, d0, p, ap);
            LowRankProduct(ref fixedStart, ref bufferStart, columns, cw, gather, p, ap);
            var pap = VectorKernels.Dot(p, ap);
            if (!(pap > 0))
            {
                break;
            }
            var alpha = rz / pap;
            if (lossAfter)
            {
                loss += alpha * (alpha * (double)pap - 2.0 * VectorKernels.Dot(p, r));
            }
            var rzNew = CgKernels.Update(alpha, p, ap, minv, x, r, z);
            beta = rzNew / rz;
            rz = rzNew;
        }
        if (lossAfter)
        {
            ws.LossAfter += loss;
        }
    }

    /// <summary>Prefetches the fixed-side rows of the first entries of <paramref name="row"/> and its own factors.</summary>
    private static void PrefetchRowStart(Sparse.CsrMatrix pattern, int row, float[] fixedFactors, ushort[]? fixedHalf, Int8Rows? fixedInt8, float[] factors, int k)
    {
        var start = pattern.RowStart[row];
        var end = Math.Min(pattern.RowStart[row + 1], start + PrefetchDistance);
        // A row too long to gather reads the float32 rows in place (CgRow), whatever the precision.
        var source = Gathers(pattern.RowStart[row + 1] - start, k, MaxGatherFloats)
            ? new FixedRows(fixedFactors, fixedHalf, fixedInt8, k)
            : new FixedRows(fixedFactors, null, null, k);
        for (var e = start; e < end; e++)
        {
            source.Prefetch(pattern.ColumnIndex[e]);
        }
        VectorKernels.Prefetch(ref factors[row * k], k);
    }

    /// <summary>Whether a row of <paramref name="entries"/> entries has its fixed-side factors gathered into a buffer.</summary>
    private static bool Gathers(int entries, int k, int maxGatherFloats) => (long)entries * k <= maxGatherFloats;

    /// <summary>ap += sum_j cw_j (y'_j . p) y'_j over the row's entries, four at a time, one read of each row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowRankProduct(ref float fixedStart, ref float bufferStart, ReadOnlySpan<int> columns, ReadOnlySpan<float> cw, bool gather, Span<float> p, Span<float> ap)
    {
        var k = p.Length;
        var n = columns.Length;
        ref var rp = ref MemoryMarshal.GetReference(p);
        ref var rap = ref MemoryMarshal.GetReference(ap);
        var j = 0;
        for (; j <= n - 4; j += 4)
        {
            RowBlockKernels.LowRank4(
                ref Row(ref fixedStart, ref bufferStart, columns, j, k, gather), ref Row(ref fixedStart, ref bufferStart, columns, j + 1, k, gather),
                ref Row(ref fixedStart, ref bufferStart, columns, j + 2, k, gather), ref Row(ref fixedStart, ref bufferStart, columns, j + 3, k, gather),
                cw[j], cw[j + 1], cw[j + 2], cw[j + 3], ref rp, ref rap, k);
        }
        for (; j < n; j++)
        {
            ref var y = ref Row(ref fixedStart, ref bufferStart, columns, j, k, gather);
            var span = MemoryMarshal.CreateReadOnlySpan(ref y, k);
            VectorKernels.Axpy(cw[j] * VectorKernels.Dot(span, p), span, ap);
        }
    }

    /// <summary>
    /// Entry j's factor row: in the gather buffer (filled by the first pass) or in place in the fixed side's factors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float Row(ref float fixedStart, ref float bufferStart, ReadOnlySpan<int> columns, int j, int k, bool gather) =>
        ref gather ? ref Unsafe.Add(ref bufferStart, j * k) : ref Unsafe.Add(ref fixedStart, columns[j] * k);

    /// <summary>
    /// The least diagonal the Jacobi preconditioner divides by, besides lambda_u: 1e-6 w0 max eig(G), once per half-step.
    /// With lambda_u = 0 and a singular G a diagonal entry can be 0 up to rounding, and an absolute floor (1e-12) let the
    /// preconditioner multiply rounding noise by 1e12 (the factors grew to 1e7).
    /// </summary>
    private static float DiagonalFloor(ReadOnlySpan<float> eigenvalues, float w0)
    {
        var max = 0f;
        foreach (var v in eigenvalues)
        {
            max = MathF.Max(max, v);
        }
        return 1e-6f * w0 * max + 1e-12f;
    }

    /// <summary>The Cholesky half-step in the original basis (exact solve per row in double precision).</summary>
    /// <remarks>With <paramref name="lossAfter"/> the result carries the rows' share of the objective at the solution:
    /// there A x = b, so l(x) = sum c p + x^T A x - 2 b^T x = sum c p - b^T x.</remarks>
    public static HalfStepResult SolveCholesky(WeightedInteractions rows, float[] fixedFactors, double[] gram, float[] factors, int fixedSideCount, WalsOptions options,
        bool lossAfter = false)
    {
        var k = options.Factors;
        var w0 = options.UnobservedWeight;
        var pattern = rows.Pattern;
        return SolveRows(rows, factors, fixedSideCount, options,
            (int u, int start, int n, float lambdaU, Span<float> x, CgWorkspace ws) =>
            {
                var a = ws.DenseA;
                var bd = ws.DenseB;
                for (var i = 0; i < k * k; i++)
                {
                    a[i] = w0 * gram[i];
                }
                double implicitLoss = 0, xx = 0;
                for (var i = 0; i < k; i++)
                {
                    a[i * k + i] += lambdaU;
                    bd[i] = 0;
                    xx += (double)x[i] * x[i];
                    double gx = 0;
                    for (var j = 0; j < k; j++)
                    {
                        gx += gram[i * k + j] * x[j];
                    }
                    implicitLoss += w0 * x[i] * gx;
                }
                double observed = 0;
                for (var e = start; e < start + n; e++)
                {
                    var y = fixedFactors.AsSpan(pattern.ColumnIndex[e] * k, k);
                    var t = VectorKernels.Dot(y, x);
                    observed += rows.Cp[e] * (1.0 - 2.0 * t) + (double)rows.Cw[e] * t * t;
                    AddRankOneUpper(a, k, rows.Cw[e], y);
                    var cpe = (double)rows.Cp[e];
                    for (var i = 0; i < k; i++)
                    {
                        bd[i] += cpe * y[i];
                    }
                }
                for (var i = 0; i < k; i++)
                {
                    for (var j = i + 1; j < k; j++)
                    {
                        a[j * k + i] = a[i * k + j];
                    }
                }
                ws.Observed += observed;
                ws.Implicit += implicitLoss;
                ws.RegBefore += lambdaU * xx;
                var rhs = ws.DenseRhs;
                if (lossAfter)
                {
                    bd.AsSpan(0, k).CopyTo(rhs);
                }
                if (n == 0 && lambdaU == 0 && w0 == 0)
                {
                    // A row with no interactions, no unobserved weight and (frequency-scaled) lambda_u = 0 has no term in
                    // the objective: A_u = 0 and b_u = 0, so every x is optimal; 0 is the minimum-norm answer.
                    bd.AsSpan(0, k).Clear();
                }
                else if (!Dense.CholeskySolveInPlace(a, k, bd))
                {
                    return false;
                }
                for (var i = 0; i < k; i++)
                {
                    x[i] = (float)bd[i];
                }
                if (lossAfter)
                {
                    double sumCp = 0;
                    for (var e = start; e < start + n; e++)
                    {
                        sumCp += rows.Cp[e];
                    }
                    double bx = 0;
                    for (var i = 0; i < k; i++)
                    {
                        bx += rhs[i] * bd[i];
                    }
                    ws.LossAfter += sumCp - bx;
                }
                return true;
            },
            u => $"Row {u}: A_u is not positive definite or its solution is not finite in the Cholesky half-step; raise the regularization.",
            lossAfter);
    }

    /// <summary>a (upper triangle) += w y y^T, in double.</summary>
    private static void AddRankOneUpper(double[] a, int k, float w, ReadOnlySpan<float> y)
    {
        for (var i = 0; i < k; i++)
        {
            var wi = (double)w * y[i];
            var row = a.AsSpan(i * k);
            for (var j = i; j < k; j++)
            {
                row[j] += wi * y[j];
            }
        }
    }

    private static void CheckSizes(WeightedInteractions rows, float[] fixedFactors, double[] gram, float[] factors, int k)
    {
        if (factors.Length != (long)rows.Rows * k)
        {
            throw new ArgumentException($"factors has {factors.Length} values, expected {rows.Rows} x {k}.", nameof(factors));
        }
        if (fixedFactors.Length != (long)rows.Pattern.Columns * k)
        {
            throw new ArgumentException($"fixedFactors has {fixedFactors.Length} values, expected {rows.Pattern.Columns} x {k}.", nameof(fixedFactors));
        }
        if (gram.Length != k * k)
        {
            throw new ArgumentException($"gram has {gram.Length} values, expected {k} x {k}.", nameof(gram));
        }
    }

    private sealed class Accumulator
    {
        public double Observed, Implicit, RegBefore, RegAfter, LossAfter;

        public void Add(CgWorkspace ws)
        {
            lock (this)
            {
                Observed += ws.Observed;
                Implicit += ws.Implicit;
                RegBefore += ws.RegBefore;
                RegAfter += ws.RegAfter;
                LossAfter += ws.LossAfter;
            }
        }
    }
}

/// <summary>
/// Where a half-step reads its fixed side's rows: the float32 factors themselves, or their bfloat16 or int8 copy (made
/// once per half-step, <see cref="GatherPrecision"/>). Rows are prefetched and copied (widened) into a row's gather
/// buffer through it, so the precision is decided in one place.
/// </summary>
internal readonly struct FixedRows(float[] factors, ushort[]? half, Int8Rows? int8, int k)
{
    /// <summary>Whether the rows come from a rounded copy, which must be widened into the gather buffer.</summary>
    public bool Rounded => half is not null || int8 is not null;

    /// <summary>Asks the cache for row <paramref name="column"/> in the precision it is read in (with an int8 row, its scale).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int column)
    {
        if (int8 is not null)
        {
            Int8Kernels.Prefetch(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(int8.Values), column * k), k);
            VectorKernels.Prefetch(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(int8.RowScales), column), 1);
        }
        else if (half is not null)
        {
            BFloat16Kernels.Prefetch(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(half), column * k), k);
        }
        else
        {
            VectorKernels.Prefetch(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(factors), column * k), k);
        }
    }

    /// <summary>Writes row <paramref name="column"/> as float32 into <paramref name="dst"/> (k values): widened from the copy, or copied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CopyRow(int column, Span<float> dst)
    {
        if (int8 is not null)
        {
            Int8Kernels.Widen(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(int8.Values), column * k), int8.RowScales[column],
                ref MemoryMarshal.GetArrayDataReference(int8.ColumnScales), ref MemoryMarshal.GetReference(dst), k);
        }
        else if (half is not null)
        {
            BFloat16Kernels.Widen(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(half), column * k), ref MemoryMarshal.GetReference(dst), k);
        }
        else
        {
            factors.AsSpan(column * k, k).CopyTo(dst);
        }
    }
}

/// <summary>Per-thread scratch of the row solves.</summary>
internal sealed class CgWorkspace
{
    private float[] _gather = [];
    private readonly float[] _vectors;
    private readonly int _k;

    public CgWorkspace(int k)
    {
        _k = k;
        _vectors = new float[9 * k];
    }

    public Span<float> B => _vectors.AsSpan(0, _k);
    public Span<float> Q => _vectors.AsSpan(_k, _k);
    public Span<float> D => _vectors.AsSpan(2 * _k, _k);
    public Span<float> R => _vectors.AsSpan(3 * _k, _k);
    public Span<float> M => _vectors.AsSpan(4 * _k, _k);
    public Span<float> P => _vectors.AsSpan(5 * _k, _k);
    public Span<float> Ap => _vectors.AsSpan(6 * _k, _k);
    public Span<float> Z => _vectors.AsSpan(7 * _k, _k);
    public Span<float> D0 => _vectors.AsSpan(8 * _k, _k);

    public double[] DenseA => _denseA ??= new double[_k * _k];
    public double[] DenseB => _denseB ??= new double[_k];
    public double[] DenseRhs => _denseRhs ??= new double[_k];
    private double[]? _denseRhs;
    private double[]? _denseA;
    private double[]? _denseB;

    public double Observed, Implicit, RegBefore, RegAfter, LossAfter;

    private float[] _scratch = [];

    public Span<float> Scratch(int floats)
    {
        if (_scratch.Length < floats)
        {
            _scratch = new float[Math.Max(floats, _scratch.Length * 2)];
        }
        return _scratch.AsSpan(0, floats);
    }

    public Span<float> Gather(int floats)
    {
        if (_gather.Length < floats)
        {
            _gather = new float[Math.Max(floats, Math.Min(HalfStep.MaxGatherFloats, _gather.Length * 2))];
        }
        return _gather.AsSpan(0, floats);
    }
}

/// <summary>Training produced a NaN or infinite factor: the run stops rather than return a broken model.</summary>
public sealed class NonFiniteFactorsException(string message) : Exception(message);
