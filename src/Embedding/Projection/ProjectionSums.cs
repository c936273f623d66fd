using System.Buffers.Binary;

namespace WalsCluster.Embedding.Projection;

/// <summary>
/// The sufficient statistics of the ridge regression from item embeddings e_i (dimension d) to item factors
/// y_i (dimension k), DESIGN section 1: n, sum e, sum y, sum |y|^2, E^T E (d x d) and E^T Y (d x k), in double.
/// Each item shard accumulates its own rows; a coordinator adds the parts with <see cref="Add(ProjectionSums)"/>
/// (addition is exact up to floating-point associativity, so the merged sums equal the whole-data sums).
/// Not thread-safe: one instance per accumulating thread, merged afterwards.
/// </summary>
public sealed class ProjectionSums
{
    private const uint Magic = 0x53505257; // "WRPS"
    private const int Version = 1;

    public ProjectionSums(int embeddingDimension, int factorDimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(factorDimension, 1);
        D = embeddingDimension;
        K = factorDimension;
        SumE = new double[D];
        SumY = new double[K];
        _ete = new double[D * D];
        EtY = new double[D * K];
    }

    public int D { get; }

    public int K { get; }

    /// <summary>n, the rows added.</summary>
    public long Count { get; private set; }

    public double[] SumE { get; }

    public double[] SumY { get; }

    /// <summary>sum_i |y_i|^2 (for validation error from sums alone).</summary>
    public double SumYY { get; private set; }

    private readonly double[] _ete;
    private bool _lowerStale;

    /// <summary>E^T E, row-major d x d (both triangles).</summary>
    public double[] EtE
    {
        get
        {
            Symmetrize();
            return _ete;
        }
    }

    /// <summary>E^T Y, row-major d x k.</summary>
    public double[] EtY { get; }

    /// <summary>Adds one item: e (length d) with its trained factors y (length k).</summary>
    public void Add(ReadOnlySpan<float> e, ReadOnlySpan<float> y) => Add(e, y, 1);

    /// <summary>Adds the pair <paramref name="weight"/> times (the same sums as that many calls of the unweighted Add, in one pass).</summary>
    public void Add(ReadOnlySpan<float> e, ReadOnlySpan<float> y, int weight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        if (e.Length != D || y.Length != K)
        {
            throw new ArgumentException($"Projection row has embedding length {e.Length} and factor length {y.Length}, expected {D} and {K}.");
        }
        for (int a = 0; a < D; a++)
        {
            if (!float.IsFinite(e[a]))
            {
                throw new ArgumentException($"Embedding value {a} is {e[a]}.");
            }
        }
        Count += weight;
        double w = weight;
        for (int c = 0; c < K; c++)
        {
            SumY[c] += w * y[c];
            SumYY += w * y[c] * y[c];
        }
        for (int a = 0; a < D; a++)
        {
            double ea = e[a];
            SumE[a] += w * ea;
            var wa = w * ea;
            var row = _ete.AsSpan(a * D, D);
            for (int b = a; b < D; b++)
            {
                row[b] += wa * e[b];
            }
            var yrow = EtY.AsSpan(a * K, K);
            for (int c = 0; c < K; c++)
            {
                yrow[c] += wa * y[c];
            }
        }
        // Only the upper triangle is accumulated; Symmetrize mirrors it before anyone reads EtE.
        _lowerStale = true;
    }

    /// <summary>Adds another shard's sums into this one.</summary>
    public void Add(ProjectionSums other)
    {
        if (other.D != D || other.K != K)
        {
            throw new ArgumentException($"Cannot add projection sums of {other.D}x{other.K} to {D}x{K}.");
        }
        Symmetrize();
        other.Symmetrize();
        Count += other.Count;
        SumYY += other.SumYY;
        Accumulate(SumE, other.SumE);
        Accumulate(SumY, other.SumY);
        Accumulate(EtE, other.EtE);
        Accumulate(EtY, other.EtY);
    }

    public static ProjectionSums operator +(ProjectionSums a, ProjectionSums b)
    {
        var sum = new ProjectionSums(a.D, a.K);
        sum.Add(a);
        sum.Add(b);
        return sum;
    }

    /// <summary>
    /// The sums of the regression on the first <paramref name="dimension"/> embedding coordinates alone: the leading
    /// block of E^T E, the leading rows of E^T Y and of sum e, the rest unchanged. Equal to the sums of the same rows
    /// added with their embeddings cut to that length, so a map from a prefix of the vector (the text part of a vector
    /// with metadata features appended) is fitted from the same shard reports.
    /// </summary>
    public ProjectionSums Leading(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, D);
        Symmetrize();
        var lead = new ProjectionSums(dimension, K) { Count = Count, SumYY = SumYY };
        SumE.AsSpan(0, dimension).CopyTo(lead.SumE);
        SumY.CopyTo(lead.SumY);
        for (int a = 0; a < dimension; a++)
        {
            _ete.AsSpan(a * D, dimension).CopyTo(lead._ete.AsSpan(a * dimension, dimension));
        }
        EtY.AsSpan(0, dimension * K).CopyTo(lead.EtY);
        return lead;
    }

    /// <summary>Copies the upper triangle of E^T E into the lower.</summary>
    public void Symmetrize()
    {
        if (!_lowerStale)
        {
            return;
        }
        for (int a = 0; a < D; a++)
        {
            for (int b = 0; b < a; b++)
            {
                _ete[a * D + b] = _ete[b * D + a];
            }
        }
        _lowerStale = false;
    }

    /// <summary>
    /// sum_i |W^T e_i + b - y_i|^2 over the rows in these sums, from the sums alone:
    /// tr(W^T EtE W) + 2 b^T W^T sumE - 2 tr(W^T EtY) - 2 b^T sumY + n |b|^2 + sum |y|^2.
    /// </summary>
    public double SquaredError(RidgeProjection p)
    {
        if (p.D != D || p.K != K)
        {
            throw new ArgumentException($"Projection {p.D}x{p.K} does not match sums {D}x{K}.");
        }
        Symmetrize();
        double total = SumYY;
        var w = p.W;
        var ew = new double[K];
        for (int a = 0; a < D; a++)
        {
            // (EtE W)[a, :] . W[a, :]
            Array.Clear(ew);
            for (int b = 0; b < D; b++)
            {
                double eab = EtE[a * D + b];
                if (eab == 0)
                {
                    continue;
                }
                for (int c = 0; c < K; c++)
                {
                    ew[c] += eab * w[b * K + c];
                }
            }
            for (int c = 0; c < K; c++)
            {
                double wac = w[a * K + c];
                total += ew[c] * wac - 2 * EtY[a * K + c] * wac + 2 * p.Bias[c] * wac * SumE[a];
            }
        }
        for (int c = 0; c < K; c++)
        {
            total += -2 * p.Bias[c] * SumY[c] + Count * (double)p.Bias[c] * p.Bias[c];
        }
        return Math.Max(0, total);
    }

    /// <summary>Little-endian bytes: magic, version, d, k, n, sumYY, sumE, sumY, EtE, EtY.</summary>
    public byte[] ToBytes()
    {
        Symmetrize();
        var bytes = new byte[4 + 4 + 4 + 4 + 8 + 8 + 8 * (D + K + D * D + D * K)];
        var s = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], D);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], K);
        BinaryPrimitives.WriteInt64LittleEndian(s[16..], Count);
        BinaryPrimitives.WriteDoubleLittleEndian(s[24..], SumYY);
        int pos = 32;
        foreach (var arr in new[] { SumE, SumY, EtE, EtY })
        {
            foreach (double v in arr)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(s[pos..], v);
                pos += 8;
            }
        }
        return bytes;
    }

    public static ProjectionSums FromBytes(ReadOnlySpan<byte> s)
    {
        if (s.Length < 32 || BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic)
        {
            throw new InvalidDataException("Not projection sums (bad magic).");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        if (version != Version)
        {
            throw new InvalidDataException($"Projection sums version {version} is not supported (expected {Version}).");
        }
        int d = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        var sums = new ProjectionSums(d, k);
        if (s.Length != 32 + 8L * (d + k + (long)d * d + (long)d * k))
        {
            throw new InvalidDataException($"Projection sums of {d}x{k}: {s.Length} bytes is the wrong length.");
        }
        sums.Count = BinaryPrimitives.ReadInt64LittleEndian(s[16..]);
        sums.SumYY = BinaryPrimitives.ReadDoubleLittleEndian(s[24..]);
        int pos = 32;
        foreach (var arr in new[] { sums.SumE, sums.SumY, sums.EtE, sums.EtY })
        {
            for (int i = 0; i < arr.Length; i++)
            {
                arr[i] = BinaryPrimitives.ReadDoubleLittleEndian(s[pos..]);
                pos += 8;
            }
        }
        return sums;
    }

    private static void Accumulate(double[] into, double[] from)
    {
        for (int i = 0; i < into.Length; i++)
        {
            into[i] += from[i];
        }
    }
}
