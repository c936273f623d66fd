using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// The per-entry work of a row solve, four of the row's entries at a time in ONE pass over their factor rows y_j:
/// their dot products first (independent accumulators), then the updates while the four rows are still in L1.
/// A CG step thus reads the row's gathered factors once, however large k is (at k = 256 a heavy row's factors do not
/// fit the L2 cache, and a dot pass followed by a separate update pass would read them twice).
/// <see cref="ScalarKernels"/> and <see cref="VectorKernels"/> give the references (Dot, Axpy, FirstPassEntry).
/// </summary>
public static class RowBlockKernels
{
    /// <summary>The four dot products y_j . v with independent accumulators (v loaded once per 8 entries).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float, float, float, float) Dots4(ref float y0, ref float y1, ref float y2, ref float y3, ref float v, int k)
    {
        var i = 0;
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        var kv = Vector256.IsHardwareAccelerated ? k & ~7 : 0;
        if (kv > 0)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i < kv; i += 8)
            {
                var vv = Vector256.LoadUnsafe(ref v, (nuint)i);
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y0, (nuint)i), vv, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y1, (nuint)i), vv, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y2, (nuint)i), vv, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y3, (nuint)i), vv, a3);
            }
            t0 = Vector256.Sum(a0);
            t1 = Vector256.Sum(a1);
            t2 = Vector256.Sum(a2);
            t3 = Vector256.Sum(a3);
        }
        for (; i < k; i++)
        {
            var vi = Unsafe.Add(ref v, i);
            t0 += Unsafe.Add(ref y0, i) * vi;
            t1 += Unsafe.Add(ref y1, i) * vi;
            t2 += Unsafe.Add(ref y2, i) * vi;
            t3 += Unsafe.Add(ref y3, i) * vi;
        }
        return (t0, t1, t2, t3);
    }

    /// <summary>ap += sum_j w_j (y_j . p) y_j over four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LowRank4(ref float y0, ref float y1, ref float y2, ref float y3, float w0, float w1, float w2, float w3, ref float p, ref float ap, int k)
    {
        var (t0, t1, t2, t3) = Dots4(ref y0, ref y1, ref y2, ref y3, ref p, k);
        float s0 = w0 * t0, s1 = w1 * t1, s2 = w2 * t2, s3 = w3 * t3;
        var i = 0;
        var kv = Vector256.IsHardwareAccelerated ? k & ~7 : 0;
        if (kv > 0)
        {
            var v0 = Vector256.Create(s0);
            var v1 = Vector256.Create(s1);
            var v2 = Vector256.Create(s2);
            var v3 = Vector256.Create(s3);
            for (; i < kv; i += 8)
            {
                var acc = Vector256.LoadUnsafe(ref ap, (nuint)i);
                acc = Vector256.FusedMultiplyAdd(v0, Vector256.LoadUnsafe(ref y0, (nuint)i), acc);
                acc = Vector256.FusedMultiplyAdd(v1, Vector256.LoadUnsafe(ref y1, (nuint)i), acc);
                acc = Vector256.FusedMultiplyAdd(v2, Vector256.LoadUnsafe(ref y2, (nuint)i), acc);
                acc = Vector256.FusedMultiplyAdd(v3, Vector256.LoadUnsafe(ref y3, (nuint)i), acc);
                acc.StoreUnsafe(ref ap, (nuint)i);
            }
        }
        for (; i < k; i++)
        {
            Unsafe.Add(ref ap, i) += s0 * Unsafe.Add(ref y0, i) + s1 * Unsafe.Add(ref y1, i) + s2 * Unsafe.Add(ref y2, i) + s3 * Unsafe.Add(ref y3, i);
        }
    }

    /// <summary>
    /// The first pass over four entries: t_j = y_j . x; b += (cp_j - cw_j t_j) y_j; d += cw_j y_j^2. The residual needs
    /// only b - q (the right-hand side minus the low-rank part q = sum cw_j t_j y_j of A x), so that difference is
    /// accumulated in b in one multiply-add per element instead of two (<see cref="VectorKernels.FirstPassEntry"/>, for
    /// single entries, keeps b and q apart; the CG start subtracts q).
    /// Returns the observed loss of the four entries at x, sum cp_j (1 - 2 t_j) + cw_j t_j^2.
    /// With <paramref name="zeroStart"/> x is taken as 0 and not read (every t_j = 0, no dot products) and 0 is returned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double First4(ref float y0, ref float y1, ref float y2, ref float y3,
        float cp0, float cp1, float cp2, float cp3, float cw0, float cw1, float cw2, float cw3,
        ref float x, ref float b, ref float d, int k, bool zeroStart = false)
    {
        var (t0, t1, t2, t3) = zeroStart ? default : Dots4(ref y0, ref y1, ref y2, ref y3, ref x, k);
        float c0 = cp0 - cw0 * t0, c1 = cp1 - cw1 * t1, c2 = cp2 - cw2 * t2, c3 = cp3 - cw3 * t3;
        var i = 0;
        var kv = Vector256.IsHardwareAccelerated ? k & ~7 : 0;
        if (kv > 0)
        {
            Vector256<float> p0 = Vector256.Create(c0), p1 = Vector256.Create(c1), p2 = Vector256.Create(c2), p3 = Vector256.Create(c3);
            Vector256<float> w0 = Vector256.Create(cw0), w1 = Vector256.Create(cw1), w2 = Vector256.Create(cw2), w3 = Vector256.Create(cw3);
            for (; i < kv; i += 8)
            {
                var v0 = Vector256.LoadUnsafe(ref y0, (nuint)i);
                var v1 = Vector256.LoadUnsafe(ref y1, (nuint)i);
                var v2 = Vector256.LoadUnsafe(ref y2, (nuint)i);
                var v3 = Vector256.LoadUnsafe(ref y3, (nuint)i);
                var vb = Vector256.LoadUnsafe(ref b, (nuint)i);
                vb = Vector256.FusedMultiplyAdd(p0, v0, vb);
                vb = Vector256.FusedMultiplyAdd(p1, v1, vb);
                vb = Vector256.FusedMultiplyAdd(p2, v2, vb);
                vb = Vector256.FusedMultiplyAdd(p3, v3, vb);
                vb.StoreUnsafe(ref b, (nuint)i);
                var vd = Vector256.LoadUnsafe(ref d, (nuint)i);
                vd = Vector256.FusedMultiplyAdd(w0 * v0, v0, vd);
                vd = Vector256.FusedMultiplyAdd(w1 * v1, v1, vd);
                vd = Vector256.FusedMultiplyAdd(w2 * v2, v2, vd);
                vd = Vector256.FusedMultiplyAdd(w3 * v3, v3, vd);
                vd.StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < k; i++)
        {
            float a = Unsafe.Add(ref y0, i), bb = Unsafe.Add(ref y1, i), c = Unsafe.Add(ref y2, i), e = Unsafe.Add(ref y3, i);
            Unsafe.Add(ref b, i) += c0 * a + c1 * bb + c2 * c + c3 * e;
            Unsafe.Add(ref d, i) += cw0 * a * a + cw1 * bb * bb + cw2 * c * c + cw3 * e * e;
        }
        return zeroStart ? 0 : Loss4(t0, t1, t2, t3, cp0, cp1, cp2, cp3, cw0, cw1, cw2, cw3);
    }

    private static double Loss4(float t0, float t1, float t2, float t3,
        float cp0, float cp1, float cp2, float cp3, float cw0, float cw1, float cw2, float cw3) =>
        cp0 * (1.0 - 2.0 * t0) + (double)cw0 * t0 * t0
        + cp1 * (1.0 - 2.0 * t1) + (double)cw1 * t1 * t1
        + cp2 * (1.0 - 2.0 * t2) + (double)cw2 * t2 * t2
        + cp3 * (1.0 - 2.0 * t3) + (double)cw3 * t3 * t3;
}
