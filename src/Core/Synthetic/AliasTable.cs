namespace WalsCluster.Core.Synthetic;

/// <summary>
/// Walker's alias method in Vose's numerically stable form: after O(n) set-up, draws one of n outcomes with
/// probability proportional to its weight in O(1) (one uniform: its integer part picks a column, its fraction
/// decides between the column's own outcome and its alias).
/// </summary>
public sealed class AliasTable
{
    private readonly double[] _probability;
    private readonly int[] _alias;
    private readonly int[] _outcome;

    /// <summary>A table over <paramref name="weights"/> (non-negative, not all zero); outcome j is <paramref name="outcomes"/>[j], or j when null.</summary>
    public AliasTable(ReadOnlySpan<double> weights, ReadOnlySpan<int> outcomes = default)
    {
        var n = weights.Length;
        if (n == 0)
        {
            throw new ArgumentException("An alias table needs at least one weight.", nameof(weights));
        }
        if (!outcomes.IsEmpty && outcomes.Length != n)
        {
            throw new ArgumentException("outcomes must have one entry per weight.", nameof(outcomes));
        }
        var total = 0.0;
        foreach (var w in weights)
        {
            if (!(w >= 0) || !double.IsFinite(w))
            {
                throw new ArgumentException($"Weights must be finite and non-negative, not {w}.", nameof(weights));
            }
            total += w;
        }
        if (total <= 0)
        {
            throw new ArgumentException("At least one weight must be positive.", nameof(weights));
        }
        _probability = new double[n];
        _alias = new int[n];
        _outcome = outcomes.IsEmpty ? Enumerable.Range(0, n).ToArray() : outcomes.ToArray();
        var scaled = new double[n];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (var j = 0; j < n; j++)
        {
            scaled[j] = weights[j] * n / total;
            (scaled[j] < 1 ? small : large).Push(j);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            var s = small.Pop();
            var l = large.Pop();
            _probability[s] = scaled[s];
            _alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1;
            (scaled[l] < 1 ? small : large).Push(l);
        }
        // What is left has probability 1 up to rounding.
        while (large.Count > 0)
        {
            _probability[large.Pop()] = 1;
        }
        while (small.Count > 0)
        {
            _probability[small.Pop()] = 1;
        }
    }

    public int Count => _probability.Length;

    /// <summary>One outcome drawn with probability proportional to its weight.</summary>
    public int Sample(Xoshiro256StarStar random)
    {
        var u = random.NextDouble() * _probability.Length;
        var column = Math.Min((int)u, _probability.Length - 1);
        return _outcome[u - column < _probability[column] ? column : _alias[column]];
    }
}
