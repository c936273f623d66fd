using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Wals;

/// <summary>
/// The observed entries of one side's rows with their weights precomputed once per training run:
/// for each stored entry (u, i), Cw = c_ui - w0 (the weight of the low-rank term y_i y_i^T in A_u) and
/// Cp = c_ui * p_ui (the weight of y_i in b_u). With these, the observed part of the loss of one entry,
/// c (p - t)^2 - w0 t^2 with t = x_u . y_i, is Cp (1 - 2t) + Cw t^2 (p is 0 or 1, so p^2 = p).
/// </summary>
public sealed class WeightedInteractions
{
    private WeightedInteractions(CsrMatrix pattern, float[] cw, float[] cp)
    {
        Pattern = pattern;
        Cw = cw;
        Cp = cp;
    }

    /// <summary>Row structure: row r's entries are columns Pattern.RowIndices(r) (rows of the other side).</summary>
    public CsrMatrix Pattern { get; }

    /// <summary>c - w0 per stored entry.</summary>
    public float[] Cw { get; }

    /// <summary>c * p per stored entry.</summary>
    public float[] Cp { get; }

    public int Rows => Pattern.Rows;

    /// <summary>Applies the confidence model of <paramref name="options"/> to raw interaction values.</summary>
    public static WeightedInteractions Build(CsrMatrix raw, WalsOptions options)
    {
        var n = raw.NonZeros;
        var cw = new float[n];
        var cp = new float[n];
        var w0 = options.UnobservedWeight;
        for (var e = 0; e < n; e++)
        {
            var (c, p) = Confidence(raw.Values[e], options);
            cw[e] = c - w0;
            cp[e] = c * p;
        }
        return new WeightedInteractions(raw, cw, cp);
    }

    /// <summary>
    /// The confidence c = beta + alpha * f(|r|) and preference p = [r > 0] of one raw value
    /// (binary: r counts as 1). Negative r means "disliked": p = 0 with confidence from |r|.
    /// </summary>
    public static (float Confidence, float Preference) Confidence(float r, WalsOptions options)
    {
        if (!float.IsFinite(r))
        {
            throw new ArgumentException($"Interaction value {r} is not finite.", nameof(r));
        }
        if (options.Transform == ConfidenceTransform.Binary)
        {
            return (options.Beta + options.Alpha, 1f);
        }
        var magnitude = MathF.Abs(r);
        var f = options.Transform switch
        {
            ConfidenceTransform.Linear => magnitude,
            ConfidenceTransform.Log => MathF.Log(1f + magnitude / options.Epsilon),
            ConfidenceTransform.Power => MathF.Pow(magnitude, options.Exponent),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Transform, "Unknown transform."),
        };
        return (options.Beta + options.Alpha * f, r > 0 ? 1f : 0f);
    }

    /// <summary>The other side's view: the same entries and weights, rows and columns swapped.</summary>
    public WeightedInteractions Transpose()
    {
        var t = Pattern.Transpose();
        // Carry the weights through the same permutation by transposing position indices.
        var positions = new float[Pattern.NonZeros];
        for (var e = 0; e < positions.Length; e++)
        {
            positions[e] = BitConverter.Int32BitsToSingle(e);
        }
        var carrier = new CsrMatrix(Pattern.Rows, Pattern.Columns, Pattern.RowStart, Pattern.ColumnIndex, positions).Transpose();
        var cw = new float[t.NonZeros];
        var cp = new float[t.NonZeros];
        for (var e = 0; e < cw.Length; e++)
        {
            var source = BitConverter.SingleToInt32Bits(carrier.Values[e]);
            cw[e] = Cw[source];
            cp[e] = Cp[source];
        }
        return new WeightedInteractions(t, cw, cp);
    }

    /// <summary>lambda_u = lambda * (n_u + w0 * N_other) ^ nu for a row with n_u entries.</summary>
    public static float RowRegularization(int entries, int otherSideCount, WalsOptions options) =>
        options.RegularizationExponent == 0
            ? options.Regularization
            : (float)(options.Regularization * Math.Pow(entries + (double)options.UnobservedWeight * otherSideCount, options.RegularizationExponent));
}
