using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// Dense products over row-major float matrices: the rotation C = A M of factor rows by a k x k matrix
/// and the Gram matrix G = A^T A. Both run a register-blocked 6 x 16 micro-kernel (12 Vector256
/// accumulators, two loads and six broadcasts per step of the reduction), with 6 x 8, 1 x 16 and 1 x 8
/// kernels and a scalar loop for the edges. <see cref="ScalarKernels"/> has the references.
/// </summary>
public static unsafe class MatrixKernels
{
    private const int Mr = 6;
    private const int ChunkRows = 48;
    private const int GramChunkRows = 256;

    /// <summary>a (rows x k) = a * m (m is k x k), in place, parallel over chunks of rows.</summary>
    public static void MultiplyInPlace(float[] a, int rows, int k, float[] m, int threads)
    {
        if (a.Length < (long)rows * k || m.Length < k * k)
        {
            throw new ArgumentException("Matrix sizes do not match.");
        }
        var packed = PackPanels(m, k);
        var chunks = (rows + ChunkRows - 1) / ChunkRows;
        Parallel.For(0, chunks, Parallelism.Options(threads),
            () => new float[ChunkRows * k],
            (chunk, _, buffer) =>
            {
                var r0 = chunk * ChunkRows;
                var n = Math.Min(ChunkRows, rows - r0);
                var slice = a.AsSpan(r0 * k, n * k);
                MultiplyPacked(slice, n, k, packed, buffer);
                buffer.AsSpan(0, n * k).CopyTo(slice);
                return buffer;
            },
            _ => { });
    }

    /// <summary>c (rows x k) = a (rows x k) * m (k x k), single-threaded.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int rows, int k, ReadOnlySpan<float> m, Span<float> c)
    {
        if (a.Length < rows * k || m.Length < k * k || c.Length < rows * k)
        {
            throw new ArgumentException("Matrix sizes do not match.");
        }
        MultiplyPacked(a, rows, k, PackPanels(m, k), c);
    }

    /// <summary>
    /// m (k x k, row-major) as contiguous panels of 16 columns: element (p, 16 q + jj) at [(q k + p) 16 + jj], the last
    /// panel padded with zeros. A panel is then one 16 k-float block, read sequentially by the micro-kernel (in m itself
    /// a panel's rows lie k floats apart, and at k = 256 they all fall into four L1 sets).
    /// </summary>
    public static float[] PackPanels(ReadOnlySpan<float> m, int k)
    {
        var panels = (k + 15) / 16;
        var packed = new float[panels * k * 16];
        for (var q = 0; q < panels; q++)
        {
            var width = Math.Min(16, k - q * 16);
            for (var p = 0; p < k; p++)
            {
                m.Slice(p * k + q * 16, width).CopyTo(packed.AsSpan((q * k + p) * 16, width));
            }
        }
        return packed;
    }

    /// <summary>c = a * m with m given as <see cref="PackPanels"/>: for each panel (held in L1), every 6-row block of a.</summary>
    private static void MultiplyPacked(ReadOnlySpan<float> a, int rows, int k, float[] packed, Span<float> c)
    {
        if (rows == 0 || k == 0)
        {
            return;
        }
        var tile = stackalloc float[Mr * 16];
        fixed (float* pa = a, pm = packed, pc = c)
        {
            for (var j0 = 0; j0 < k; j0 += 16)
            {
                var nr = Math.Min(16, k - j0);
                var panel = pm + (long)j0 * k;
                for (var r0 = 0; r0 < rows; r0 += Mr)
                {
                    var mr = Math.Min(Mr, rows - r0);
                    Tile(pa + (long)r0 * k, k, 1, mr, panel, 16, 16, k, tile);
                    for (var i = 0; i < mr; i++)
                    {
                        new ReadOnlySpan<float>(tile + i * 16, nr).CopyTo(new Span<float>(pc + (long)(r0 + i) * k + j0, nr));
                    }
                }
            }
        }
    }

    /// <summary>
    /// gram (k x k row-major, double) += a^T a for a (rows x k), in parallel. The chunks of rows are split into four
    /// contiguous ranges per thread (so that a slow thread can be helped), each summed in order and the ranges added in
    /// order, so that the result depends on the thread count only, not on the scheduling (the 8-bit gathers take their column scales from the
    /// eigenvalues, where a last-bit difference would move some rounded entries).
    /// </summary>
    public static void AddGram(float[] a, int rows, int k, double[] gram, int threads)
    {
        if (a.Length < (long)rows * k || gram.Length < k * k)
        {
            throw new ArgumentException("Matrix sizes do not match.");
        }
        var chunks = (rows + GramChunkRows - 1) / GramChunkRows;
        var parts = Math.Max(1, Math.Min(chunks, 4 * Math.Max(1, threads)));
        var partials = new double[parts][];
        Parallel.For(0, parts, Parallelism.Options(threads), part =>
        {
            var local = new double[k * k];
            var end = (int)((long)chunks * (part + 1) / parts);
            for (var chunk = (int)((long)chunks * part / parts); chunk < end; chunk++)
            {
                var r0 = chunk * GramChunkRows;
                var n = Math.Min(GramChunkRows, rows - r0);
                AddGramUpper(a.AsSpan(r0 * k, n * k), n, k, local);
            }
            partials[part] = local;
        });
        foreach (var local in partials)
        {
            for (var i = 0; i < k; i++)
            {
                for (var j = i; j < k; j++)
                {
                    gram[i * k + j] += local[i * k + j];
                }
            }
        }
        MirrorUpper(gram, k);
    }

    /// <summary>gram += a^T a, single-threaded; the whole matrix is updated.</summary>
    public static void AddGram(ReadOnlySpan<float> a, int rows, int k, Span<double> gram)
    {
        var upper = new double[k * k];
        for (var r0 = 0; r0 < rows; r0 += GramChunkRows)
        {
            var n = Math.Min(GramChunkRows, rows - r0);
            AddGramUpper(a.Slice(r0 * k, n * k), n, k, upper);
        }
        MirrorUpper(upper, k);
        for (var i = 0; i < k * k; i++)
        {
            gram[i] += upper[i];
        }
    }

    /// <summary>Adds a^T a into the upper triangle (j >= i) of gram; float accumulation over at most 256 rows.</summary>
    private static void AddGramUpper(ReadOnlySpan<float> a, int rows, int k, double[] gram)
    {
        if (rows == 0 || k == 0)
        {
            return;
        }
        // The chunk of rows as contiguous 16-column panels (rows x 16 each, zero padded): both operands of every tile
        // are then read sequentially, (ii, p) of the left one at panel(i0) + p * 16 + i0 % 16.
        var panels = (k + 15) / 16;
        var packed = System.Buffers.ArrayPool<float>.Shared.Rent(panels * rows * 16);
        try
        {
            Array.Clear(packed, 0, panels * rows * 16);
            for (var p = 0; p < rows; p++)
            {
                for (var q = 0; q < panels; q++)
                {
                    var width = Math.Min(16, k - q * 16);
                    a.Slice(p * k + q * 16, width).CopyTo(packed.AsSpan((q * rows + p) * 16, width));
                }
            }
            var tile = stackalloc float[Mr * 16];
            fixed (float* pp = packed)
            {
                for (var qi = 0; qi < panels; qi++)
                {
                    // Row blocks of 6, 6 and 4 inside each 16-column panel, so that a block never straddles two panels.
                    for (var offset = 0; offset < 16 && qi * 16 + offset < k; offset += Mr)
                    {
                        var i0 = qi * 16 + offset;
                        var mr = Math.Min(Math.Min(Mr, 16 - offset), k - i0);
                        var left = pp + (long)qi * rows * 16 + offset;
                        // Tiles that hold some j >= i start at the panel containing i0.
                        for (var qj = qi; qj < panels; qj++)
                        {
                            var j0 = qj * 16;
                            var nr = Math.Min(16, k - j0);
                            Tile(left, 1, 16, mr, pp + (long)qj * rows * 16, 16, 16, rows, tile);
                            for (var ii = 0; ii < mr; ii++)
                            {
                                var i = i0 + ii;
                                var row = gram.AsSpan(i * k);
                                for (var jj = Math.Max(0, i - j0); jj < nr; jj++)
                                {
                                    row[j0 + jj] += tile[ii * 16 + jj];
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(packed);
        }
    }

    private static void MirrorUpper(Span<double> gram, int k)
    {
        for (var i = 0; i < k; i++)
        {
            for (var j = i + 1; j < k; j++)
            {
                gram[j * k + i] = gram[i * k + j];
            }
        }
    }

    /// <summary>
    /// tile[ii, jj] = sum_p L(ii, p) * R(p, jj) for ii &lt; mr, jj &lt; nr, where L(ii, p) = l[ii * ls + p * lp]
    /// and R(p, jj) = r[p * rs + jj]. The tile has a row stride of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(float* l, int ls, int lp, int mr, float* r, int rs, int nr, int depth, float* tile)
    {
        if (Vector256.IsHardwareAccelerated && mr == Mr && nr == 16)
        {
            Kernel6x16(l, ls, lp, r, rs, depth, tile);
        }
        else if (Vector256.IsHardwareAccelerated && mr == 4 && nr == 16)
        {
            Kernel4x16(l, ls, lp, r, rs, depth, tile);
        }
        else if (Vector256.IsHardwareAccelerated && mr == Mr && nr >= 8)
        {
            Kernel6x8(l, ls, lp, r, rs, depth, tile);
            if (nr > 8)
            {
                ScalarTile(l, ls, lp, mr, r + 8, rs, nr - 8, depth, tile + 8);
            }
        }
        else if (Vector256.IsHardwareAccelerated && nr >= 8)
        {
            for (var ii = 0; ii < mr; ii++)
            {
                Kernel1x8(l + ii * ls, lp, r, rs, depth, tile + ii * 16);
                if (nr == 16)
                {
                    Kernel1x8(l + ii * ls, lp, r + 8, rs, depth, tile + ii * 16 + 8);
                }
                else if (nr > 8)
                {
                    ScalarTile(l + ii * ls, ls, lp, 1, r + 8, rs, nr - 8, depth, tile + ii * 16 + 8);
                }
            }
        }
        else
        {
            ScalarTile(l, ls, lp, mr, r, rs, nr, depth, tile);
        }
    }

    private static void ScalarTile(float* l, int ls, int lp, int mr, float* r, int rs, int nr, int depth, float* tile)
    {
        for (var ii = 0; ii < mr; ii++)
        {
            for (var jj = 0; jj < nr; jj++)
            {
                var sum = 0f;
                for (var p = 0; p < depth; p++)
                {
                    sum = MathF.FusedMultiplyAdd(l[ii * ls + (long)p * lp], r[(long)p * rs + jj], sum);
                }
                tile[ii * 16 + jj] = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(float* l, int ls, int lp, float* r, int rs, int depth, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* l0 = l, l1 = l + ls, l2 = l + 2 * ls, l3 = l + 3 * ls, l4 = l + 4 * ls, l5 = l + 5 * ls;
        for (var p = 0; p < depth; p++)
        {
            var rp = r + (long)p * rs;
            var r0 = Vector256.Load(rp);
            var r1 = Vector256.Load(rp + 8);
            long o = (long)p * lp;
            var a = Vector256.Create(l0[o]);
            c00 = Vector256.FusedMultiplyAdd(a, r0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, r1, c01);
            a = Vector256.Create(l1[o]);
            c10 = Vector256.FusedMultiplyAdd(a, r0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, r1, c11);
            a = Vector256.Create(l2[o]);
            c20 = Vector256.FusedMultiplyAdd(a, r0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, r1, c21);
            a = Vector256.Create(l3[o]);
            c30 = Vector256.FusedMultiplyAdd(a, r0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, r1, c31);
            a = Vector256.Create(l4[o]);
            c40 = Vector256.FusedMultiplyAdd(a, r0, c40);
            c41 = Vector256.FusedMultiplyAdd(a, r1, c41);
            a = Vector256.Create(l5[o]);
            c50 = Vector256.FusedMultiplyAdd(a, r0, c50);
            c51 = Vector256.FusedMultiplyAdd(a, r1, c51);
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
    }

    /// <summary>The 4-row block of a 16-column panel (the Gram's row blocks are 6, 6 and 4 per panel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x16(float* l, int ls, int lp, float* r, int rs, int depth, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        float* l0 = l, l1 = l + ls, l2 = l + 2 * ls, l3 = l + 3 * ls;
        for (var p = 0; p < depth; p++)
        {
            var rp = r + (long)p * rs;
            var r0 = Vector256.Load(rp);
            var r1 = Vector256.Load(rp + 8);
            long o = (long)p * lp;
            var a = Vector256.Create(l0[o]);
            c00 = Vector256.FusedMultiplyAdd(a, r0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, r1, c01);
            a = Vector256.Create(l1[o]);
            c10 = Vector256.FusedMultiplyAdd(a, r0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, r1, c11);
            a = Vector256.Create(l2[o]);
            c20 = Vector256.FusedMultiplyAdd(a, r0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, r1, c21);
            a = Vector256.Create(l3[o]);
            c30 = Vector256.FusedMultiplyAdd(a, r0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, r1, c31);
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x8(float* l, int ls, int lp, float* r, int rs, int depth, float* tile)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        float* l0 = l, l1 = l + ls, l2 = l + 2 * ls, l3 = l + 3 * ls, l4 = l + 4 * ls, l5 = l + 5 * ls;
        for (var p = 0; p < depth; p++)
        {
            var r0 = Vector256.Load(r + (long)p * rs);
            long o = (long)p * lp;
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(l0[o]), r0, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(l1[o]), r0, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(l2[o]), r0, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(l3[o]), r0, c3);
            c4 = Vector256.FusedMultiplyAdd(Vector256.Create(l4[o]), r0, c4);
            c5 = Vector256.FusedMultiplyAdd(Vector256.Create(l5[o]), r0, c5);
        }
        c0.Store(tile); c1.Store(tile + 16); c2.Store(tile + 32);
        c3.Store(tile + 48); c4.Store(tile + 64); c5.Store(tile + 80);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel1x8(float* l, int lp, float* r, int rs, int depth, float* tile)
    {
        Vector256<float> c0 = default, c1 = default;
        var p = 0;
        for (; p <= depth - 2; p += 2)
        {
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(l[(long)p * lp]), Vector256.Load(r + (long)p * rs), c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(l[(long)(p + 1) * lp]), Vector256.Load(r + (long)(p + 1) * rs), c1);
        }
        if (p < depth)
        {
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(l[(long)p * lp]), Vector256.Load(r + (long)p * rs), c0);
        }
        (c0 + c1).Store(tile);
    }
}
