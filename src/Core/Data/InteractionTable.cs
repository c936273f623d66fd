namespace WalsCluster.Core.Data;

/// <summary>
/// Interactions in coordinate form: one (user, item, value[, timestamp]) entry per row of the source,
/// with external ids mapped to dense indices. Duplicate (user, item) pairs may be present; they are
/// summed when the table is turned into a sparse matrix (<see cref="Sparse.CsrMatrix.FromCoordinates"/>).
/// </summary>
public sealed class InteractionTable
{
    public InteractionTable(IdMap users, IdMap items, int[] userIndex, int[] itemIndex, float[] values, long[]? timestamps = null)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(items);
        if (userIndex.Length != itemIndex.Length || userIndex.Length != values.Length)
        {
            throw new ArgumentException("userIndex, itemIndex and values must have the same length.");
        }
        if (timestamps is not null && timestamps.Length != values.Length)
        {
            throw new ArgumentException("timestamps must have the same length as values.", nameof(timestamps));
        }
        Users = users;
        Items = items;
        UserIndex = userIndex;
        ItemIndex = itemIndex;
        Values = values;
        Timestamps = timestamps;
    }

    public IdMap Users { get; }
    public IdMap Items { get; }
    public int[] UserIndex { get; }
    public int[] ItemIndex { get; }
    public float[] Values { get; }

    /// <summary>Seconds since the Unix epoch per entry, when the source has them.</summary>
    public long[]? Timestamps { get; }

    public int Count => Values.Length;

    /// <summary>The user x item matrix, duplicates summed.</summary>
    public Sparse.CsrMatrix ToUserItemMatrix() =>
        Sparse.CsrMatrix.FromCoordinates(Users.Count, Items.Count, UserIndex, ItemIndex, Values);
}
