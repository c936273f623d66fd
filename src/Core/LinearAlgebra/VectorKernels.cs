using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// Short-vector kernels of the per-row solves (length k, the factor count). Each has a Vector256 path,
/// a remainder, and a scalar path; <see cref="ScalarKernels"/> holds the plain references they are tested against.
/// </summary>
public static class VectorKernels
{
    /// <summary>Returns a . b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var n = a.Length;
        if (b.Length < n)
        {
            throw new ArgumentException("b is shorter than a.", nameof(b));
        }
        ref var ra = ref MemoryMarshal.GetReference(a);
        ref var rb = ref MemoryMarshal.GetReference(b);
        var i = 0;
        var sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)(i + 8)), Vector256.LoadUnsafe(ref rb, (nuint)(i + 8)), acc1);
            }
            if (i <= n - 8)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i), acc0);
                i += 8;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref ra, i), Unsafe.Add(ref rb, i), sum);
        }
        return sum;
    }

    /// <summary>
    /// Returns x . x in double precision. It is finite exactly when every entry is (a float squared cannot overflow a
    /// double, and 2^31 of them cannot either), so one pass both checks a solved row and gives its regularization term.
    /// </summary>
    public static double SquaredNorm(ReadOnlySpan<float> x)
    {
        var n = x.Length;
        ref var rx = ref MemoryMarshal.GetReference(x);
        var i = 0;
        var sum = 0.0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<double> acc0 = default, acc1 = default;
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref rx, (nuint)i));
                acc0 = Vector256.FusedMultiplyAdd(lo, lo, acc0);
                acc1 = Vector256.FusedMultiplyAdd(hi, hi, acc1);
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++)
        {
            double v = Unsafe.Add(ref rx, i);
            sum += v * v;
        }
        return sum;
    }

    /// <summary>y += s * x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float s, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        if (y.Length < n)
        {
            throw new ArgumentException("y is shorter than x.", nameof(y));
        }
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var ry = ref MemoryMarshal.GetReference(y);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
            {
                Vector256.FusedMultiplyAdd(vs, Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref ry, i) = MathF.FusedMultiplyAdd(s, Unsafe.Add(ref rx, i), Unsafe.Add(ref ry, i));
        }
    }

    /// <summary>
    /// The first pass over one observed entry of a row solve, fused: with t = y . x,
    /// b += cp * y;  q += cw * t * y;  d += cw * y^2 (elementwise); returns t. When <paramref name="copy"/> is not
    /// empty, y is also stored there (the gather of the row's factors rides on the loads of this pass).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FirstPassEntry(ReadOnlySpan<float> y, ReadOnlySpan<float> x, float cp, float cw, Span<float> b, Span<float> q, Span<float> d, Span<float> copy = default)
    {
        var t = Dot(y, x);
        var n = y.Length;
        if (b.Length < n || q.Length < n || d.Length < n)
        {
            throw new ArgumentException("Accumulators are shorter than y.");
        }
        var store = !copy.IsEmpty;
        if (store && copy.Length < n)
        {
            throw new ArgumentException("copy is shorter than y.", nameof(copy));
        }
        ref var rc = ref MemoryMarshal.GetReference(copy);
        var s = cw * t;
        ref var ry = ref MemoryMarshal.GetReference(y);
        ref var rb = ref MemoryMarshal.GetReference(b);
        ref var rq = ref MemoryMarshal.GetReference(q);
        ref var rd = ref MemoryMarshal.GetReference(d);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vcp = Vector256.Create(cp);
            var vs = Vector256.Create(s);
            var vcw = Vector256.Create(cw);
            for (; i <= n - 8; i += 8)
            {
                var vy = Vector256.LoadUnsafe(ref ry, (nuint)i);
                if (store)
                {
                    vy.StoreUnsafe(ref rc, (nuint)i);
                }
                Vector256.FusedMultiplyAdd(vcp, vy, Vector256.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref rb, (nuint)i);
                Vector256.FusedMultiplyAdd(vs, vy, Vector256.LoadUnsafe(ref rq, (nuint)i)).StoreUnsafe(ref rq, (nuint)i);
                Vector256.FusedMultiplyAdd(vcw * vy, vy, Vector256.LoadUnsafe(ref rd, (nuint)i)).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var yi = Unsafe.Add(ref ry, i);
            if (store)
            {
                Unsafe.Add(ref rc, i) = yi;
            }
            Unsafe.Add(ref rb, i) += cp * yi;
            Unsafe.Add(ref rq, i) += s * yi;
            Unsafe.Add(ref rd, i) += cw * yi * yi;
        }
        return t;
    }

    /// <summary>
    /// t_j = y_j . p for the n rows y_j of <paramref name="rows"/> (row-major, n x k contiguous): four rows at a
    /// time with independent accumulators, so p is loaded once per four rows and no FMA waits on another.
    /// </summary>
    public static void RowDots(ReadOnlySpan<float> rows, int n, int k, ReadOnlySpan<float> p, Span<float> t)
    {
        if (rows.Length < n * k || p.Length < k || t.Length < n)
        {
            throw new ArgumentException("Sizes do not match.");
        }
        ref var ry = ref MemoryMarshal.GetReference(rows);
        ref var rp = ref MemoryMarshal.GetReference(p);
        var j = 0;
        if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            var kv = k & ~7;
            for (; j <= n - 4; j += 4)
            {
                ref var y0 = ref Unsafe.Add(ref ry, j * k);
                ref var y1 = ref Unsafe.Add(ref y0, k);
                ref var y2 = ref Unsafe.Add(ref y1, k);
                ref var y3 = ref Unsafe.Add(ref y2, k);
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (var i = 0; i < kv; i += 8)
                {
                    var vp = Vector256.LoadUnsafe(ref rp, (nuint)i);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y0, (nuint)i), vp, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y1, (nuint)i), vp, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y2, (nuint)i), vp, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y3, (nuint)i), vp, a3);
                }
                float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
                for (var i = kv; i < k; i++)
                {
                    var pi = Unsafe.Add(ref rp, i);
                    s0 += Unsafe.Add(ref y0, i) * pi;
                    s1 += Unsafe.Add(ref y1, i) * pi;
                    s2 += Unsafe.Add(ref y2, i) * pi;
                    s3 += Unsafe.Add(ref y3, i) * pi;
                }
                t[j] = s0;
                t[j + 1] = s1;
                t[j + 2] = s2;
                t[j + 3] = s3;
            }
        }
        for (; j < n; j++)
        {
            t[j] = Dot(rows.Slice(j * k, k), p);
        }
    }

    /// <summary>
    /// q += sum_j s_j y_j over the n rows of <paramref name="rows"/> (row-major, n x k contiguous); when
    /// <paramref name="squares"/> is set, q += sum_j s_j y_j^2 (elementwise) instead. Four column vectors are
    /// accumulated at a time, so q is loaded and stored once per 32 columns and the FMA chains are independent.
    /// </summary>
    public static void AddWeightedRows(ReadOnlySpan<float> rows, int n, int k, ReadOnlySpan<float> s, Span<float> q, bool squares = false)
    {
        if (rows.Length < n * k || s.Length < n || q.Length < k)
        {
            throw new ArgumentException("Sizes do not match.");
        }
        ref var ry = ref MemoryMarshal.GetReference(rows);
        ref var rs = ref MemoryMarshal.GetReference(s);
        ref var rq = ref MemoryMarshal.GetReference(q);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= k - 32; i += 32)
            {
                var a0 = Vector256.LoadUnsafe(ref rq, (nuint)i);
                var a1 = Vector256.LoadUnsafe(ref rq, (nuint)(i + 8));
                var a2 = Vector256.LoadUnsafe(ref rq, (nuint)(i + 16));
                var a3 = Vector256.LoadUnsafe(ref rq, (nuint)(i + 24));
                for (var j = 0; j < n; j++)
                {
                    ref var y = ref Unsafe.Add(ref ry, j * k + i);
                    var w = Vector256.Create(Unsafe.Add(ref rs, j));
                    var y0 = Vector256.LoadUnsafe(ref y);
                    var y1 = Vector256.LoadUnsafe(ref y, 8);
                    var y2 = Vector256.LoadUnsafe(ref y, 16);
                    var y3 = Vector256.LoadUnsafe(ref y, 24);
                    if (squares)
                    {
                        y0 *= y0;
                        y1 *= y1;
                        y2 *= y2;
                        y3 *= y3;
                    }
                    a0 = Vector256.FusedMultiplyAdd(w, y0, a0);
                    a1 = Vector256.FusedMultiplyAdd(w, y1, a1);
                    a2 = Vector256.FusedMultiplyAdd(w, y2, a2);
                    a3 = Vector256.FusedMultiplyAdd(w, y3, a3);
                }
                a0.StoreUnsafe(ref rq, (nuint)i);
                a1.StoreUnsafe(ref rq, (nuint)(i + 8));
                a2.StoreUnsafe(ref rq, (nuint)(i + 16));
                a3.StoreUnsafe(ref rq, (nuint)(i + 24));
            }
            for (; i <= k - 8; i += 8)
            {
                var a0 = Vector256.LoadUnsafe(ref rq, (nuint)i);
                var a1 = Vector256<float>.Zero;
                var j = 0;
                for (; j <= n - 2; j += 2)
                {
                    var y0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref ry, j * k + i));
                    var y1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref ry, (j + 1) * k + i));
                    if (squares)
                    {
                        y0 *= y0;
                        y1 *= y1;
                    }
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rs, j)), y0, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rs, j + 1)), y1, a1);
                }
                if (j < n)
                {
                    var y0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref ry, j * k + i));
                    if (squares)
                    {
                        y0 *= y0;
                    }
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rs, j)), y0, a0);
                }
                (a0 + a1).StoreUnsafe(ref rq, (nuint)i);
            }
        }
        for (; i < k; i++)
        {
            var sum = Unsafe.Add(ref rq, i);
            for (var j = 0; j < n; j++)
            {
                var y = Unsafe.Add(ref ry, j * k + i);
                sum += Unsafe.Add(ref rs, j) * (squares ? y * y : y);
            }
            Unsafe.Add(ref rq, i) = sum;
        }
    }

    /// <summary>Asks the cache for the row of k floats at <paramref name="row"/> (a hint; no effect without SSE).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(ref float row, int k) => PrefetchBytes(ref Unsafe.As<float, byte>(ref row), k * sizeof(float));

    /// <summary>Asks the L1 cache for every 64-byte line of <paramref name="bytes"/> bytes from <paramref name="start"/> (a hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void PrefetchBytes(ref byte start, int bytes)
    {
        if (Sse.IsSupported)
        {
            var p = (byte*)Unsafe.AsPointer(ref start);
            for (var offset = 0; offset < bytes; offset += 64)
            {
                Sse.Prefetch0(p + offset);
            }
        }
    }

    /// <summary>
    /// The low-rank part of A p for one row: q += sum_j w_j (y_j . p) y_j over the n rows of
    /// <paramref name="rows"/> (row-major, n x k contiguous).
    /// </summary>
    public static void AddLowRankProduct(ReadOnlySpan<float> rows, ReadOnlySpan<float> w, int n, int k, ReadOnlySpan<float> p, Span<float> q, Span<float> scratch)
    {
        var t = scratch.Slice(0, n);
        RowDots(rows, n, k, p, t);
        for (var j = 0; j < n; j++)
        {
            t[j] *= w[j];
        }
        AddWeightedRows(rows, n, k, t, q);
    }
}

/// <summary>Plain scalar references of <see cref="VectorKernels"/> and <see cref="MatrixKernels"/>.</summary>
public static class ScalarKernels
{
    /// <summary>The bfloat16 nearest to the finite float32 <paramref name="value"/> (ties to even).</summary>
    public static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>The float32 of the bfloat16 <paramref name="value"/> (exact).</summary>
    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    /// <summary>The reference of <see cref="Int8Kernels.Quantize"/>.</summary>
    public static float QuantizeInt8(ReadOnlySpan<float> row, ReadOnlySpan<float> inverseColumnScales, Span<sbyte> dst)
    {
        var max = 0f;
        for (var i = 0; i < row.Length; i++)
        {
            max = MathF.Max(max, MathF.Abs(row[i] * inverseColumnScales[i]));
        }
        var scale = max / 127f;
        var inverse = scale > 0 ? 1f / scale : 0f;
        for (var i = 0; i < row.Length; i++)
        {
            dst[i] = (sbyte)Math.Clamp(MathF.Round(row[i] * inverseColumnScales[i] * inverse), -127f, 127f);
        }
        return scale;
    }

    /// <summary>The reference of <see cref="Int8Kernels.Widen"/>.</summary>
    public static void WidenInt8(ReadOnlySpan<sbyte> q, float rowScale, ReadOnlySpan<float> columnScales, Span<float> dst)
    {
        for (var i = 0; i < q.Length; i++)
        {
            dst[i] = q[i] * rowScale * columnScales[i];
        }
    }

    public static double SquaredNorm(ReadOnlySpan<float> x)
    {
        var sum = 0.0;
        foreach (var v in x)
        {
            sum += (double)v * v;
        }
        return sum;
    }

    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    public static void Axpy(float s, ReadOnlySpan<float> x, Span<float> y)
    {
        for (var i = 0; i < x.Length; i++)
        {
            y[i] += s * x[i];
        }
    }

    public static float FirstPassEntry(ReadOnlySpan<float> y, ReadOnlySpan<float> x, float cp, float cw, Span<float> b, Span<float> q, Span<float> d, Span<float> copy = default)
    {
        var t = Dot(y, x);
        for (var i = 0; i < y.Length; i++)
        {
            if (!copy.IsEmpty)
            {
                copy[i] = y[i];
            }
            b[i] += cp * y[i];
            q[i] += cw * t * y[i];
            d[i] += cw * y[i] * y[i];
        }
        return t;
    }

    public static void RowDots(ReadOnlySpan<float> rows, int n, int k, ReadOnlySpan<float> p, Span<float> t)
    {
        for (var j = 0; j < n; j++)
        {
            t[j] = Dot(rows.Slice(j * k, k), p);
        }
    }

    public static void AddWeightedRows(ReadOnlySpan<float> rows, int n, int k, ReadOnlySpan<float> s, Span<float> q, bool squares = false)
    {
        for (var j = 0; j < n; j++)
        {
            for (var i = 0; i < k; i++)
            {
                var y = rows[j * k + i];
                q[i] += s[j] * (squares ? y * y : y);
            }
        }
    }

    /// <summary>c (rows x k) = a (rows x k) * m (k x k), all row-major.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int rows, int k, ReadOnlySpan<float> m, Span<float> c)
    {
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < k; j++)
            {
                double sum = 0;
                for (var p = 0; p < k; p++)
                {
                    sum += (double)a[r * k + p] * m[p * k + j];
                }
                c[r * k + j] = (float)sum;
            }
        }
    }

    /// <summary>gram (k x k, row-major) += a^T a for a (rows x k).</summary>
    public static void AddGram(ReadOnlySpan<float> a, int rows, int k, Span<double> gram)
    {
        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < k; i++)
            {
                for (var j = 0; j < k; j++)
                {
                    gram[i * k + j] += (double)a[r * k + i] * a[r * k + j];
                }
            }
        }
    }
}
