using System.CommandLine;
using WalsCluster.Core.Wals;

namespace WalsCluster.Host.Cli;

/// <summary>The WALS hyperparameter options of <c>wals train</c> (local or <c>--cluster</c>); defaults from <see cref="WalsOptions"/>.</summary>
internal sealed class HyperparameterOptions
{
    private static readonly WalsOptions Defaults = new();

    public Option<string> Transform { get; } = new("--transform") { Description = "Confidence c = beta + alpha * f(r): linear (f = r), log (f = log(1 + r/epsilon)), power (f = r^exponent), binary (every row counts as r = 1).", DefaultValueFactory = _ => "log" };
    public Option<float> Alpha { get; } = new("--alpha") { Description = "alpha in c = beta + alpha * f(r).", DefaultValueFactory = _ => Defaults.Alpha };
    public Option<float> Beta { get; } = new("--beta") { Description = "beta in c = beta + alpha * f(r): 1 is Hu et al., 0 the implicit library's convention.", DefaultValueFactory = _ => Defaults.Beta };
    public Option<float> Epsilon { get; } = new("--epsilon") { Description = "epsilon in f(r) = log(1 + r / epsilon).", DefaultValueFactory = _ => Defaults.Epsilon };
    public Option<float> Exponent { get; } = new("--exponent") { Description = "The exponent in f(r) = r ^ exponent.", DefaultValueFactory = _ => Defaults.Exponent };
    public Option<float> UnobservedWeight { get; } = new("--unobserved-weight") { Description = "w0, the weight of every unobserved (user, item) entry.", DefaultValueFactory = _ => Defaults.UnobservedWeight };
    public Option<int> Factors { get; } = new("--factors") { Description = "k, latent factors per user and item.", DefaultValueFactory = _ => Defaults.Factors };
    public Option<float> Regularization { get; } = new("--regularization") { Description = "lambda in lambda_u = lambda * (n_u + w0 N)^nu.", DefaultValueFactory = _ => Defaults.Regularization };
    public Option<float> RegularizationExponent { get; } = new("--regularization-exponent") { Description = "nu in lambda_u = lambda * (n_u + w0 N)^nu; 0 = constant lambda.", DefaultValueFactory = _ => Defaults.RegularizationExponent };
    public Option<int> Iterations { get; } = new("--iterations") { Description = "Alternating iterations (a user and an item half-step each).", DefaultValueFactory = _ => Defaults.Iterations };
    public Option<string> Solver { get; } = new("--solver") { Description = "cg (conjugate gradient, fast) or cholesky (exact).", DefaultValueFactory = _ => "cg" };
    public Option<int> CgSteps { get; } = new("--cg-steps") { Description = "Conjugate-gradient steps per row and half-step.", DefaultValueFactory = _ => Defaults.CgSteps };
    public Option<string> Preconditioner { get; } = new("--cg-preconditioner") { Description = "jacobi (exact diagonal in the eigenbasis of G) or none (plain CG, as the implicit library).", DefaultValueFactory = _ => "jacobi" };
    public Option<string> GatherPrecision { get; } = new("--gather-precision") { Description = "How CG reads the fixed side's rows: float32 (exact), bfloat16 (a rounded copy, half the bytes) or int8 (8 bits per value with a scale per row and per column, a quarter of the bytes: the fastest on large models).", DefaultValueFactory = _ => "float32" };
    public Option<string> ZeroStart { get; } = new("--cg-zero-start") { Description = "Sides whose CG rows start from zero instead of their rotated previous factors: none, users, items or both (skips that side's k x k rotation; faster at large k).", DefaultValueFactory = _ => "none" };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the factor initialisation and of the --test-fraction split.", DefaultValueFactory = _ => Defaults.Seed };
    public Option<int> Threads { get; } = new("--threads") { Description = "Worker threads; 0 = all cores. With --cluster: the most threads one shard's solve uses.", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Transform, Alpha, Beta, Epsilon, Exponent, UnobservedWeight, Factors, Regularization, RegularizationExponent, Iterations, Solver, CgSteps, Preconditioner, GatherPrecision, ZeroStart, Seed, Threads })
        {
            command.Options.Add(option);
        }
    }

    public WalsOptions Read(ParseResult result) => new WalsOptions
    {
        Factors = result.GetValue(Factors),
        Transform = InputOptions.ParseEnum<ConfidenceTransform>(result.GetValue(Transform)!, "transform"),
        Alpha = result.GetValue(Alpha),
        Beta = result.GetValue(Beta),
        Epsilon = result.GetValue(Epsilon),
        Exponent = result.GetValue(Exponent),
        UnobservedWeight = result.GetValue(UnobservedWeight),
        Regularization = result.GetValue(Regularization),
        RegularizationExponent = result.GetValue(RegularizationExponent),
        Iterations = result.GetValue(Iterations),
        Solver = result.GetValue(Solver) switch
        {
            "cg" => WalsSolver.ConjugateGradient,
            "cholesky" => WalsSolver.Cholesky,
            var other => throw new ArgumentException($"Option 'solver' = '{other}' is invalid: use cg or cholesky."),
        },
        CgSteps = result.GetValue(CgSteps),
        CgPreconditioner = InputOptions.ParseEnum<CgPreconditioner>(result.GetValue(Preconditioner)!, "cg-preconditioner"),
        GatherPrecision = InputOptions.ParseEnum<GatherPrecision>(result.GetValue(GatherPrecision)!, "gather-precision"),
        ZeroStart = InputOptions.ParseEnum<ZeroStartSides>(result.GetValue(ZeroStart)!, "cg-zero-start"),
        Seed = result.GetValue(Seed),
        Threads = result.GetValue(Threads),
    }.Validate();
}
