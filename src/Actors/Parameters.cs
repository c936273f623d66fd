using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors;

/// <summary>Maps Core's <see cref="WalsOptions"/> to the wire's <see cref="TrainingParameters"/> and back (lossless).</summary>
public static class Parameters
{
    public static TrainingParameters ToWire(this WalsOptions o) => new(
        o.Factors, (byte)o.Transform, o.Alpha, o.Beta, o.Epsilon, o.Exponent, o.UnobservedWeight, o.Regularization,
        o.RegularizationExponent, o.Iterations, (byte)o.Solver, o.CgSteps, (byte)o.CgPreconditioner, o.Seed, o.InitScale, o.Threads,
        (byte)o.GatherPrecision, (byte)o.ZeroStart);

    /// <summary>The options of a run; throws <see cref="ArgumentException"/> naming the first invalid one.</summary>
    public static WalsOptions ToOptions(this TrainingParameters p) => new WalsOptions
    {
        Factors = p.Factors,
        Transform = Enum.IsDefined((ConfidenceTransform)p.Transform) ? (ConfidenceTransform)p.Transform : throw new ArgumentException($"Option 'transform' = {p.Transform} is unknown."),
        Alpha = p.Alpha,
        Beta = p.Beta,
        Epsilon = p.Epsilon,
        Exponent = p.Exponent,
        UnobservedWeight = p.UnobservedWeight,
        Regularization = p.Regularization,
        RegularizationExponent = p.RegularizationExponent,
        Iterations = p.Iterations,
        Solver = Enum.IsDefined((WalsSolver)p.Solver) ? (WalsSolver)p.Solver : throw new ArgumentException($"Option 'solver' = {p.Solver} is unknown."),
        CgSteps = p.CgSteps,
        CgPreconditioner = Enum.IsDefined((CgPreconditioner)p.Preconditioner) ? (CgPreconditioner)p.Preconditioner : throw new ArgumentException($"Option 'cg-preconditioner' = {p.Preconditioner} is unknown."),
        GatherPrecision = Enum.IsDefined((GatherPrecision)p.GatherPrecision) ? (GatherPrecision)p.GatherPrecision : throw new ArgumentException($"Option 'gather-precision' = {p.GatherPrecision} is unknown."),
        ZeroStart = Enum.IsDefined((ZeroStartSides)p.ZeroStart) ? (ZeroStartSides)p.ZeroStart : throw new ArgumentException($"Option 'cg-zero-start' = {p.ZeroStart} is unknown."),
        Seed = p.Seed,
        InitScale = p.InitScale,
        Threads = p.Threads,
    }.Validate();
}
