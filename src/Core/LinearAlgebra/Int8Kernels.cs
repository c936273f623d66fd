using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// An 8-bit copy of a factor matrix (N x k): y_ij ~ q_ij * r_i * s_j, with q_ij an integer in [-127, 127], r_i a scale
/// per row and s_j the root mean square of column j. Dividing by s_j first gives every column the same spread, so that
/// a coordinate whose values are small everywhere (in the eigenbasis of the Gram matrix, a direction of small
/// eigenvalue) keeps as many bits as a large one; r_i then maps the row's largest |y_ij / s_j| to 127.
/// The rounding error of an entry is at most r_i s_j / 2. A row is k bytes: a quarter of float32, half of bfloat16.
/// </summary>
public sealed class Int8Rows
{
    internal Int8Rows(int rows, int k)
    {
        Rows = rows;
        K = k;
        Values = FactorArrays.Allocate<sbyte>((long)rows * k);
        RowScales = new float[rows];
        ColumnScales = new float[k];
    }

    public int Rows { get; }

    public int K { get; }

    /// <summary>q, row-major (N x k).</summary>
    public sbyte[] Values { get; }

    /// <summary>r_i, one per row.</summary>
    public float[] RowScales { get; }

    /// <summary>s_j, one per column (1 for a column of zeros).</summary>
    public float[] ColumnScales { get; }
}

/// <summary>Kernels of <see cref="Int8Rows"/>; <see cref="ScalarKernels.QuantizeInt8"/> and <see cref="ScalarKernels.WidenInt8"/> are the references.</summary>
public static class Int8Kernels
{
    private static readonly ConditionalWeakTable<float[], Int8Rows> Copies = new();

    private static long _copiesMade;

    /// <summary>How many fixed-side copies <see cref="QuantizeParallel"/> has made in this process (one per half-step).</summary>
    public static long CopiesMade => Interlocked.Read(ref _copiesMade);

    /// <summary>
    /// Quantizes <paramref name="src"/> (rows x k, finite) in parallel into its 8-bit copy. As with the bfloat16 copies,
    /// the copy's arrays are kept with <paramref name="src"/> and reused by later calls.
    /// <paramref name="columnSumsOfSquares"/> are sum_i y_ij^2 per column when the caller knows them (in the eigenbasis
    /// of the Gram matrix they are its eigenvalues); otherwise they are computed here, in one more pass.
    /// </summary>
    public static Int8Rows QuantizeParallel(float[] src, int k, int threads, ReadOnlySpan<float> columnSumsOfSquares = default)
    {
        var rows = k == 0 ? 0 : src.Length / k;
        if (!Copies.TryGetValue(src, out var dst) || dst.Rows != rows || dst.K != k)
        {
            dst = new Int8Rows(rows, k);
            Copies.AddOrUpdate(src, dst);
        }
        Interlocked.Increment(ref _copiesMade);
        var sums = columnSumsOfSquares.Length >= k ? ToDouble(columnSumsOfSquares[..k]) : ColumnSumsOfSquares(src, rows, k, threads);
        for (var j = 0; j < k; j++)
        {
            var scale = (float)Math.Sqrt(sums[j] / Math.Max(1, rows));
            // A column of zeros (or one too small to invert) keeps scale 1: its q are 0 either way.
            dst.ColumnScales[j] = scale > 1e-30f && float.IsFinite(1f / scale) ? scale : 1f;
        }
        var inverse = dst.ColumnScales.Select(s => 1f / s).ToArray();
        const int block = 1024;
        var blocks = (rows + block - 1) / block;
        var failed = -1;
        Parallel.For(0, blocks, Parallelism.Options(threads), (b, state) =>
        {
            var end = Math.Min(rows, (b + 1) * block);
            for (var i = b * block; i < end; i++)
            {
                var scale = Quantize(src.AsSpan(i * k, k), inverse, dst.Values.AsSpan(i * k, k));
                if (!float.IsFinite(scale))
                {
                    Volatile.Write(ref failed, i);
                    state.Stop();
                    return;
                }
                dst.RowScales[i] = scale;
            }
        });
        if (failed >= 0)
        {
            // A float32 solve would carry a NaN or infinity into the solved rows and stop there; the rounded copy would
            // hide it, so it stops here.
            throw new Wals.NonFiniteFactorsException($"Fixed-side row {failed} has a non-finite factor (NaN or infinity); it cannot be rounded to 8 bits.");
        }
        return dst;
    }

    /// <summary>Drops the copy kept with <paramref name="src"/>.</summary>
    public static void ReleaseCopy(float[] src) => Copies.Remove(src);

    /// <summary>How many copies are kept in this process now (for checks that runs release theirs).</summary>
    public static int CopiesHeld => Copies.Count();

    private static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (var j = 0; j < values.Length; j++)
        {
            result[j] = Math.Max(0, values[j]);
        }
        return result;
    }

    /// <summary>sum over rows of y_ij^2, per column: float sums per block of rows (the scales need no more), added in block
    /// order, so that the result does not depend on the scheduling.</summary>
    private static double[] ColumnSumsOfSquares(float[] src, int rows, int k, int threads)
    {
        const int block = 1024;
        var blocks = (rows + block - 1) / block;
        var ones = Enumerable.Repeat(1f, block).ToArray();
        var parts = new float[blocks][];
        Parallel.For(0, blocks, Parallelism.Options(threads), b =>
        {
            var part = new float[k];
            var start = b * block;
            var n = Math.Min(block, rows - start);
            VectorKernels.AddWeightedRows(src.AsSpan(start * k, n * k), n, k, ones, part, squares: true);
            parts[b] = part;
        });
        var sums = new double[k];
        foreach (var part in parts)
        {
            for (var j = 0; j < k; j++)
            {
                sums[j] += part[j];
            }
        }
        return sums;
    }

    /// <summary>
    /// dst = round(row * inverseColumnScales / r) with r = max_j |row_j * inverseColumnScales_j| / 127 (0 for a zero
    /// row, whose q are then 0); returns r.
    /// </summary>
    public static float Quantize(ReadOnlySpan<float> row, ReadOnlySpan<float> inverseColumnScales, Span<sbyte> dst)
    {
        var k = row.Length;
        if (inverseColumnScales.Length < k || dst.Length < k)
        {
            throw new ArgumentException("inverseColumnScales or dst is shorter than row.");
        }
        ref var rr = ref MemoryMarshal.GetReference(row);
        ref var rs = ref MemoryMarshal.GetReference(inverseColumnScales);
        var max = 0f;
        var i = 0;
        var kv = Vector256.IsHardwareAccelerated ? k & ~7 : 0;
        if (kv > 0)
        {
            var m = Vector256<float>.Zero;
            for (; i < kv; i += 8)
            {
                m = Vector256.Max(m, Vector256.Abs(Vector256.LoadUnsafe(ref rr, (nuint)i) * Vector256.LoadUnsafe(ref rs, (nuint)i)));
            }
            for (var lane = 0; lane < 8; lane++)
            {
                max = MathF.Max(max, m.GetElement(lane));
            }
        }
        for (; i < k; i++)
        {
            max = MathF.Max(max, MathF.Abs(Unsafe.Add(ref rr, i) * Unsafe.Add(ref rs, i)));
        }
        var scale = max / 127f;
        var inverse = scale > 0 ? 1f / scale : 0f;
        ref var rd = ref MemoryMarshal.GetReference(dst);
        i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vi = Vector256.Create(inverse);
            var hi = Vector256.Create(127);
            var lo = Vector256.Create(-127);
            for (; i <= k - 32; i += 32)
            {
                var q0 = Quantize8(ref rr, ref rs, i, vi, lo, hi);
                var q1 = Quantize8(ref rr, ref rs, i + 8, vi, lo, hi);
                var q2 = Quantize8(ref rr, ref rs, i + 16, vi, lo, hi);
                var q3 = Quantize8(ref rr, ref rs, i + 24, vi, lo, hi);
                Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        for (; i < k; i++)
        {
            var q = MathF.Round(Unsafe.Add(ref rr, i) * Unsafe.Add(ref rs, i) * inverse);
            Unsafe.Add(ref rd, i) = (sbyte)Math.Clamp(q, -127f, 127f);
        }
        return scale;
    }

    /// <summary>round(row * inverseColumnScales * inverse) for 8 entries from <paramref name="i"/>, clamped to [-127, 127].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quantize8(ref float row, ref float inverseColumnScales, int i, Vector256<float> inverse, Vector256<int> lo, Vector256<int> hi)
    {
        var v = Vector256.Round(Vector256.LoadUnsafe(ref row, (nuint)i) * Vector256.LoadUnsafe(ref inverseColumnScales, (nuint)i) * inverse);
        return Vector256.Min(Vector256.Max(Vector256.ConvertToInt32(v), lo), hi);
    }

    /// <summary>dst[0..k) = q[0..k) * rowScale * columnScales[0..k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen(ref sbyte src, float rowScale, ref float columnScales, ref float dst, int k)
    {
        var i = 0;
        if (Avx2.IsSupported)
        {
            var r = Vector256.Create(rowScale);
            for (; i <= k - 16; i += 16)
            {
                var bytes = Vector128.LoadUnsafe(ref src, (nuint)i);
                var lo = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(bytes));
                var hi = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(bytes, 8)));
                (lo * r * Vector256.LoadUnsafe(ref columnScales, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
                (hi * r * Vector256.LoadUnsafe(ref columnScales, (nuint)(i + 8))).StoreUnsafe(ref dst, (nuint)(i + 8));
            }
        }
        for (; i < k; i++)
        {
            Unsafe.Add(ref dst, i) = Unsafe.Add(ref src, i) * rowScale * Unsafe.Add(ref columnScales, i);
        }
    }

    /// <summary>Asks the cache for the 8-bit row of k values at <paramref name="row"/> (a hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(ref sbyte row, int k) => VectorKernels.PrefetchBytes(ref Unsafe.As<sbyte, byte>(ref row), k);
}
