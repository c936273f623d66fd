namespace WalsCluster.Core.Wals;

/// <summary>
/// What one half-step over a block of rows reports.
/// </summary>
/// <param name="Rows">Rows solved.</param>
/// <param name="ObservedLoss">sum over the block's observed entries of c (p - x.y)^2 - w0 (x.y)^2, at the factors
/// BEFORE the solve (computed for free in the first pass).</param>
/// <param name="ImplicitLoss">sum over the block's rows of w0 x^T G x, at the factors before the solve.</param>
/// <param name="RegularizationBefore">sum of lambda_u |x_u|^2 at the factors before the solve.</param>
/// <param name="RegularizationAfter">sum of lambda_u |x_u|^2 at the new factors.</param>
/// <param name="Seconds">Wall time of the solve.</param>
/// <param name="LossAfter">The block's share of the objective at the NEW factors (observed + implicit terms + the block's
/// regularization, without the other side's), when the solve was asked for it (NaN otherwise). CG tracks it through
/// its steps (with bfloat16 gathers, against the rounded rows); Cholesky has it as sum c p - b^T y at the solution.</param>
/// <remarks>A row solved from a zero start has no loss before: its before-terms are 0.</remarks>
public sealed record HalfStepResult(int Rows, double ObservedLoss, double ImplicitLoss, double RegularizationBefore, double RegularizationAfter, double Seconds,
    double LossAfter = double.NaN)
{
    /// <summary>The block's share of the objective before the solve, without the other side's regularization.</summary>
    public double LossBefore => ObservedLoss + ImplicitLoss + RegularizationBefore;

    public static HalfStepResult Sum(IEnumerable<HalfStepResult> parts)
    {
        int rows = 0;
        double o = 0, i = 0, rb = 0, ra = 0, s = 0, after = 0;
        foreach (var p in parts)
        {
            rows += p.Rows;
            o += p.ObservedLoss;
            i += p.ImplicitLoss;
            rb += p.RegularizationBefore;
            ra += p.RegularizationAfter;
            after += p.LossAfter;
            s = Math.Max(s, p.Seconds);
        }
        return new HalfStepResult(rows, o, i, rb, ra, s, after);
    }
}
