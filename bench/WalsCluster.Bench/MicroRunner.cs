using System.Diagnostics;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Bench;

/// <summary>Quick single-thread timings of the row solve, for profiling (not a BenchmarkDotNet run).</summary>
internal static class MicroRunner
{
    /// <summary>Dense kernels: GFLOP/s of the rotation A Q and the Gram A^T A for 60,000 rows, 1 and 2 threads.</summary>
    public static int Dense(string[] args)
    {
        var k = args.Length > 0 ? int.Parse(args[0]) : 256;
        const int rows = 60_000;
        var a = WalsTrainer.InitialFactors(rows, k, 1, 1f);
        var q = WalsTrainer.InitialFactors(k, k, 2, 0.1f);
        foreach (var threads in new[] { 1, 2 })
        {
            for (var rep = 0; rep < 3; rep++)
            {
                var watch = Stopwatch.StartNew();
                MatrixKernels.MultiplyInPlace(a, rows, k, q, threads);
                var rotate = watch.Elapsed.TotalSeconds;
                watch.Restart();
                var g = new double[k * k];
                MatrixKernels.AddGram(a, rows, k, g, threads);
                var gram = watch.Elapsed.TotalSeconds;
                Console.WriteLine($"k {k}, {threads} thread(s): rotate {2.0 * rows * k * k / rotate / 1e9:F1} GFLOP/s, gram {1.0 * rows * k * k / gram / 1e9:F1} GFLOP/s (symmetric half counted)");
            }
        }
        return 0;
    }

    /// <summary>rows x items interactions, <paramref name="n"/> per row at seeded random columns, values 1..19.</summary>
    internal static CsrMatrix RandomRows(int rows, int n, int items)
    {
        var random = new Random(1);
        var r = new int[rows * n];
        var c = new int[rows * n];
        var v = new float[rows * n];
        for (var u = 0; u < rows; u++)
        {
            for (var j = 0; j < n; j++)
            {
                r[u * n + j] = u;
                c[u * n + j] = random.Next(items);
                v[u * n + j] = random.Next(1, 20);
            }
        }
        return CsrMatrix.FromCoordinates(rows, items, r, c, v);
    }

    /// <summary>micro K ENTRIES FIXED_ROWS STEPS [float32|bfloat16|int8 [rows-only]]: row solves of ENTRIES entries against FIXED_ROWS rows
    /// (20,000 rows, fewer for long rows: at most 4 million entries)
    /// (rows-only: stop after the direct row solves, for perf stat).</summary>
    public static int Run(string[] args)
    {
        var k = args.Length > 0 ? int.Parse(args[0]) : 64;
        var n = args.Length > 1 ? int.Parse(args[1]) : 20;
        // At most 4 million entries in all, so that heavy rows (thousands of entries) take seconds, not minutes.
        var rows = Math.Max(1, Math.Min(20000, 4_000_000 / Math.Max(1, n)));
        var items = args.Length > 2 ? int.Parse(args[2]) : 50000;
        var m = RandomRows(rows, n, items);
        var o = new WalsOptions { Factors = k, Threads = 1 };
        var w = WeightedInteractions.Build(m, o);
        var y = WalsTrainer.InitialFactors(items, k, 1, 0.1f);
        var x = WalsTrainer.InitialFactors(rows, k, 2, 0.1f);
        var eig = Enumerable.Range(0, k).Select(i => 1f + i).ToArray();
        for (var rep = 0; rep < 5; rep++)
        {
            var watch0 = Stopwatch.StartNew();
            HalfStep.SolveConjugateGradientInEigenbasis(w, y, eig, x, items, o);
            var s = watch0.Elapsed.TotalSeconds;
            Console.WriteLine($"k {k} n {n}: {s * 1e9 / m.NonZeros / 4:F1} ns per entry-pass, {s * 1e9 / rows:F0} ns per row");
        }
        var ws = new CgWorkspace(k);
        var steps = args.Length > 3 ? int.Parse(args[3]) : 3;
        var half = args.Length > 4 && args[4] == "bfloat16" ? BFloat16Kernels.RoundParallel(y, 1) : null;
        var copyWatch = Stopwatch.StartNew();
        var int8 = args.Length > 4 && args[4] == "int8" ? Int8Kernels.QuantizeParallel(y, k, 1) : null;
        Console.WriteLine($"copy of the fixed side: {copyWatch.Elapsed.TotalSeconds:F3} s (one thread)");
        if (int8 is not null)
        {
            copyWatch.Restart();
            Int8Kernels.QuantizeParallel(y, k, 1);
            Console.WriteLine($"again, into the same arrays: {copyWatch.Elapsed.TotalSeconds:F3} s");
            copyWatch.Restart();
            BFloat16Kernels.RoundParallel(y, 1);
            BFloat16Kernels.RoundParallel(y, 1);
            Console.WriteLine($"bfloat16 copy, second call: {copyWatch.Elapsed.TotalSeconds / 2:F3} s");
        }
        for (var rep = 0; rep < 3; rep++)
        {
            var watch = Stopwatch.StartNew();
            for (var u = 0; u < rows; u++)
            {
                var start = m.RowStart[u];
                var len = m.RowStart[u + 1] - start;
                HalfStep.CgRow(m.ColumnIndex.AsSpan(start, len), w.Cw.AsSpan(start, len), w.Cp.AsSpan(start, len), y, eig, 1f, 0.05f, steps, true, x.AsSpan(u * k, k), ws, HalfStep.MaxGatherFloats, half, fixedInt8: int8);
            }
            Console.WriteLine($"direct CgRow ({steps} steps): {watch.Elapsed.TotalSeconds * 1e9 / rows:F0} ns per row, {watch.Elapsed.TotalSeconds * 1e9 / m.NonZeros:F1} ns per entry");
        }
        if (args.Length > 5 && args[5] == "rows-only")
        {
            return 0;
        }
        var a = new float[k];
        var b = new float[k];
        var cpu1 = Process.GetCurrentProcess().TotalProcessorTime;
        float acc = 0;
        for (var i = 0; i < 10_000_000; i++)
        {
            acc += VectorKernels.Dot(a, b);
        }
        var dotSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu1).TotalSeconds;
        var buf = WalsTrainer.InitialFactors(n, k, 3, 1f);
        var tt = new float[n];
        var ww = new float[n];
        var q = new float[k];
        var cpu2 = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 1_000_000; i++)
        {
            VectorKernels.RowDots(buf, n, k, a, tt);
            VectorKernels.AddWeightedRows(buf, n, k, tt, q);
        }
        Console.WriteLine($"rowdots+addweighted n={n} k={k}: {(Process.GetCurrentProcess().TotalProcessorTime - cpu2).TotalSeconds * 1e9 / 1e6 / n:F2} ns per entry {q[0]}");
        Console.WriteLine($"dot k={k}: {dotSeconds * 1e9 / 1e7:F2} ns {acc}");
        var norm = WalsTrainer.InitialFactors(1, k, 4, 1f);
        foreach (var (name, f) in new (string, Func<float[], double>)[] { ("scalar", v => ScalarKernels.SquaredNorm(v)), ("vector", v => VectorKernels.SquaredNorm(v)) })
        {
            var watch = Stopwatch.StartNew();
            double total = 0;
            for (var i = 0; i < 2_000_000; i++)
            {
                total += f(norm);
            }
            Console.WriteLine($"squared norm k={k}, {name}: {watch.Elapsed.TotalSeconds * 1e9 / 2e6:F1} ns {total:G3}");
        }
        return 0;
    }
}
