using MathNet.Numerics.LinearAlgebra;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>Small dense k x k linear algebra in double precision (row-major).</summary>
public static class Dense
{
    /// <summary>
    /// Solves A x = b in place for symmetric positive definite A by Cholesky factorisation A = L L^T
    /// (A is overwritten by L in its lower triangle, b by x). Returns false when A is not positive definite.
    /// </summary>
    public static bool CholeskySolveInPlace(Span<double> a, int k, Span<double> b)
    {
        for (var j = 0; j < k; j++)
        {
            var rowJ = a.Slice(j * k, k);
            var d = rowJ[j];
            for (var p = 0; p < j; p++)
            {
                d -= rowJ[p] * rowJ[p];
            }
            if (!(d > 0) || !double.IsFinite(d))
            {
                return false;
            }
            var ljj = Math.Sqrt(d);
            rowJ[j] = ljj;
            for (var i = j + 1; i < k; i++)
            {
                var rowI = a.Slice(i * k, k);
                var s = rowI[j];
                for (var p = 0; p < j; p++)
                {
                    s -= rowI[p] * rowJ[p];
                }
                rowI[j] = s / ljj;
            }
        }
        // Forward substitution L z = b.
        for (var i = 0; i < k; i++)
        {
            var rowI = a.Slice(i * k, k);
            var s = b[i];
            for (var p = 0; p < i; p++)
            {
                s -= rowI[p] * b[p];
            }
            b[i] = s / rowI[i];
        }
        // Back substitution L^T x = z.
        for (var i = k - 1; i >= 0; i--)
        {
            var s = b[i];
            for (var p = i + 1; p < k; p++)
            {
                s -= a[p * k + i] * b[p];
            }
            b[i] = s / a[i * k + i];
        }
        return true;
    }

    /// <summary>
    /// Eigendecomposition of a symmetric k x k matrix G = Q diag(values) Q^T (MathNet.Numerics, managed
    /// Householder tridiagonalisation + QL). Returns Q row-major as float (column j is eigenvector j) and the
    /// eigenvalues, clamped at 0 because G is a Gram matrix (positive semi-definite up to rounding).
    /// </summary>
    public static (float[] Q, float[] Values) SymmetricEigen(ReadOnlySpan<double> g, int k)
    {
        var m = Matrix<double>.Build.Dense(k, k);
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                // Symmetrise to remove rounding asymmetry.
                m[i, j] = 0.5 * (g[i * k + j] + g[j * k + i]);
            }
        }
        var evd = m.Evd(Symmetricity.Symmetric);
        var q = new float[k * k];
        var values = new float[k];
        var vectors = evd.EigenVectors;
        for (var j = 0; j < k; j++)
        {
            values[j] = (float)Math.Max(0.0, evd.EigenValues[j].Real);
            for (var i = 0; i < k; i++)
            {
                q[i * k + j] = (float)vectors[i, j];
            }
        }
        return (q, values);
    }

    /// <summary>The transpose of a row-major k x k matrix.</summary>
    public static float[] Transpose(ReadOnlySpan<float> m, int k)
    {
        var t = new float[k * k];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                t[j * k + i] = m[i * k + j];
            }
        }
        return t;
    }
}
