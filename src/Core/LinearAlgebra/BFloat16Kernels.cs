using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// bfloat16 copies of factor rows: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 stored mantissa bits),
/// rounded to nearest even. Widening back is exact and costs one shift, so a half-step can read its fixed side's
/// rows at half the bytes and solve against the rounded rows in float32.
/// <see cref="ScalarKernels.ToBFloat16"/> and <see cref="ScalarKernels.FromBFloat16"/> are the references.
/// </summary>
public static class BFloat16Kernels
{
    /// <summary>dst[i] = bfloat16(src[i]), rounded to nearest even; the values must be finite.</summary>
    public static void Round(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        var n = src.Length;
        if (dst.Length < n)
        {
            throw new ArgumentException("dst is shorter than src.", nameof(dst));
        }
        ref var rs = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(src));
        ref var rd = ref MemoryMarshal.GetReference(dst);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bias = Vector256.Create(0x7FFFu);
            var one = Vector256.Create(1u);
            for (; i <= n - 16; i += 16)
            {
                var a = Vector256.LoadUnsafe(ref rs, (nuint)i);
                var b = Vector256.LoadUnsafe(ref rs, (nuint)(i + 8));
                a = Vector256.ShiftRightLogical(a + bias + (Vector256.ShiftRightLogical(a, 16) & one), 16);
                b = Vector256.ShiftRightLogical(b + bias + (Vector256.ShiftRightLogical(b, 16) & one), 16);
                Vector256.Narrow(a, b).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref rd, i) = ScalarKernels.ToBFloat16(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref rs, i)));
        }
    }

    private static readonly ConditionalWeakTable<float[], ushort[]> Copies = new();

    private static long _copiesMade;

    /// <summary>How many fixed-side copies <see cref="RoundParallel"/> has made in this process (one per half-step).</summary>
    public static long CopiesMade => Interlocked.Read(ref _copiesMade);

    /// <summary>
    /// Rounds <paramref name="src"/> in parallel into its bfloat16 copy (the fixed side of one half-step). The copy's
    /// array is kept with <paramref name="src"/> and reused by later calls, so a training run allocates it once per side.
    /// </summary>
    public static ushort[] RoundParallel(float[] src, int threads)
    {
        if (!Copies.TryGetValue(src, out var dst) || dst.Length != src.Length)
        {
            dst = FactorArrays.Allocate<ushort>(src.Length);
            Copies.AddOrUpdate(src, dst);
        }
        Interlocked.Increment(ref _copiesMade);
        const int block = 1 << 16;
        var blocks = (src.Length + block - 1) / block;
        Parallel.For(0, blocks, Parallelism.Options(threads), b =>
        {
            var start = b * block;
            var length = Math.Min(block, src.Length - start);
            Round(src.AsSpan(start, length), dst.AsSpan(start, length));
        });
        return dst;
    }

    /// <summary>Drops the copy kept with <paramref name="src"/> (at the end of a training run; a later call makes a new one).</summary>
    public static void ReleaseCopy(float[] src) => Copies.Remove(src);

    /// <summary>How many copies are kept in this process now (for checks that runs release theirs).</summary>
    public static int CopiesHeld => Copies.Count();

    /// <summary>dst[0..k) = float32(src[0..k)), exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen(ref ushort src, ref float dst, int k)
    {
        var i = 0;
        if (Avx2.IsSupported)
        {
            for (; i <= k - 16; i += 16)
            {
                var h0 = Vector128.LoadUnsafe(ref src, (nuint)i);
                var h1 = Vector128.LoadUnsafe(ref src, (nuint)(i + 8));
                Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(h0), 16).AsSingle().StoreUnsafe(ref dst, (nuint)i);
                Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(h1), 16).AsSingle().StoreUnsafe(ref dst, (nuint)(i + 8));
            }
        }
        for (; i < k; i++)
        {
            Unsafe.Add(ref dst, i) = ScalarKernels.FromBFloat16(Unsafe.Add(ref src, i));
        }
    }

    /// <summary>Asks the cache for the bfloat16 row of k values at <paramref name="row"/> (a hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(ref ushort row, int k) => VectorKernels.PrefetchBytes(ref Unsafe.As<ushort, byte>(ref row), k * sizeof(ushort));
}
