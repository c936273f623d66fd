using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace WalsCluster.Embedding.ColdStart;

/// <summary>Item vectors with their ids and the settings that made them.</summary>
/// <param name="Ids">External item ids, one per row.</param>
/// <param name="Dimension">d, floats per row.</param>
/// <param name="Vectors">Row-major n x d.</param>
/// <param name="Settings">How the vectors were made.</param>
public sealed record ItemEmbeddings(IReadOnlyList<string> Ids, int Dimension, float[] Vectors, EmbeddingSettings Settings)
{
    public int Count => Ids.Count;

    public ReadOnlySpan<float> Vector(int row) => Vectors.AsSpan(row * Dimension, Dimension);

    /// <summary>id -&gt; row.</summary>
    public Dictionary<string, int> RowsById()
    {
        var rows = new Dictionary<string, int>(Ids.Count, StringComparer.Ordinal);
        for (var r = 0; r < Ids.Count; r++)
        {
            rows[Ids[r]] = r;
        }
        return rows;
    }

    /// <summary>Packs per-text vectors (all of length d) into one matrix.</summary>
    public static ItemEmbeddings Create(IReadOnlyList<string> ids, IReadOnlyList<float[]> vectors, EmbeddingSettings settings)
    {
        if (ids.Count != vectors.Count)
        {
            throw new ArgumentException($"{ids.Count} ids for {vectors.Count} vectors.");
        }
        var d = settings.Dimension;
        var matrix = new float[(long)ids.Count * d];
        for (var r = 0; r < vectors.Count; r++)
        {
            if (vectors[r].Length != d)
            {
                throw new ArgumentException($"Vector {r} has {vectors[r].Length} values, expected {d}.");
            }
            vectors[r].CopyTo(matrix, (long)r * d);
        }
        return new ItemEmbeddings(ids, d, matrix, settings);
    }
}

/// <summary>
/// The embeddings file written by <c>wals embed</c> (little-endian):
/// <code>
/// offset 0   4 bytes  magic "WEMB"
///        4   int32    version (1)
///        8   int32    n, rows
///       12   int32    d, floats per row
///       16   int32    m, bytes of the settings JSON
///       20   m bytes  settings, UTF-8 JSON (EmbeddingSettings: model, pooling, layer_count, normalize, max_length, dimension)
///            n ids    each int32 byte length + UTF-8 bytes
///            0-3 zero bytes so that the matrix starts at a multiple of 4
///            n*d      float32, row-major (row r is the vector of id r)
/// </code>
/// The file ends right after the matrix; its length is checked on reading. Python: see docs/embedding.md.
/// </summary>
public static class EmbeddingFile
{
    private static ReadOnlySpan<byte> Magic => "WEMB"u8;
    private const int Version = 1;

    /// <summary>Writes atomically (a temporary file in the same folder, then a rename).</summary>
    public static void Write(ItemEmbeddings embeddings, string path)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Embeddings files are written on little-endian machines only.");
        }
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(Version);
                writer.Write(embeddings.Count);
                writer.Write(embeddings.Dimension);
                var settings = Encoding.UTF8.GetBytes(embeddings.Settings.ToJson());
                writer.Write(settings.Length);
                writer.Write(settings);
                foreach (var id in embeddings.Ids)
                {
                    var bytes = Encoding.UTF8.GetBytes(id);
                    writer.Write(bytes.Length);
                    writer.Write(bytes);
                }
                while (stream.Position % 4 != 0)
                {
                    writer.Write((byte)0);
                }
                writer.Write(MemoryMarshal.AsBytes(embeddings.Vectors.AsSpan()));
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>Whether <paramref name="path"/> starts with the embeddings file magic.</summary>
    public static bool IsEmbeddingFile(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return stream.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && head.SequenceEqual(Magic);
    }

    /// <summary>Reads a file written by <see cref="Write"/>; a foreign, truncated or inconsistent file throws
    /// <see cref="InvalidDataException"/> naming it and what is wrong.</summary>
    public static ItemEmbeddings Read(string path)
    {
        var name = Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{name}: embeddings file not found ({Path.GetFullPath(path)}).", path);
        }
        var bytes = File.ReadAllBytes(path);
        var s = bytes.AsSpan();
        if (s.Length < 20 || !s[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{name}: not an embeddings file (no 'WEMB' header); 'wals embed' writes them.");
        }
        var version = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        if (version != Version)
        {
            throw new InvalidDataException($"{name}: embeddings file version {version}; this build reads version {Version}.");
        }
        var n = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        var d = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        var m = BinaryPrimitives.ReadInt32LittleEndian(s[16..]);
        // Every row takes at least its 4-byte id length and d floats, so n is bounded by the file's size before anything is allocated.
        if (n < 0 || d < 1 || m < 0 || 20L + m > s.Length || (long)n * (4 + 4L * d) > s.Length - 20L - m)
        {
            throw new InvalidDataException($"{name}: the header is inconsistent (n {n}, d {d}, settings {m} bytes, file {s.Length} bytes).");
        }
        var settings = EmbeddingSettings.FromJson(Encoding.UTF8.GetString(s.Slice(20, m)), name);
        if (settings.Dimension != d)
        {
            throw new InvalidDataException($"{name}: the settings say dimension {settings.Dimension} but the matrix has {d} columns.");
        }
        long at = 20 + m;
        var ids = new string[n];
        var firstRow = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var r = 0; r < n; r++)
        {
            if (at + 4 > s.Length)
            {
                throw new InvalidDataException($"{name}: truncated in the id of row {r}.");
            }
            var length = BinaryPrimitives.ReadInt32LittleEndian(s[(int)at..]);
            at += 4;
            if (length < 0 || at + length > s.Length)
            {
                throw new InvalidDataException($"{name}: truncated in the id of row {r}.");
            }
            ids[r] = Encoding.UTF8.GetString(s.Slice((int)at, length));
            if (!firstRow.TryAdd(ids[r], r))
            {
                throw new InvalidDataException($"{name}: id '{ids[r]}' is in row {r} and in row {firstRow[ids[r]]}; an embeddings file has one row per item.");
            }
            at += length;
        }
        at = (at + 3) / 4 * 4;
        var expected = at + 4L * n * d;
        if (expected != s.Length)
        {
            throw new InvalidDataException($"{name}: the file has {s.Length} bytes but {n} x {d} floats end at byte {expected} (truncated or not an embeddings file).");
        }
        var vectors = MemoryMarshal.Cast<byte, float>(s[(int)at..]).ToArray();
        for (var i = 0; i < vectors.Length; i++)
        {
            if (!float.IsFinite(vectors[i]))
            {
                throw new InvalidDataException($"{name}: row {i / d} (id '{ids[i / d]}') has a non-finite value.");
            }
        }
        return new ItemEmbeddings(ids, d, vectors, settings);
    }
}
