using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Tests.Wals;

/// <summary>
/// Brute-force WALS in double precision with dense confidence and preference matrices (every entry of
/// C and P materialised), the reference the fast solvers are compared against.
/// </summary>
internal static class DenseReference
{
    public static (double[,] C, double[,] P) DenseWeights(CsrMatrix r, WalsOptions o)
    {
        var c = new double[r.Rows, r.Columns];
        var p = new double[r.Rows, r.Columns];
        for (var u = 0; u < r.Rows; u++)
        {
            for (var i = 0; i < r.Columns; i++)
            {
                c[u, i] = o.UnobservedWeight;
            }
            for (var e = r.RowStart[u]; e < r.RowStart[u + 1]; e++)
            {
                var (conf, pref) = WeightedInteractions.Confidence(r.Values[e], o);
                c[u, r.ColumnIndex[e]] = conf;
                p[u, r.ColumnIndex[e]] = pref;
            }
        }
        return (c, p);
    }

    /// <summary>x_u = (Y^T C_u Y + lambda_u I)^-1 Y^T C_u p_u for every row, from the dense matrices.</summary>
    public static double[] SolveRows(double[,] c, double[,] p, float[] y, int k, WalsOptions o, int[] rowCounts)
    {
        var rows = c.GetLength(0);
        var cols = c.GetLength(1);
        var x = new double[rows * k];
        for (var u = 0; u < rows; u++)
        {
            var a = new double[k, k];
            var b = new double[k];
            for (var i = 0; i < cols; i++)
            {
                for (var s = 0; s < k; s++)
                {
                    b[s] += c[u, i] * p[u, i] * y[i * k + s];
                    for (var t = 0; t < k; t++)
                    {
                        a[s, t] += c[u, i] * y[i * k + s] * y[i * k + t];
                    }
                }
            }
            var lambda = WeightedInteractions.RowRegularization(rowCounts[u], cols, o);
            for (var s = 0; s < k; s++)
            {
                a[s, s] += lambda;
            }
            var sol = Gauss(a, b);
            Array.Copy(sol, 0, x, u * k, k);
        }
        return x;
    }

    public static double Loss(double[,] c, double[,] p, float[] x, float[] y, int k, WalsOptions o, int[] userCounts, int[] itemCounts)
    {
        var rows = c.GetLength(0);
        var cols = c.GetLength(1);
        double loss = 0;
        for (var u = 0; u < rows; u++)
        {
            for (var i = 0; i < cols; i++)
            {
                double t = 0;
                for (var s = 0; s < k; s++)
                {
                    t += (double)x[u * k + s] * y[i * k + s];
                }
                loss += c[u, i] * (p[u, i] - t) * (p[u, i] - t);
            }
        }
        for (var u = 0; u < rows; u++)
        {
            loss += WeightedInteractions.RowRegularization(userCounts[u], cols, o) * SquaredNorm(x, u, k);
        }
        for (var i = 0; i < cols; i++)
        {
            loss += WeightedInteractions.RowRegularization(itemCounts[i], rows, o) * SquaredNorm(y, i, k);
        }
        return loss;
    }

    private static double SquaredNorm(float[] v, int row, int k)
    {
        double s = 0;
        for (var j = 0; j < k; j++)
        {
            s += (double)v[row * k + j] * v[row * k + j];
        }
        return s;
    }

    private static double[] Gauss(double[,] a, double[] b)
    {
        var n = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < n; r++)
            {
                if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col]))
                {
                    pivot = r;
                }
            }
            for (var j = 0; j < n; j++)
            {
                (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
            }
            (v[col], v[pivot]) = (v[pivot], v[col]);
            for (var r = col + 1; r < n; r++)
            {
                var f = m[r, col] / m[col, col];
                for (var j = col; j < n; j++)
                {
                    m[r, j] -= f * m[col, j];
                }
                v[r] -= f * v[col];
            }
        }
        var x = new double[n];
        for (var r = n - 1; r >= 0; r--)
        {
            var s = v[r];
            for (var j = r + 1; j < n; j++)
            {
                s -= m[r, j] * x[j];
            }
            x[r] = s / m[r, r];
        }
        return x;
    }

    public static CsrMatrix RandomMatrix(Random random, int rows, int cols, double density, bool allowNegative)
    {
        var r = new List<int>();
        var c = new List<int>();
        var v = new List<float>();
        for (var u = 0; u < rows; u++)
        {
            for (var i = 0; i < cols; i++)
            {
                if (random.NextDouble() < density)
                {
                    r.Add(u);
                    c.Add(i);
                    var value = (float)(random.Next(1, 20));
                    v.Add(allowNegative && random.NextDouble() < 0.15 ? -value : value);
                }
            }
        }
        return CsrMatrix.FromCoordinates(rows, cols, r.ToArray(), c.ToArray(), v.ToArray());
    }

    public static int[] RowCounts(CsrMatrix m) => Enumerable.Range(0, m.Rows).Select(m.RowLength).ToArray();
}
