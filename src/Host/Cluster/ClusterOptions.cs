using System.CommandLine;
using WalsCluster.Core.Wals;
using WalsCluster.Host.Cli;

namespace WalsCluster.Host.Cluster;

/// <summary>
/// The hyperparameter options of <c>wals cluster-train</c>: the same names, meanings and defaults as <c>wals train</c>
/// (a shared factory in Cli would remove this copy).
/// </summary>
internal sealed class HyperparameterOptions
{
    private static readonly WalsOptions Defaults = new();

    public Option<string> Transform { get; } = new("--transform") { Description = "Confidence c = beta + alpha * f(r): linear, log, power, binary.", DefaultValueFactory = _ => "log" };
    public Option<float> Alpha { get; } = new("--alpha") { Description = "alpha in c = beta + alpha * f(r).", DefaultValueFactory = _ => Defaults.Alpha };
    public Option<float> Beta { get; } = new("--beta") { Description = "beta in c = beta + alpha * f(r).", DefaultValueFactory = _ => Defaults.Beta };
    public Option<float> Epsilon { get; } = new("--epsilon") { Description = "epsilon in f(r) = log(1 + r / epsilon).", DefaultValueFactory = _ => Defaults.Epsilon };
    public Option<float> Exponent { get; } = new("--exponent") { Description = "The exponent in f(r) = r ^ exponent.", DefaultValueFactory = _ => Defaults.Exponent };
    public Option<float> UnobservedWeight { get; } = new("--unobserved-weight") { Description = "w0, the weight of every unobserved entry.", DefaultValueFactory = _ => Defaults.UnobservedWeight };
    public Option<int> Factors { get; } = new("--factors") { Description = "k, latent factors per user and item.", DefaultValueFactory = _ => Defaults.Factors };
    public Option<float> Regularization { get; } = new("--regularization") { Description = "lambda in lambda_u = lambda * (n_u + w0 N)^nu.", DefaultValueFactory = _ => Defaults.Regularization };
    public Option<float> RegularizationExponent { get; } = new("--regularization-exponent") { Description = "nu in lambda_u = lambda * (n_u + w0 N)^nu.", DefaultValueFactory = _ => Defaults.RegularizationExponent };
    public Option<int> Iterations { get; } = new("--iterations") { Description = "Alternating iterations.", DefaultValueFactory = _ => Defaults.Iterations };
    public Option<string> Solver { get; } = new("--solver") { Description = "cg or cholesky.", DefaultValueFactory = _ => "cg" };
    public Option<int> CgSteps { get; } = new("--cg-steps") { Description = "Conjugate-gradient steps per row and half-step.", DefaultValueFactory = _ => Defaults.CgSteps };
    public Option<string> Preconditioner { get; } = new("--cg-preconditioner") { Description = "jacobi or none.", DefaultValueFactory = _ => "jacobi" };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the factor initialisation.", DefaultValueFactory = _ => Defaults.Seed };
    public Option<int> Threads { get; } = new("--threads") { Description = "Worker threads per shard solve; 0 = all cores of the node.", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Transform, Alpha, Beta, Epsilon, Exponent, UnobservedWeight, Factors, Regularization, RegularizationExponent, Iterations, Solver, CgSteps, Preconditioner, Seed, Threads })
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
        Seed = result.GetValue(Seed),
        Threads = result.GetValue(Threads),
    }.Validate();
}
