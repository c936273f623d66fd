using System.Buffers.Binary;
using System.Runtime.InteropServices;
using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Model;

/// <summary>
/// A factor model together with its training interactions (user x item, so that recommendations exclude what a
/// user already has) and any further sections, as stored in one model file.
/// </summary>
public sealed record SavedModel(FactorModel Model, CsrMatrix Train, IReadOnlyList<ModelSection> OtherSections)
{
    /// <summary>Name of the model-file section holding the training interactions.</summary>
    public const string TrainSection = "train-interactions";

    public ModelSection? Section(string name) => OtherSections.FirstOrDefault(s => s.Name == name);

    /// <summary>Writes the model file (atomically: see <see cref="ModelFile"/>).</summary>
    public void Save(string path) =>
        ModelFile.Save(Model, path, OtherSections.Where(s => s.Name != TrainSection).Prepend(new ModelSection(TrainSection, EncodeCsr(Train))));

    /// <summary>Reads a model file written by <see cref="Save"/>; a model without training interactions gets an empty matrix.</summary>
    public static SavedModel Load(string path)
    {
        var contents = ModelFile.Read(path);
        var model = contents.Model;
        var section = contents.Section(TrainSection);
        var train = section is null
            ? new CsrMatrix(model.Users.Count, model.Items.Count, new int[model.Users.Count + 1], [], [])
            : DecodeCsr(section.Payload, path);
        if (train.Rows != model.Users.Count || train.Columns != model.Items.Count)
        {
            throw new ModelFormatException(path, $"the training interactions are {train.Rows} x {train.Columns} but the model has {model.Users.Count} users x {model.Items.Count} items.");
        }
        return new SavedModel(model, train, contents.ExtraSections.Where(s => s.Name != TrainSection).ToList());
    }

    /// <summary>rows, columns, nnz (int32 each), then rowStart, column indices (int32) and values (float32), little-endian.</summary>
    public static byte[] EncodeCsr(CsrMatrix m)
    {
        var bytes = new byte[12 + 4L * (m.Rows + 1) + 8L * m.NonZeros];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, m.Rows);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], m.Columns);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], m.NonZeros);
        var at = 12;
        at += Copy(MemoryMarshal.AsBytes(m.RowStart.AsSpan()), span[at..]);
        at += Copy(MemoryMarshal.AsBytes(m.ColumnIndex.AsSpan()), span[at..]);
        Copy(MemoryMarshal.AsBytes(m.Values.AsSpan()), span[at..]);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Model files are written on little-endian machines only.");
        }
        return bytes;

        static int Copy(ReadOnlySpan<byte> from, Span<byte> to)
        {
            from.CopyTo(to);
            return from.Length;
        }
    }

    public static CsrMatrix DecodeCsr(byte[] bytes, string path)
    {
        if (bytes.Length < 12)
        {
            throw new ModelFormatException(path, $"section '{TrainSection}' is truncated.");
        }
        var rows = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        var columns = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        var nnz = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (rows < 0 || columns < 0 || nnz < 0 || bytes.Length != 12 + 4L * (rows + 1) + 8L * nnz)
        {
            throw new ModelFormatException(path, $"section '{TrainSection}' has an inconsistent size.");
        }
        var rowStart = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(12, 4 * (rows + 1))).ToArray();
        var columnIndex = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(12 + 4 * (rows + 1), 4 * nnz)).ToArray();
        var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(12 + 4 * (rows + 1) + 4 * nnz, 4 * nnz)).ToArray();
        for (var r = 0; r < rows; r++)
        {
            if (rowStart[r + 1] < rowStart[r])
            {
                throw new ModelFormatException(path, $"section '{TrainSection}' has decreasing row starts at row {r}.");
            }
        }
        foreach (var c in columnIndex)
        {
            if ((uint)c >= (uint)columns)
            {
                throw new ModelFormatException(path, $"section '{TrainSection}' has a column index {c} outside 0..{columns - 1}.");
            }
        }
        return new CsrMatrix(rows, columns, rowStart, columnIndex, values);
    }
}
