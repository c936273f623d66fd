namespace WalsCluster.Core.Data;

/// <summary>
/// Maps external string ids (user ids, item ids) to dense 0-based indices and back.
/// Indices are assigned in first-seen order, so a map built from the same file is the same map.
/// </summary>
public sealed class IdMap
{
    private readonly Dictionary<string, int> _index;
    private readonly List<string> _ids;

    public IdMap(int capacity = 0)
    {
        _index = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
        _ids = new List<string>(capacity);
    }

    public IdMap(IEnumerable<string> ids) : this()
    {
        foreach (var id in ids)
        {
            if (!TryAdd(id, out _))
            {
                throw new ArgumentException($"Duplicate id '{id}' in id list.", nameof(ids));
            }
        }
    }

    /// <summary>Number of distinct ids.</summary>
    public int Count => _ids.Count;

    /// <summary>The external id of dense index <paramref name="index"/>.</summary>
    public string this[int index] => _ids[index];

    /// <summary>All ids in index order.</summary>
    public IReadOnlyList<string> Ids => _ids;

    /// <summary>Returns the index of <paramref name="id"/>, adding it when it is new.</summary>
    public int GetOrAdd(string id)
    {
        TryAdd(id, out var index);
        return index;
    }

    /// <summary>Returns the index of <paramref name="id"/>, adding it when it is new, without allocating a
    /// string when the id is already known.</summary>
    public int GetOrAdd(ReadOnlySpan<char> id)
    {
        var lookup = _index.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(id, out var existing))
        {
            return existing;
        }
        return GetOrAdd(id.ToString());
    }

    /// <summary>Adds <paramref name="id"/>; returns false (and the existing index) when it was known.</summary>
    public bool TryAdd(string id, out int index)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (_index.TryGetValue(id, out index))
        {
            return false;
        }
        index = _ids.Count;
        _index.Add(id, index);
        _ids.Add(id);
        return true;
    }

    /// <summary>The index of <paramref name="id"/>, or -1 when it is unknown.</summary>
    public int IndexOf(string id) => _index.TryGetValue(id, out var index) ? index : -1;

    /// <summary>The index of <paramref name="id"/>, or -1 when it is unknown.</summary>
    public int IndexOf(ReadOnlySpan<char> id) =>
        _index.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id, out var index) ? index : -1;

    public bool Contains(string id) => _index.ContainsKey(id);
}
