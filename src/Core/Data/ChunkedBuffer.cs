namespace WalsCluster.Core.Data;

/// <summary>
/// An append-only list kept in fixed chunks of 2^20 elements, so that growing never copies and the memory held
/// is the data plus at most one partly filled chunk; <see cref="ToArray"/> makes the one exact-size copy.
/// </summary>
internal sealed class ChunkedBuffer<T>
    where T : unmanaged
{
    private const int ChunkShift = 20;
    private const int ChunkSize = 1 << ChunkShift;
    private readonly List<T[]> _chunks = [];
    private T[] _current = [];
    private int _used = ChunkSize;

    public long Count { get; private set; }

    public void Add(T value)
    {
        if (_used == ChunkSize)
        {
            _current = new T[ChunkSize];
            _chunks.Add(_current);
            _used = 0;
        }
        _current[_used++] = value;
        Count++;
    }

    /// <summary>All elements in one array; the chunks are released.</summary>
    public T[] ToArray()
    {
        if (Count > Array.MaxLength)
        {
            throw new InvalidOperationException($"{Count} entries do not fit in one array.");
        }
        var result = new T[Count];
        var offset = 0;
        for (var c = 0; c < _chunks.Count; c++)
        {
            var length = (int)Math.Min(ChunkSize, Count - offset);
            Array.Copy(_chunks[c], 0, result, offset, length);
            offset += length;
            _chunks[c] = [];
        }
        _chunks.Clear();
        _current = [];
        _used = ChunkSize;
        Count = 0;
        return result;
    }
}
