using System.Buffers.Binary;
using MathNet.Numerics.LinearAlgebra;

namespace WalsCluster.Embedding.Projection;

/// <summary>
/// The linear map from a text embedding to the item-factor space, y = W^T e + b (DESIGN section 1), fitted by
/// centred ridge regression: W = (Ec^T Ec + mu I)^-1 Ec^T Yc, b = mean(y) - W^T mean(e), where
/// Ec^T Ec = E^T E - n mean(e) mean(e)^T and Ec^T Yc = E^T Y - n mean(e) mean(y)^T. The bias is not penalised.
/// Immutable; <see cref="Apply(ReadOnlySpan{float}, Span{float})"/> is thread-safe.
/// </summary>
public sealed class RidgeProjection
{
    private const uint Magic = 0x4A525057; // "WPRJ"
    private const int Version = 1;

    private RidgeProjection(int d, int k, double mu, float[] w, float[] bias)
    {
        D = d;
        K = k;
        Mu = mu;
        W = w;
        Bias = bias;
    }

    public int D { get; }

    public int K { get; }

    /// <summary>The ridge penalty mu the map was fitted with.</summary>
    public double Mu { get; }

    /// <summary>W, row-major d x k.</summary>
    public float[] W { get; }

    /// <summary>b, length k.</summary>
    public float[] Bias { get; }

    /// <summary>Fits W and b from the sums with penalty <paramref name="mu"/> (mu &gt; 0, or 0 when Ec^T Ec is well conditioned).</summary>
    public static RidgeProjection Fit(ProjectionSums sums, double mu)
    {
        if (sums.Count < 2)
        {
            throw new InvalidOperationException($"A projection needs at least 2 items with embeddings and factors, got {sums.Count}.");
        }
        if (!(mu >= 0) || double.IsInfinity(mu))
        {
            throw new ArgumentOutOfRangeException(nameof(mu), mu, "ridge penalty mu must be finite and non-negative.");
        }
        sums.Symmetrize();
        int d = sums.D, k = sums.K;
        double n = sums.Count;
        var meanE = sums.SumE.Select(v => v / n).ToArray();
        var meanY = sums.SumY.Select(v => v / n).ToArray();
        var a = Matrix<double>.Build.Dense(d, d, (i, j) => sums.EtE[i * d + j] - n * meanE[i] * meanE[j] + (i == j ? mu : 0));
        var rhs = Matrix<double>.Build.Dense(d, k, (i, c) => sums.EtY[i * k + c] - n * meanE[i] * meanY[c]);
        Matrix<double> solution;
        try
        {
            solution = a.Cholesky().Solve(rhs);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"Ec^T Ec + mu I is not positive definite at mu = {mu}; use a larger mu.", ex);
        }
        var w = new float[d * k];
        var bias = new float[k];
        for (int c = 0; c < k; c++)
        {
            double bc = meanY[c];
            for (int i = 0; i < d; i++)
            {
                double v = solution[i, c];
                w[i * k + c] = (float)v;
                bc -= v * meanE[i];
            }
            bias[c] = (float)bc;
        }
        if (w.Any(v => !float.IsFinite(v)) || bias.Any(v => !float.IsFinite(v)))
        {
            throw new InvalidOperationException($"The fitted projection has non-finite values at mu = {mu}.");
        }
        return new RidgeProjection(d, k, mu, w, bias);
    }

    /// <summary>y = W^T e + b.</summary>
    public void Apply(ReadOnlySpan<float> e, Span<float> y)
    {
        if (e.Length != D || y.Length != K)
        {
            throw new ArgumentException($"Projection of {D} -> {K} applied to {e.Length} -> {y.Length}.");
        }
        Bias.CopyTo(y);
        for (int i = 0; i < D; i++)
        {
            // y += e_i W[i, :]
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(W.AsSpan(i * K, K), e[i], y, y);
        }
    }

    public float[] Apply(ReadOnlySpan<float> e)
    {
        var y = new float[K];
        Apply(e, y);
        return y;
    }

    /// <summary>Little-endian bytes for a model-file section: magic "WPRJ", version, d, k, mu, W (d x k floats), b (k floats).</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[4 + 4 + 4 + 4 + 8 + 4 * (W.Length + Bias.Length)];
        var s = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], D);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], K);
        BinaryPrimitives.WriteDoubleLittleEndian(s[16..], Mu);
        int pos = 24;
        foreach (float v in W)
        {
            BinaryPrimitives.WriteSingleLittleEndian(s[pos..], v);
            pos += 4;
        }
        foreach (float v in Bias)
        {
            BinaryPrimitives.WriteSingleLittleEndian(s[pos..], v);
            pos += 4;
        }
        return bytes;
    }

    /// <summary>The length of the <see cref="ToBytes"/> image that starts <paramref name="s"/> (from its d and k), so that
    /// images can follow one another.</summary>
    public static int LengthAt(ReadOnlySpan<byte> s)
    {
        if (s.Length < 24 || BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic)
        {
            throw new InvalidDataException("Not a projection section (bad magic).");
        }
        long d = BinaryPrimitives.ReadInt32LittleEndian(s[8..]), k = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        var length = 24 + 4 * (d * k + k);
        if (d < 1 || k < 1 || length > s.Length)
        {
            throw new InvalidDataException($"Projection section of {d}x{k} needs {length} bytes; {s.Length} are left.");
        }
        return (int)length;
    }

    public static RidgeProjection FromBytes(ReadOnlySpan<byte> s)
    {
        if (s.Length < 24 || BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic)
        {
            throw new InvalidDataException("Not a projection section (bad magic).");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        if (version != Version)
        {
            throw new InvalidDataException($"Projection version {version} is not supported (expected {Version}).");
        }
        int d = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        if (d < 1 || k < 1 || s.Length != 24 + 4L * ((long)d * k + k))
        {
            throw new InvalidDataException($"Projection section of {d}x{k}: {s.Length} bytes is the wrong length.");
        }
        double mu = BinaryPrimitives.ReadDoubleLittleEndian(s[16..]);
        var w = new float[d * k];
        var b = new float[k];
        int pos = 24;
        for (int i = 0; i < w.Length; i++, pos += 4)
        {
            w[i] = BinaryPrimitives.ReadSingleLittleEndian(s[pos..]);
        }
        for (int i = 0; i < k; i++, pos += 4)
        {
            b[i] = BinaryPrimitives.ReadSingleLittleEndian(s[pos..]);
        }
        return new RidgeProjection(d, k, mu, w, b);
    }
}

/// <summary>The validation error of one candidate mu.</summary>
public sealed record MuCandidate(double Mu, double ValidationMse);

/// <summary>The selected projection (refitted on all warm items with the best mu) and every candidate's error.</summary>
public sealed record ProjectionFit(RidgeProjection Projection, double Mu, IReadOnlyList<MuCandidate> Candidates);

/// <summary>
/// Chooses mu by validation on held-out warm items: fit on the training sums for every candidate, measure the mean
/// squared error (per item, summed over the k factor dimensions) on the validation sums, keep the best, and refit on
/// training + validation. Works from sums alone, so shards can split their warm items into the two parts by a stable
/// hash and the coordinator never sees a row.
/// </summary>
public static class ProjectionFitter
{
    /// <summary>Default grid, as multiples of the mean eigenvalue of Ec^T Ec (trace / d): mu = s * trace / d.</summary>
    public static IReadOnlyList<double> DefaultRelativeGrid { get; } = [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10];

    /// <summary>Absolute mu candidates: <paramref name="relativeGrid"/> times trace(Ec^T Ec) / d of <paramref name="sums"/>.</summary>
    public static double[] AbsoluteGrid(ProjectionSums sums, IReadOnlyList<double>? relativeGrid = null)
    {
        double n = sums.Count;
        double trace = 0;
        for (int a = 0; a < sums.D; a++)
        {
            double m = sums.SumE[a] / n;
            trace += sums.EtE[a * sums.D + a] - n * m * m;
        }
        double scale = Math.Max(trace / sums.D, 1e-12);
        return (relativeGrid ?? DefaultRelativeGrid).Select(s => s * scale).ToArray();
    }

    public static ProjectionFit Fit(ProjectionSums train, ProjectionSums validation, IReadOnlyList<double>? muCandidates = null)
    {
        if (validation.Count == 0)
        {
            throw new InvalidOperationException("Choosing mu needs held-out warm items; the validation part is empty.");
        }
        var grid = muCandidates ?? AbsoluteGrid(train);
        if (grid.Count == 0)
        {
            throw new ArgumentException("No mu candidates.", nameof(muCandidates));
        }
        var results = new List<MuCandidate>();
        double bestMu = double.NaN, best = double.PositiveInfinity;
        foreach (double mu in grid)
        {
            var p = RidgeProjection.Fit(train, mu);
            double mse = validation.SquaredError(p) / validation.Count;
            results.Add(new MuCandidate(mu, mse));
            if (mse < best)
            {
                best = mse;
                bestMu = mu;
            }
        }
        var final = RidgeProjection.Fit(train + validation, bestMu);
        return new ProjectionFit(final, bestMu, results);
    }

    /// <summary>
    /// The text-only map of free-text queries beside the item map, for vectors whose last <paramref name="metadataFeatures"/>
    /// values are structured item features a text does not have: <see cref="Fit(ProjectionSums, ProjectionSums, IReadOnlyList{double})"/>
    /// on the leading blocks of the same sums (<see cref="ProjectionSums.Leading"/>), so the same items and split with
    /// its own mu. Null without features (the item map serves text too).
    /// </summary>
    public static ProjectionFit? FitQueryMap(ProjectionSums train, ProjectionSums validation, int metadataFeatures)
    {
        if (metadataFeatures == 0)
        {
            return null;
        }
        var text = train.D - metadataFeatures;
        return Fit(train.Leading(text), validation.Leading(text));
    }

    /// <summary>Row-level convenience: embeddings[i] and factors[i] of warm items; rows with isValidation[i] form the held-out part.</summary>
    public static ProjectionFit Fit(IReadOnlyList<float[]> embeddings, IReadOnlyList<float[]> factors, IReadOnlyList<bool> isValidation, IReadOnlyList<double>? muCandidates = null)
    {
        if (embeddings.Count != factors.Count || embeddings.Count != isValidation.Count || embeddings.Count == 0)
        {
            throw new ArgumentException($"{embeddings.Count} embeddings, {factors.Count} factor rows and {isValidation.Count} split flags must be equal and non-zero.");
        }
        var train = new ProjectionSums(embeddings[0].Length, factors[0].Length);
        var validation = new ProjectionSums(train.D, train.K);
        for (int i = 0; i < embeddings.Count; i++)
        {
            (isValidation[i] ? validation : train).Add(embeddings[i], factors[i]);
        }
        return Fit(train, validation, muCandidates);
    }
}
