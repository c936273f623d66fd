using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Wals;

namespace WalsCluster.Bench;

/// <summary>
/// A probe, not engine code: the exact solve of a short row in the eigenbasis by the Woodbury identity, timed beside the
/// engine's CG row solve. With D = w0 diag(lambda) + lambda_u I, V the row's n gathered factor rows and C = diag(c - w0),
/// A = D + V^T C V and b = V^T (c p); with S = D^-1/2, W = V S (n x k), M = W W^T, s = S b:
///   x = S (s - W^T z),  (I + C M) z = C W s,
/// n^2 k / 2 multiply-adds for M and an n x n solve (an LU in double with partial pivoting), no warm start. It first checks
/// its solution against CG run for k Jacobi steps on 50 rows. Usage:
/// <c>woodbury K ENTRIES FIXED_ROWS [STEPS]</c> (bfloat16 gathers, like <c>micro ... bfloat16</c>).
/// </summary>
internal static class WoodburyProbe
{
    public static int Run(string[] args)
    {
        var k = int.Parse(args[0]);
        var n = int.Parse(args[1]);
        var items = int.Parse(args[2]);
        var steps = args.Length > 3 ? int.Parse(args[3]) : 3;
        const int rows = 20000;
        var m = MicroRunner.RandomRows(rows, n, items);
        var o = new WalsOptions { Factors = k, Threads = 1 };
        var w = WeightedInteractions.Build(m, o);
        var y = WalsTrainer.InitialFactors(items, k, 1, 0.1f);
        var half = BFloat16Kernels.RoundParallel(y, 1);
        var eig = Enumerable.Range(0, k).Select(i => 1f + i).ToArray();
        const float lambda = 0.05f;
        var x = WalsTrainer.InitialFactors(rows, k, 2, 0.1f);
        var exact = new float[rows * k];
        var ws = new CgWorkspace(k);
        var buffer = new float[n * k];
        var s = new float[k];
        var bs = new float[k];
        var mm = new double[n * n];
        var rhs = new double[n];

        // Check: the Woodbury solution against CG run to convergence (k steps) on a few rows.
        double worst = 0;
        for (var u = 0; u < 50; u++)
        {
            var (start, len) = (m.RowStart[u], m.RowStart[u + 1] - m.RowStart[u]);
            var reference = new float[k];
            HalfStep.CgRow(m.ColumnIndex.AsSpan(start, len), w.Cw.AsSpan(start, len), w.Cp.AsSpan(start, len), y, eig, 1f, lambda, k, true, reference, ws, HalfStep.MaxGatherFloats, half);
            Solve(m.ColumnIndex.AsSpan(start, len), w.Cw.AsSpan(start, len), w.Cp.AsSpan(start, len), half, eig, 1f, lambda, exact.AsSpan(u * k, k), buffer, s, bs, mm, rhs, k);
            double diff = 0, norm = 0;
            for (var i = 0; i < k; i++)
            {
                diff = Math.Max(diff, Math.Abs(reference[i] - exact[u * k + i]));
                norm = Math.Max(norm, Math.Abs(reference[i]));
            }
            worst = Math.Max(worst, diff / norm);
        }
        Console.WriteLine($"k {k} n {n}: Woodbury vs CG to convergence, largest difference {worst:E2} of the largest value");

        for (var rep = 0; rep < 3; rep++)
        {
            var watch = Stopwatch.StartNew();
            for (var u = 0; u < rows; u++)
            {
                var (start, len) = (m.RowStart[u], m.RowStart[u + 1] - m.RowStart[u]);
                HalfStep.CgRow(m.ColumnIndex.AsSpan(start, len), w.Cw.AsSpan(start, len), w.Cp.AsSpan(start, len), y, eig, 1f, lambda, steps, true, x.AsSpan(u * k, k), ws, HalfStep.MaxGatherFloats, half);
            }
            var cg = watch.Elapsed.TotalSeconds;
            watch.Restart();
            for (var u = 0; u < rows; u++)
            {
                var (start, len) = (m.RowStart[u], m.RowStart[u + 1] - m.RowStart[u]);
                Solve(m.ColumnIndex.AsSpan(start, len), w.Cw.AsSpan(start, len), w.Cp.AsSpan(start, len), half, eig, 1f, lambda, exact.AsSpan(u * k, k), buffer, s, bs, mm, rhs, k);
            }
            var wb = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"k {k} n {n}: CG {steps} steps {cg * 1e9 / rows:F0} ns per row, Woodbury {wb * 1e9 / rows:F0} ns per row ({wb / cg:F2}x)");
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Solve(ReadOnlySpan<int> columns, ReadOnlySpan<float> cw, ReadOnlySpan<float> cp, ushort[] half, float[] eig, float w0, float lambda,
        Span<float> x, float[] buffer, float[] s, float[] bs, double[] m, double[] rhs, int k)
    {
        var n = columns.Length;
        for (var i = 0; i < k; i++)
        {
            s[i] = 1f / MathF.Sqrt(w0 * eig[i] + lambda);
        }
        Array.Clear(bs);
        ref var halfStart = ref MemoryMarshal.GetArrayDataReference(half);
        ref var rs = ref MemoryMarshal.GetArrayDataReference(s);
        ref var rbs = ref MemoryMarshal.GetArrayDataReference(bs);
        for (var j = 0; j < n; j++)
        {
            if (j + 6 < n)
            {
                BFloat16Kernels.Prefetch(ref Unsafe.Add(ref halfStart, columns[j + 6] * k), k);
            }
            ref var row = ref buffer[j * k];
            BFloat16Kernels.Widen(ref Unsafe.Add(ref halfStart, columns[j] * k), ref row, k);
            var weight = Vector256.Create(cp[j]);
            for (var i = 0; i < k; i += 8)
            {
                var scaled = Vector256.LoadUnsafe(ref row, (nuint)i) * Vector256.LoadUnsafe(ref rs, (nuint)i);
                scaled.StoreUnsafe(ref row, (nuint)i);
                Vector256.FusedMultiplyAdd(weight, scaled, Vector256.LoadUnsafe(ref rbs, (nuint)i)).StoreUnsafe(ref rbs, (nuint)i);
            }
        }
        // M = W W^T (lower triangle in blocks of four columns, which may reach up to three past the diagonal), rhs = C W s;
        // then T = I + C M overwrites m (row-major n x n).
        ref var rb = ref MemoryMarshal.GetArrayDataReference(buffer);
        ref var rm = ref MemoryMarshal.GetArrayDataReference(m);
        for (var a = 0; a < n; a++)
        {
            ref var ra = ref Unsafe.Add(ref rb, a * k);
            var b = 0;
            for (; b <= a && b + 4 <= n; b += 4)
            {
                ref var b0 = ref Unsafe.Add(ref rb, b * k);
                var (d0, d1, d2, d3) = RowBlockKernels.Dots4(ref b0, ref Unsafe.Add(ref b0, k), ref Unsafe.Add(ref b0, 2 * k), ref Unsafe.Add(ref b0, 3 * k), ref ra, k);
                ref var row = ref Unsafe.Add(ref rm, a * n + b);
                row = d0;
                Unsafe.Add(ref row, 1) = d1;
                Unsafe.Add(ref row, 2) = d2;
                Unsafe.Add(ref row, 3) = d3;
            }
            for (; b <= a; b++)
            {
                Unsafe.Add(ref rm, a * n + b) = VectorKernels.Dot(MemoryMarshal.CreateReadOnlySpan(ref ra, k), MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref rb, b * k), k));
            }
            rhs[a] = cw[a] * VectorKernels.Dot(MemoryMarshal.CreateReadOnlySpan(ref ra, k), bs);
        }
        for (var a = 0; a < n; a++)
        {
            var weight = (double)cw[a];
            ref var row = ref Unsafe.Add(ref rm, a * n);
            for (var b = 0; b < n; b++)
            {
                // Below the diagonal M[a, b]; above it the mirror M[b, a].
                var mab = b <= a ? Unsafe.Add(ref row, b) : Unsafe.Add(ref rm, b * n + a);
                Unsafe.Add(ref row, b) = weight * mab;
            }
            Unsafe.Add(ref row, a) += 1;
        }
        // The mirror read above needs M[b, a] for b > a before row b is scaled: rows are scaled in order, and row b > a is
        // still unscaled when row a reads it. LU with partial pivoting, rows updated four doubles at a time; rhs becomes z.
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            var best = Math.Abs(Unsafe.Add(ref rm, col * n + col));
            for (var i = col + 1; i < n; i++)
            {
                var v = Math.Abs(Unsafe.Add(ref rm, i * n + col));
                if (v > best)
                {
                    (pivot, best) = (i, v);
                }
            }
            if (pivot != col)
            {
                for (var j = 0; j < n; j++)
                {
                    (Unsafe.Add(ref rm, col * n + j), Unsafe.Add(ref rm, pivot * n + j)) = (Unsafe.Add(ref rm, pivot * n + j), Unsafe.Add(ref rm, col * n + j));
                }
                (rhs[col], rhs[pivot]) = (rhs[pivot], rhs[col]);
            }
            ref var pivotRow = ref Unsafe.Add(ref rm, col * n);
            var inv = 1.0 / Unsafe.Add(ref pivotRow, col);
            for (var i = col + 1; i < n; i++)
            {
                ref var target = ref Unsafe.Add(ref rm, i * n);
                var f = Unsafe.Add(ref target, col) * inv;
                var fv = Vector256.Create(-f);
                var j = col + 1;
                for (; j + 4 <= n; j += 4)
                {
                    Vector256.FusedMultiplyAdd(fv, Vector256.LoadUnsafe(ref pivotRow, (nuint)j), Vector256.LoadUnsafe(ref target, (nuint)j)).StoreUnsafe(ref target, (nuint)j);
                }
                for (; j < n; j++)
                {
                    Unsafe.Add(ref target, j) -= f * Unsafe.Add(ref pivotRow, j);
                }
                rhs[i] -= f * rhs[col];
            }
        }
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = rhs[i];
            ref var row = ref Unsafe.Add(ref rm, i * n);
            for (var j = i + 1; j < n; j++)
            {
                sum -= Unsafe.Add(ref row, j) * rhs[j];
            }
            rhs[i] = sum / Unsafe.Add(ref row, i);
        }
        // x = S (s - W^T z)
        bs.AsSpan().CopyTo(x);
        for (var j = 0; j < n; j++)
        {
            VectorKernels.Axpy((float)-rhs[j], buffer.AsSpan(j * k, k), x);
        }
        for (var i = 0; i < k; i++)
        {
            x[i] *= s[i];
        }
    }
}
