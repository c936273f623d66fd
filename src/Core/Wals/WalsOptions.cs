namespace WalsCluster.Core.Wals;

/// <summary>How a raw interaction value r enters the confidence c = beta + alpha * f(r).</summary>
public enum ConfidenceTransform
{
    /// <summary>f(r) = r.</summary>
    Linear,

    /// <summary>f(r) = log(1 + r / epsilon).</summary>
    Log,

    /// <summary>f(r) = r ^ exponent.</summary>
    Power,

    /// <summary>Every interaction row counts as r = 1 whatever its value (f = 1, p = 1).</summary>
    Binary,
}

/// <summary>Preconditioner of the conjugate-gradient row solves.</summary>
public enum CgPreconditioner
{
    /// <summary>Plain conjugate gradient.</summary>
    None,

    /// <summary>Diagonal (Jacobi) preconditioning with the exact diagonal of A_u in the eigenbasis of G.</summary>
    Jacobi,
}

/// <summary>The precision in which a CG half-step reads the fixed side's factor rows.</summary>
public enum GatherPrecision
{
    /// <summary>The float32 rows themselves: the solve is exact for the factors as they are.</summary>
    Float32,

    /// <summary>
    /// A bfloat16 copy of the fixed side (8 significant bits, relative rounding error at most 2^-8), made once per
    /// half-step and widened exactly to float32 as each row is gathered: half the bytes of the random row reads, and
    /// each row is solved exactly against the rounded rows. The arithmetic stays float32.
    /// </summary>
    BFloat16,

    /// <summary>
    /// An 8-bit copy of the fixed side (<see cref="LinearAlgebra.Int8Rows"/>: an integer per entry, a scale per row and
    /// per column), made once per half-step and widened to float32 as each row is gathered: a quarter of the bytes of
    /// float32. Each row is solved exactly against the rounded rows, whose error is at most half a step of the row's
    /// scale; the arithmetic stays float32.
    /// </summary>
    Int8,
}

/// <summary>Which sides' CG row solves start from zero instead of the previous factors.</summary>
[Flags]
public enum ZeroStartSides
{
    /// <summary>Both sides start from their previous factors, rotated into the half-step's eigenbasis.</summary>
    None = 0,

    /// <summary>User rows start from zero: their rotation (a dense k x k product over every user row) is skipped.</summary>
    Users = 1,

    /// <summary>Item rows start from zero: their rotation is skipped.</summary>
    Items = 2,

    /// <summary>Both sides start from zero.</summary>
    Both = Users | Items,
}

/// <summary>The per-row solver of the weighted least-squares half-step.</summary>
public enum WalsSolver
{
    /// <summary>Conjugate gradient warm-started from the previous factors, <see cref="WalsOptions.CgSteps"/> steps.</summary>
    ConjugateGradient,

    /// <summary>Exact solve of the normal equations by Cholesky factorisation of A_u.</summary>
    Cholesky,
}

/// <summary>
/// Hyperparameters of Weighted Alternating Least Squares. Notation of Hu, Koren and Volinsky (ICDM 2008)
/// with the unobserved weight w0 of TensorFlow WALS:
/// minimise sum_(u,i) c_ui (p_ui - x_u . y_i)^2 + sum_u lambda_u |x_u|^2 + sum_i lambda_i |y_i|^2,
/// where unobserved entries have c = w0 and p = 0.
/// </summary>
public sealed record WalsOptions
{
    /// <summary>k, the number of latent factors per user and per item.</summary>
    public int Factors { get; init; } = 64;

    /// <summary>f in c = beta + alpha * f(r).</summary>
    public ConfidenceTransform Transform { get; init; } = ConfidenceTransform.Log;

    /// <summary>alpha in c = beta + alpha * f(r).</summary>
    public float Alpha { get; init; } = 1.0f;

    /// <summary>beta in c = beta + alpha * f(r); 1 is Hu et al., 0 is the convention of the implicit library.</summary>
    public float Beta { get; init; } = 1.0f;

    /// <summary>epsilon in f(r) = log(1 + r / epsilon).</summary>
    public float Epsilon { get; init; } = 1.0f;

    /// <summary>The exponent in f(r) = r ^ exponent.</summary>
    public float Exponent { get; init; } = 0.5f;

    /// <summary>w0, the weight of every unobserved entry; it multiplies the Gram matrix G in A_u = w0 G + ...</summary>
    public float UnobservedWeight { get; init; } = 1.0f;

    /// <summary>
    /// lambda in lambda_u = lambda * (n_u + w0 * N_items) ^ nu. The default 40 was chosen on a validation split carved
    /// from the Last.fm training data (docs/benchmarks.md, "How the defaults were chosen").
    /// </summary>
    public float Regularization { get; init; } = 40f;

    /// <summary>nu in lambda_u = lambda * (n_u + w0 * N_items) ^ nu; 0 gives a constant lambda (Rendle et al. 2021).</summary>
    public float RegularizationExponent { get; init; }

    /// <summary>Number of alternating iterations (one user half-step and one item half-step each).</summary>
    public int Iterations { get; init; } = 15;

    public WalsSolver Solver { get; init; } = WalsSolver.ConjugateGradient;

    /// <summary>Conjugate-gradient steps per row and half-step (Takacs, Pilaszy and Tikk, RecSys 2011).</summary>
    public int CgSteps { get; init; } = 3;

    /// <summary>
    /// Preconditioner of the CG solver: Jacobi divides the residual by the exact diagonal of A_u in the
    /// eigenbasis of G (free there); None is plain CG, step for step the iterates of the implicit library.
    /// </summary>
    public CgPreconditioner CgPreconditioner { get; init; } = CgPreconditioner.Jacobi;

    /// <summary>
    /// How the CG solver reads the fixed side's rows: float32 (exact) or a bfloat16 copy (faster where the rows come
    /// from memory rather than the caches; docs/benchmarks.md has the speed and quality measured). Cholesky ignores it.
    /// </summary>
    public GatherPrecision GatherPrecision { get; init; } = GatherPrecision.Float32;

    /// <summary>
    /// Sides whose CG row solves start from zero rather than warm from the previous factors. A warm start needs the
    /// previous factors rotated into the half-step's eigenbasis, one dense k x k product over all the side's rows (at
    /// k 256 and 500,000 users about 67 GFLOP per iteration); a zero start skips it and the dot products of the first
    /// pass. The first user half-step starts warm whatever this says (its first pass gives the initial loss). CG only.
    /// </summary>
    public ZeroStartSides ZeroStart { get; init; } = ZeroStartSides.None;

    /// <summary>
    /// Whether the CG rows of one side start from zero in <paramref name="iteration"/> (1-based): as
    /// <see cref="ZeroStart"/> says, except the first user half-step, which starts warm for the initial loss.
    /// </summary>
    public bool StartsFromZero(bool userRows, int iteration) =>
        Solver == WalsSolver.ConjugateGradient
        && (userRows ? ZeroStart.HasFlag(ZeroStartSides.Users) && iteration > 1 : ZeroStart.HasFlag(ZeroStartSides.Items));

    /// <summary>Seed of the factor initialisation: factors start uniform in [0, InitScale).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Upper bound of the uniform initial factor values.</summary>
    public float InitScale { get; init; } = 0.01f;

    /// <summary>Worker threads for the row solves; 0 means every core.</summary>
    public int Threads { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public WalsOptions Validate()
    {
        Check(Factors is >= 1 and <= 4096, "factors", Factors, "between 1 and 4096");
        Check(float.IsFinite(Alpha) && Alpha >= 0, "alpha", Alpha, "finite and >= 0");
        Check(float.IsFinite(Beta) && Beta >= 0, "beta", Beta, "finite and >= 0");
        Check(float.IsFinite(Epsilon) && Epsilon > 0, "epsilon", Epsilon, "finite and > 0");
        Check(float.IsFinite(Exponent) && Exponent > 0, "exponent", Exponent, "finite and > 0");
        Check(float.IsFinite(UnobservedWeight) && UnobservedWeight >= 0, "unobserved-weight", UnobservedWeight, "finite and >= 0");
        Check(float.IsFinite(Regularization) && Regularization >= 0, "regularization", Regularization, "finite and >= 0");
        Check(float.IsFinite(RegularizationExponent) && RegularizationExponent >= 0, "regularization-exponent", RegularizationExponent, "finite and >= 0");
        Check(Iterations >= 0, "iterations", Iterations, ">= 0");
        Check(CgSteps >= 1, "cg-steps", CgSteps, ">= 1");
        Check(float.IsFinite(InitScale) && InitScale > 0, "init-scale", InitScale, "finite and > 0");
        Check(ZeroStart is >= ZeroStartSides.None and <= ZeroStartSides.Both, "cg-zero-start", ZeroStart, "none, users, items or both");
        Check(ZeroStart == ZeroStartSides.None || Solver == WalsSolver.ConjugateGradient, "cg-zero-start", ZeroStart, "none with the Cholesky solver (it applies to CG only)");
        Check(Threads >= 0, "threads", Threads, ">= 0 (0 = all cores)");
        return this;
    }

    /// <summary>The number of worker threads actually used.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;

    private static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"Option '{name}' = {value} is invalid: it must be {rule}.", name);
        }
    }
}
