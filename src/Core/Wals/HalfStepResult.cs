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
/// <param name="ObservedAfter">As <paramref name="ObservedLoss"/> at the NEW factors, when the solve was asked for it
/// (a CG half-step with the loss after; NaN otherwise). With bfloat16 gathers it is computed against the rounded rows.</param>
/// <param name="ImplicitAfter">As <paramref name="ImplicitLoss"/> at the new factors (NaN when not asked for).</param>
/// <remarks>A row solved from a zero start has no loss before: its before-terms are 0.</remarks>
public sealed record HalfStepResult(int Rows, double ObservedLoss, double ImplicitLoss, double RegularizationBefore, double RegularizationAfter, double Seconds,
    double ObservedAfter = double.NaN, double ImplicitAfter = double.NaN)
{
    /// <summary>The block's share of the objective before the solve, without the other side's regularization.</summary>
    public double LossBefore => ObservedLoss + ImplicitLoss + RegularizationBefore;

    /// <summary>The block's share of the objective after the solve, without the other side's regularization (NaN unless asked for).</summary>
    public double LossAfter => ObservedAfter + ImplicitAfter + RegularizationAfter;

    public static HalfStepResult Sum(IEnumerable<HalfStepResult> parts)
    {
        int rows = 0;
        double o = 0, i = 0, rb = 0, ra = 0, s = 0, oa = 0, ia = 0;
        foreach (var p in parts)
        {
            rows += p.Rows;
            o += p.ObservedLoss;
            i += p.ImplicitLoss;
            rb += p.RegularizationBefore;
            ra += p.RegularizationAfter;
            oa += p.ObservedAfter;
            ia += p.ImplicitAfter;
            s = Math.Max(s, p.Seconds);
        }
        return new HalfStepResult(rows, o, i, rb, ra, s, oa, ia);
    }
}
