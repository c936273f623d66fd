using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace WalsCluster.Core.Ranking;

/// <summary>
/// Rows of a row-major n x k matrix (item factors Y) packed into panels of <see cref="ScoreKernels.PanelWidth"/> rows,
/// each stored transposed: panel p holds Y[p * 16 + j, f] at <c>[(p * k + f) * 16 + j]</c>, zero-padded past n.
/// In this layout the score kernel reads 16 consecutive items of one factor f with two vector loads.
/// </summary>
public sealed class PackedPanels
{
    public PackedPanels(ReadOnlySpan<float> rows, int rowCount, int factors)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(factors, 1);
        if (rows.Length != (long)rowCount * factors)
        {
            throw new ArgumentException($"Expected {rowCount} x {factors} values, got {rows.Length}.", nameof(rows));
        }
        const int w = ScoreKernels.PanelWidth;
        RowCount = rowCount;
        Factors = factors;
        PanelCount = (rowCount + w - 1) / w;
        Data = new float[(long)PanelCount * factors * w];
        for (var r = 0; r < rowCount; r++)
        {
            var panel = r / w;
            var lane = r % w;
            var source = rows.Slice(r * factors, factors);
            var baseAt = panel * factors * w + lane;
            for (var f = 0; f < factors; f++)
            {
                Data[baseAt + f * w] = source[f];
            }
        }
    }

    public int RowCount { get; }
    public int Factors { get; }
    public int PanelCount { get; }

    /// <summary>Row count rounded up to whole panels: the width of a score row written by the kernel.</summary>
    public int PaddedRowCount => PanelCount * ScoreKernels.PanelWidth;

    internal float[] Data { get; }

    internal ReadOnlySpan<float> Panel(int p) => Data.AsSpan(p * Factors * ScoreKernels.PanelWidth, Factors * ScoreKernels.PanelWidth);
}

/// <summary>
/// Dense score products C = X Y^T (users x items, every entry a dot product x_u . y_i) as a register-blocked GEMM:
/// a 4 x 16 tile of C lives in eight 256-bit accumulators while f runs over the k factors, each step one broadcast
/// of x_uf per user row and two loads of y_(i..i+15),f from the packed panel (a rank-1 update of the tile).
/// Every entry is the same fused multiply-add chain over f = 0..k-1 whatever the tile shape, so one user scored
/// alone gets bit-identical scores to the same user scored in a block.
/// </summary>
public static class ScoreKernels
{
    /// <summary>Items per packed panel (two 8-float vectors).</summary>
    public const int PanelWidth = 16;

    /// <summary>User rows per register tile.</summary>
    public const int TileRows = 4;

    /// <summary>
    /// Plain reference: c[u * n + i] = sum_f a[u * k + f] * b[i * k + f] for a (m x k) and b (n x k), both row-major.
    /// </summary>
    public static void MultiplyTransposedReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        CheckShapes(a, b, c, m, n, k);
        for (var u = 0; u < m; u++)
        {
            for (var i = 0; i < n; i++)
            {
                var sum = 0f;
                for (var f = 0; f < k; f++)
                {
                    sum += a[u * k + f] * b[i * k + f];
                }
                c[u * n + i] = sum;
            }
        }
    }

    /// <summary>The fast path of <see cref="MultiplyTransposedReference"/>: packs b into panels, then runs the tiled kernel.</summary>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        CheckShapes(a, b, c, m, n, k);
        if (m == 0 || n == 0)
        {
            return;
        }
        var packed = new PackedPanels(b, n, k);
        var row = new float[Math.Min(m, TileRows) * packed.PaddedRowCount];
        for (var u0 = 0; u0 < m; u0 += TileRows)
        {
            var rows = Math.Min(TileRows, m - u0);
            ScoreRows(a.Slice(u0 * k, rows * k), rows, packed, 0, packed.PanelCount, row, packed.PaddedRowCount);
            for (var r = 0; r < rows; r++)
            {
                row.AsSpan(r * packed.PaddedRowCount, n).CopyTo(c.Slice((u0 + r) * n, n));
            }
        }
    }

    /// <summary>
    /// Scores <paramref name="rows"/> user vectors (row-major in <paramref name="users"/>, k each) against panels
    /// [firstPanel, firstPanel + panelCount) into <paramref name="c"/>: row r, item (panel * 16 + j) goes to
    /// <c>c[r * ldc + (panel - firstPanel) * 16 + j]</c>. Rows are processed four at a time, the remainder one at a time.
    /// </summary>
    public static void ScoreRows(ReadOnlySpan<float> users, int rows, PackedPanels panels, int firstPanel, int panelCount, Span<float> c, int ldc)
    {
        var k = panels.Factors;
        if (users.Length < rows * k)
        {
            throw new ArgumentException($"Expected {rows} x {k} user values, got {users.Length}.", nameof(users));
        }
        if (firstPanel < 0 || panelCount < 0 || firstPanel + panelCount > panels.PanelCount)
        {
            throw new ArgumentOutOfRangeException(nameof(panelCount));
        }
        if (rows > 0 && ((long)(rows - 1) * ldc + (long)panelCount * PanelWidth > c.Length || (rows > 1 && ldc < panelCount * PanelWidth)))
        {
            throw new ArgumentException("The output span is too small for the rows and panels scored.", nameof(c));
        }
        for (var p = firstPanel; p < firstPanel + panelCount; p++)
        {
            var panel = panels.Panel(p);
            var r = 0;
            for (; r + TileRows <= rows; r += TileRows)
            {
                Tile4(users.Slice(r * k), k, panel, c.Slice(r * ldc + (p - firstPanel) * PanelWidth), ldc);
            }
            for (; r < rows; r++)
            {
                Tile1(users.Slice(r * k, k), panel, c.Slice(r * ldc + (p - firstPanel) * PanelWidth, PanelWidth));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(ReadOnlySpan<float> a, int k, ReadOnlySpan<float> panel, Span<float> c, int ldc)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            for (var r = 0; r < TileRows; r++)
            {
                Tile1(a.Slice(r * k, k), panel, c.Slice(r * ldc, PanelWidth));
            }
            return;
        }
        ref var a0 = ref MemoryMarshal.GetReference(a);
        ref var a1 = ref Unsafe.Add(ref a0, k);
        ref var a2 = ref Unsafe.Add(ref a1, k);
        ref var a3 = ref Unsafe.Add(ref a2, k);
        ref var b = ref MemoryMarshal.GetReference(panel);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (var f = 0; f < k; f++)
        {
            // Rank-1 update of the 4 x 16 tile: C[r, j] += x_(r,f) * y_(j,f).
            var b0 = Vector256.LoadUnsafe(ref b, (nuint)(f * PanelWidth));
            var b1 = Vector256.LoadUnsafe(ref b, (nuint)(f * PanelWidth + 8));
            var x = Vector256.Create(Unsafe.Add(ref a0, f));
            c00 = Vector256.MultiplyAddEstimate(x, b0, c00);
            c01 = Vector256.MultiplyAddEstimate(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref a1, f));
            c10 = Vector256.MultiplyAddEstimate(x, b0, c10);
            c11 = Vector256.MultiplyAddEstimate(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref a2, f));
            c20 = Vector256.MultiplyAddEstimate(x, b0, c20);
            c21 = Vector256.MultiplyAddEstimate(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref a3, f));
            c30 = Vector256.MultiplyAddEstimate(x, b0, c30);
            c31 = Vector256.MultiplyAddEstimate(x, b1, c31);
        }
        ref var o = ref MemoryMarshal.GetReference(c);
        c00.StoreUnsafe(ref o);
        c01.StoreUnsafe(ref o, 8);
        c10.StoreUnsafe(ref o, (nuint)ldc);
        c11.StoreUnsafe(ref o, (nuint)(ldc + 8));
        c20.StoreUnsafe(ref o, (nuint)(2 * ldc));
        c21.StoreUnsafe(ref o, (nuint)(2 * ldc + 8));
        c30.StoreUnsafe(ref o, (nuint)(3 * ldc));
        c31.StoreUnsafe(ref o, (nuint)(3 * ldc + 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(ReadOnlySpan<float> a, ReadOnlySpan<float> panel, Span<float> c)
    {
        var k = a.Length;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var b = ref MemoryMarshal.GetReference(panel);
            Vector256<float> c0 = default, c1 = default;
            for (var f = 0; f < k; f++)
            {
                var x = Vector256.Create(a[f]);
                c0 = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref b, (nuint)(f * PanelWidth)), c0);
                c1 = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref b, (nuint)(f * PanelWidth + 8)), c1);
            }
            ref var o = ref MemoryMarshal.GetReference(c);
            c0.StoreUnsafe(ref o);
            c1.StoreUnsafe(ref o, 8);
            return;
        }
        // Scalar path: the same multiply-add chain per entry, one lane at a time.
        Span<float> acc = stackalloc float[PanelWidth];
        acc.Clear();
        for (var f = 0; f < k; f++)
        {
            var x = a[f];
            var y = panel.Slice(f * PanelWidth, PanelWidth);
            for (var j = 0; j < PanelWidth; j++)
            {
                acc[j] = float.MultiplyAddEstimate(x, y[j], acc[j]);
            }
        }
        acc.CopyTo(c);
    }

    private static void CheckShapes(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (a.Length != (long)m * k || b.Length != (long)n * k || c.Length != (long)m * n)
        {
            throw new ArgumentException($"Shapes do not match: a has {a.Length} (expected {m} x {k}), b has {b.Length} (expected {n} x {k}), c has {c.Length} (expected {m} x {n}).");
        }
    }
}
