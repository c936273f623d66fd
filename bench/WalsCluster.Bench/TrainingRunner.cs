using System.Diagnostics;
using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;

namespace WalsCluster.Bench;

/// <summary>
/// End-to-end training speed: loads a dataset, trains, and prints seconds per iteration (median), the flop
/// count per iteration (formula in docs/benchmarks.md) and the GFLOP/s reached.
/// Usage: train --input PATH [--format csv|lastfm|bookcrossing|movielens] [--factors K] [--iterations N]
///        [--cg-steps S] [--threads T] [--transform log|binary|...] [--solver cg|cholesky] [--preconditioner jacobi|none]
///        [--gather-precision float32|bfloat16|int8] [--cg-zero-start none|users|items|both] [--phases]
/// </summary>
internal static class TrainingRunner
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            var at = Array.IndexOf(args, name);
            return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
        }
        var input = Arg("--input", "");
        var format = Enum.Parse<DataFormat>(Arg("--format", "csv"), ignoreCase: true);
        var options = new WalsOptions
        {
            Factors = int.Parse(Arg("--factors", "64")),
            Iterations = int.Parse(Arg("--iterations", "5")),
            CgSteps = int.Parse(Arg("--cg-steps", "3")),
            Threads = int.Parse(Arg("--threads", "2")),
            Transform = Enum.Parse<ConfidenceTransform>(Arg("--transform", "log"), ignoreCase: true),
            Alpha = float.Parse(Arg("--alpha", "1")),
            Beta = float.Parse(Arg("--beta", "0")),
            Regularization = float.Parse(Arg("--regularization", "0.05")),
            Solver = Arg("--solver", "cg") == "cholesky" ? WalsSolver.Cholesky : WalsSolver.ConjugateGradient,
            CgPreconditioner = Arg("--preconditioner", "jacobi") == "none" ? CgPreconditioner.None : CgPreconditioner.Jacobi,
            GatherPrecision = Enum.Parse<GatherPrecision>(Arg("--gather-precision", "float32"), ignoreCase: true),
            ZeroStart = Enum.Parse<ZeroStartSides>(Arg("--cg-zero-start", "none"), ignoreCase: true),
        };
        var load = Stopwatch.StartNew();
        var loaded = InteractionLoader.Load(input, new LoadOptions { Format = format });
        var matrix = loaded.Table.ToUserItemMatrix();
        Console.WriteLine($"loaded {input}: {matrix.Rows} users x {matrix.Columns} items, nnz {matrix.NonZeros} in {load.Elapsed.TotalSeconds:F1} s");
        var trainer = new WalsTrainer(options) { PhaseTimes = args.Contains("--phases") ? t => Console.WriteLine($"  phases: gram {t.Gram:F3} s, eigen {t.Eigen:F3} s, rotate {t.Rotate:F3} s, solve {t.Solve:F3} s") : null };
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var progress = new Progress(r =>
        {
            var now = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            Console.WriteLine($"iteration {r.Iteration}: loss {r.Loss:G9}  {r.Seconds:F3} s (users {r.UserSeconds:F3} s, items {r.ItemSeconds:F3} s), process cpu since last report {(now - cpu).TotalSeconds:F2} s");
            cpu = now;
        });
        var trained = trainer.Train(matrix, progress);
        var seconds = trained.History.Select(h => h.Seconds).Order().ToArray();
        var median = seconds[seconds.Length / 2];
        var k = (double)options.Factors;
        var rows = (double)matrix.Rows + matrix.Columns;
        var nnz = (double)matrix.NonZeros;
        // Flops per iteration (both half-steps), multiply and add counted as 2:
        // Gram F^T F (symmetric half computed): k^2 per fixed row; rotations of both sides: 2 * 2 k^2 per row;
        // CG: first pass 8k per entry, each step 4k per entry + 6k per row; eigendecomposition ~ 9 k^3 per half-step.
        var steps = options.CgSteps;
        // A zero-started side skips its rotation (2 k^2 per row) and the dot products of its first pass (2k per entry).
        // (The loss tracked through the item rows' CG steps costs 2k per row and step, left out like the other O(k) terms.)
        var zeroUsers = options.ZeroStart.HasFlag(ZeroStartSides.Users);
        var zeroItems = options.ZeroStart.HasFlag(ZeroStartSides.Items);
        var skippedRotations = 2 * k * k * ((zeroUsers ? matrix.Rows : 0) + (zeroItems ? matrix.Columns : 0));
        var zeroSides = (zeroUsers ? 1 : 0) + (zeroItems ? 1 : 0);
        var flops = rows * k * k + 4 * rows * k * k - skippedRotations + 2 * nnz * (8 * k + steps * 4 * k) - zeroSides * 2 * k * nnz
            + rows * steps * 6 * k + 2 * 9 * k * k * k;
        Console.WriteLine($"median seconds per iteration: {median:F3}; flops per iteration: {flops / 1e9:F2} G; {flops / median / 1e9:F1} GFLOP/s; final loss {trained.FinalLoss:G9}");
        return 0;
    }

    private sealed class Progress(Action<IterationReport> action) : IProgress<IterationReport>
    {
        public void Report(IterationReport value) => action(value);
    }
}
