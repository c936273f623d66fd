using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// The O(k) vector updates of one (preconditioned) conjugate-gradient row solve in the eigenbasis of G, each fused
/// into one pass over the k entries (Vector256 path, scalar remainder). Notation: D0 = w0 lambda + lambda_u (the
/// diagonal part of A'), M^-1 the Jacobi preconditioner, r the residual, z = M^-1 r, p the search direction.
/// <see cref="CgScalarKernels"/> holds the plain references.
/// </summary>
public static class CgKernels
{
    /// <summary>
    /// Start of the solve, after the first pass gave b, q = (low-rank part of A) x and d = diag of the low-rank part:
    /// D0 = w0 eig + lambda_u; r = b - (D0 x + q); M^-1 = jacobi ? 1 / max(D0 + d, floor) : 1; z = M^-1 r; p = z.
    /// Returns (r . z, sum eig x^2, x . x).
    /// </summary>
    public static (float Rz, float EigXX, float XX) Start(
        ReadOnlySpan<float> eig, float w0, float lambdaU, bool jacobi, float floor,
        ReadOnlySpan<float> b, ReadOnlySpan<float> q, ReadOnlySpan<float> d, ReadOnlySpan<float> x,
        Span<float> d0, Span<float> r, Span<float> minv, Span<float> z, Span<float> p)
    {
        var k = x.Length;
        Check(k, eig.Length, b.Length, q.Length, d.Length, d0.Length, r.Length, minv.Length, z.Length, p.Length);
        ref var re = ref MemoryMarshal.GetReference(eig);
        ref var rb = ref MemoryMarshal.GetReference(b);
        ref var rq = ref MemoryMarshal.GetReference(q);
        ref var rd = ref MemoryMarshal.GetReference(d);
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var rd0 = ref MemoryMarshal.GetReference(d0);
        ref var rr = ref MemoryMarshal.GetReference(r);
        ref var rm = ref MemoryMarshal.GetReference(minv);
        ref var rz = ref MemoryMarshal.GetReference(z);
        ref var rp = ref MemoryMarshal.GetReference(p);
        var i = 0;
        float sRz = 0, sEig = 0, sXX = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vw0 = Vector256.Create(w0);
            var vl = Vector256.Create(lambdaU);
            var vfloor = Vector256.Create(floor);
            var one = Vector256<float>.One;
            Vector256<float> aRz = default, aEig = default, aXX = default;
            for (; i <= k - 8; i += 8)
            {
                var ve = Vector256.LoadUnsafe(ref re, (nuint)i);
                var vx = Vector256.LoadUnsafe(ref rx, (nuint)i);
                var vd0 = Vector256.FusedMultiplyAdd(vw0, ve, vl);
                var vr = Vector256.LoadUnsafe(ref rb, (nuint)i) - Vector256.FusedMultiplyAdd(vd0, vx, Vector256.LoadUnsafe(ref rq, (nuint)i));
                var vm = jacobi ? one / Vector256.Max(vd0 + Vector256.LoadUnsafe(ref rd, (nuint)i), vfloor) : one;
                var vz = vm * vr;
                vd0.StoreUnsafe(ref rd0, (nuint)i);
                vr.StoreUnsafe(ref rr, (nuint)i);
                vm.StoreUnsafe(ref rm, (nuint)i);
                vz.StoreUnsafe(ref rz, (nuint)i);
                vz.StoreUnsafe(ref rp, (nuint)i);
                aRz = Vector256.FusedMultiplyAdd(vr, vz, aRz);
                aEig = Vector256.FusedMultiplyAdd(ve * vx, vx, aEig);
                aXX = Vector256.FusedMultiplyAdd(vx, vx, aXX);
            }
            sRz = Vector256.Sum(aRz);
            sEig = Vector256.Sum(aEig);
            sXX = Vector256.Sum(aXX);
        }
        for (; i < k; i++)
        {
            var e = Unsafe.Add(ref re, i);
            var xi = Unsafe.Add(ref rx, i);
            var dd = w0 * e + lambdaU;
            var ri = Unsafe.Add(ref rb, i) - (dd * xi + Unsafe.Add(ref rq, i));
            var mi = jacobi ? 1f / MathF.Max(dd + Unsafe.Add(ref rd, i), floor) : 1f;
            Unsafe.Add(ref rd0, i) = dd;
            Unsafe.Add(ref rr, i) = ri;
            Unsafe.Add(ref rm, i) = mi;
            Unsafe.Add(ref rz, i) = mi * ri;
            Unsafe.Add(ref rp, i) = mi * ri;
            sRz += ri * mi * ri;
            sEig += e * xi * xi;
            sXX += xi * xi;
        }
        return (sRz, sEig, sXX);
    }

    /// <summary>p = z + beta p (skipped when <paramref name="first"/>: p already equals z); ap = D0 p.</summary>
    public static void Direction(bool first, float beta, ReadOnlySpan<float> z, ReadOnlySpan<float> d0, Span<float> p, Span<float> ap)
    {
        var k = p.Length;
        Check(k, z.Length, d0.Length, ap.Length);
        ref var rz = ref MemoryMarshal.GetReference(z);
        ref var rd0 = ref MemoryMarshal.GetReference(d0);
        ref var rp = ref MemoryMarshal.GetReference(p);
        ref var rap = ref MemoryMarshal.GetReference(ap);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(first ? 0f : beta);
            for (; i <= k - 8; i += 8)
            {
                var vp = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref rp, (nuint)i), Vector256.LoadUnsafe(ref rz, (nuint)i));
                vp.StoreUnsafe(ref rp, (nuint)i);
                (Vector256.LoadUnsafe(ref rd0, (nuint)i) * vp).StoreUnsafe(ref rap, (nuint)i);
            }
        }
        for (; i < k; i++)
        {
            var pi = first ? Unsafe.Add(ref rz, i) : Unsafe.Add(ref rz, i) + beta * Unsafe.Add(ref rp, i);
            Unsafe.Add(ref rp, i) = pi;
            Unsafe.Add(ref rap, i) = Unsafe.Add(ref rd0, i) * pi;
        }
    }

    /// <summary>x += alpha p; r -= alpha ap; z = M^-1 r; returns r . z.</summary>
    public static float Update(float alpha, ReadOnlySpan<float> p, ReadOnlySpan<float> ap, ReadOnlySpan<float> minv, Span<float> x, Span<float> r, Span<float> z)
    {
        var k = x.Length;
        Check(k, p.Length, ap.Length, minv.Length, r.Length, z.Length);
        ref var rp = ref MemoryMarshal.GetReference(p);
        ref var rap = ref MemoryMarshal.GetReference(ap);
        ref var rm = ref MemoryMarshal.GetReference(minv);
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var rr = ref MemoryMarshal.GetReference(r);
        ref var rz = ref MemoryMarshal.GetReference(z);
        var i = 0;
        var sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            var vna = Vector256.Create(-alpha);
            var acc = Vector256<float>.Zero;
            for (; i <= k - 8; i += 8)
            {
                Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref rp, (nuint)i), Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref rx, (nuint)i);
                var vr = Vector256.FusedMultiplyAdd(vna, Vector256.LoadUnsafe(ref rap, (nuint)i), Vector256.LoadUnsafe(ref rr, (nuint)i));
                vr.StoreUnsafe(ref rr, (nuint)i);
                var vz = Vector256.LoadUnsafe(ref rm, (nuint)i) * vr;
                vz.StoreUnsafe(ref rz, (nuint)i);
                acc = Vector256.FusedMultiplyAdd(vr, vz, acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < k; i++)
        {
            Unsafe.Add(ref rx, i) += alpha * Unsafe.Add(ref rp, i);
            var ri = Unsafe.Add(ref rr, i) - alpha * Unsafe.Add(ref rap, i);
            Unsafe.Add(ref rr, i) = ri;
            var zi = Unsafe.Add(ref rm, i) * ri;
            Unsafe.Add(ref rz, i) = zi;
            sum += ri * zi;
        }
        return sum;
    }

    private static void Check(int k, params ReadOnlySpan<int> lengths)
    {
        foreach (var length in lengths)
        {
            if (length < k)
            {
                throw new ArgumentException($"A vector has {length} entries, fewer than k = {k}.");
            }
        }
    }
}

/// <summary>Plain references of <see cref="CgKernels"/>.</summary>
public static class CgScalarKernels
{
    public static (float Rz, float EigXX, float XX) Start(
        ReadOnlySpan<float> eig, float w0, float lambdaU, bool jacobi, float floor,
        ReadOnlySpan<float> b, ReadOnlySpan<float> q, ReadOnlySpan<float> d, ReadOnlySpan<float> x,
        Span<float> d0, Span<float> r, Span<float> minv, Span<float> z, Span<float> p)
    {
        float rz = 0, eigXX = 0, xx = 0;
        for (var i = 0; i < x.Length; i++)
        {
            d0[i] = w0 * eig[i] + lambdaU;
            r[i] = b[i] - (d0[i] * x[i] + q[i]);
            minv[i] = jacobi ? 1f / MathF.Max(d0[i] + d[i], floor) : 1f;
            z[i] = minv[i] * r[i];
            p[i] = z[i];
            rz += r[i] * z[i];
            eigXX += eig[i] * x[i] * x[i];
            xx += x[i] * x[i];
        }
        return (rz, eigXX, xx);
    }

    public static void Direction(bool first, float beta, ReadOnlySpan<float> z, ReadOnlySpan<float> d0, Span<float> p, Span<float> ap)
    {
        for (var i = 0; i < p.Length; i++)
        {
            p[i] = first ? z[i] : z[i] + beta * p[i];
            ap[i] = d0[i] * p[i];
        }
    }

    public static float Update(float alpha, ReadOnlySpan<float> p, ReadOnlySpan<float> ap, ReadOnlySpan<float> minv, Span<float> x, Span<float> r, Span<float> z)
    {
        var sum = 0f;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
            z[i] = minv[i] * r[i];
            sum += r[i] * z[i];
        }
        return sum;
    }
}
