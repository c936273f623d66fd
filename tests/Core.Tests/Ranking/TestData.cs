using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Tests.Ranking;

internal static class TestData
{
    public static float[] RandomFactors(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    /// <summary>A users x items matrix where each entry is present with probability <paramref name="density"/>.</summary>
    public static CsrMatrix RandomMatrix(Random random, int users, int items, double density)
    {
        var rows = new List<int>();
        var cols = new List<int>();
        for (var u = 0; u < users; u++)
        {
            for (var i = 0; i < items; i++)
            {
                if (random.NextDouble() < density)
                {
                    rows.Add(u);
                    cols.Add(i);
                }
            }
        }
        return CsrMatrix.FromCoordinates(users, items, rows.ToArray(), cols.ToArray(), Enumerable.Repeat(1f, rows.Count).ToArray());
    }

    /// <summary>A matrix from explicit rows of item indices.</summary>
    public static CsrMatrix Rows(int items, params int[][] rows)
    {
        var r = new List<int>();
        var c = new List<int>();
        for (var u = 0; u < rows.Length; u++)
        {
            foreach (var i in rows[u])
            {
                r.Add(u);
                c.Add(i);
            }
        }
        return CsrMatrix.FromCoordinates(rows.Length, items, r.ToArray(), c.ToArray(), Enumerable.Repeat(1f, r.Count).ToArray());
    }
}
