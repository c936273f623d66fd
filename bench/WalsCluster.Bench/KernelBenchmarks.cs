using BenchmarkDotNet.Attributes;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Bench;

/// <summary>
/// BenchmarkDotNet benchmarks of the hot kernels (run: dotnet run -c Release --project bench/WalsCluster.Bench -- --filter '*Kernel*').
/// Sizes are per call; divide by the row counts for per-row costs.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 2, iterationCount: 5)]
public class KernelBenchmarks
{
    private const int Rows = 4096;
    private float[] _factors = [];
    private float[] _rotation = [];
    private double[] _gram = [];
    private WeightedInteractions _rowsSmall = null!;
    private float[] _fixed = [];
    private float[] _solved = [];
    private float[] _eigen = [];
    private FactorRanker _ranker = null!;
    private CsrMatrix _train = null!;
    private int[] _users = [];

    [Params(64, 256)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _factors = WalsTrainer.InitialFactors(Rows, K, 1, 1f);
        _rotation = WalsTrainer.InitialFactors(K, K, 2, 1f);
        _gram = new double[K * K];
        var random = new Random(3);
        const int items = 20_000;
        var r = new int[Rows * 20];
        var c = new int[Rows * 20];
        var v = new float[Rows * 20];
        for (var e = 0; e < r.Length; e++)
        {
            r[e] = e / 20;
            c[e] = random.Next(items);
            v[e] = random.Next(1, 20);
        }
        var options = new WalsOptions { Factors = K, Threads = 1 };
        var matrix = CsrMatrix.FromCoordinates(Rows, items, r, c, v);
        _rowsSmall = WeightedInteractions.Build(matrix, options);
        _fixed = WalsTrainer.InitialFactors(items, K, 4, 0.1f);
        _solved = WalsTrainer.InitialFactors(Rows, K, 5, 0.1f);
        _eigen = Enumerable.Range(0, K).Select(i => 1f + i).ToArray();
        MatrixKernels.AddGram(_fixed, items, K, _gram, 1);
        _ranker = new FactorRanker(_solved, Rows, _fixed, items, K);
        _train = matrix;
        _users = Enumerable.Range(0, 512).ToArray();
    }

    /// <summary>G += A^T A for 4096 rows (k^2 per row, symmetric half).</summary>
    [Benchmark]
    public void Gram() => MatrixKernels.AddGram(_factors, Rows, K, _gram, 1);

    /// <summary>A = A Q for 4096 rows (the eigenbasis rotation, 2 k^2 flops per row).</summary>
    [Benchmark]
    public void Rotate() => MatrixKernels.MultiplyInPlace(_factors, Rows, K, _rotation, 1);

    /// <summary>CG (3 steps, Jacobi) for 4096 rows of 20 entries each, in the eigenbasis.</summary>
    [Benchmark]
    public HalfStepResult CgRows() =>
        HalfStep.SolveConjugateGradientInEigenbasis(_rowsSmall, _fixed, _eigen, _solved, 20_000, new WalsOptions { Factors = K, Threads = 1 });

    /// <summary>Cholesky for 4096 rows of 20 entries each.</summary>
    [Benchmark]
    public HalfStepResult CholeskyRows() =>
        HalfStep.SolveCholesky(_rowsSmall, _fixed, _gram, _solved, 20_000, new WalsOptions { Factors = K, Threads = 1, Solver = WalsSolver.Cholesky, Regularization = 1f });

    /// <summary>Top-10 of 512 users over 20,000 items, training items excluded.</summary>
    [Benchmark]
    public ScoredItem[][] BatchTopK() => _ranker.RecommendBatch(_users, 10, _train, new RecommendOptions { Threads = 1 });
}
