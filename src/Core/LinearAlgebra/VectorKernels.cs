using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    /// b += cp * y;  q += cw * t * y;  d += cw * y^2 (elementwise); returns t.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FirstPassEntry(ReadOnlySpan<float> y, ReadOnlySpan<float> x, float cp, float cw, Span<float> b, Span<float> q, Span<float> d)
    {
        var t = Dot(y, x);
        var n = y.Length;
        if (b.Length < n || q.Length < n || d.Length < n)
        {
            throw new ArgumentException("Accumulators are shorter than y.");
        }
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
                Vector256.FusedMultiplyAdd(vcp, vy, Vector256.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref rb, (nuint)i);
                Vector256.FusedMultiplyAdd(vs, vy, Vector256.LoadUnsafe(ref rq, (nuint)i)).StoreUnsafe(ref rq, (nuint)i);
                Vector256.FusedMultiplyAdd(vcw * vy, vy, Vector256.LoadUnsafe(ref rd, (nuint)i)).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var yi = Unsafe.Add(ref ry, i);
            Unsafe.Add(ref rb, i) += cp * yi;
            Unsafe.Add(ref rq, i) += s * yi;
            Unsafe.Add(ref rd, i) += cw * yi * yi;
        }
        return t;
    }

    /// <summary>
    /// The low-rank part of A p for one row: q += sum_j w_j (y_j . p) y_j over the n rows of
    /// <paramref name="rows"/> (row-major, n x k contiguous).
    /// </summary>
    public static void AddLowRankProduct(ReadOnlySpan<float> rows, ReadOnlySpan<float> w, int n, int k, ReadOnlySpan<float> p, Span<float> q)
    {
        for (var j = 0; j < n; j++)
        {
            var y = rows.Slice(j * k, k);
            var t = w[j] * Dot(y, p);
            Axpy(t, y, q);
        }
    }
}

/// <summary>Plain scalar references of <see cref="VectorKernels"/> and <see cref="MatrixKernels"/>.</summary>
public static class ScalarKernels
{
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

    public static float FirstPassEntry(ReadOnlySpan<float> y, ReadOnlySpan<float> x, float cp, float cw, Span<float> b, Span<float> q, Span<float> d)
    {
        var t = Dot(y, x);
        for (var i = 0; i < y.Length; i++)
        {
            b[i] += cp * y[i];
            q[i] += cw * t * y[i];
            d[i] += cw * y[i] * y[i];
        }
        return t;
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
