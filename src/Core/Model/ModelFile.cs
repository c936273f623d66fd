using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Model;

/// <summary>An extra named section of a model file (for example a text-embedding projection): opaque bytes that the
/// format carries without knowing what they mean.</summary>
public sealed record ModelSection(string Name, byte[] Payload);

/// <summary>A model file as read: the factor model and every section this version does not interpret, in file order.</summary>
public sealed record ModelFileContents(FactorModel Model, IReadOnlyList<ModelSection> ExtraSections)
{
    /// <summary>The extra section named <paramref name="name"/>, or null.</summary>
    public ModelSection? Section(string name) => ExtraSections.FirstOrDefault(s => s.Name == name);
}

/// <summary>The JSON header section: shape, hyperparameters and what training recorded.</summary>
internal sealed record ModelFileHeader(int Users, int Items, int Factors, WalsOptions Options, TrainingMetadata Metadata);

[JsonSourceGenerationOptions(
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    UseStringEnumConverter = true,
    IgnoreReadOnlyProperties = true)]
[JsonSerializable(typeof(ModelFileHeader))]
internal sealed partial class ModelFileJsonContext : JsonSerializerContext;

/// <summary>
/// The binary model file, format version 1, little-endian throughout:
/// <code>
/// "WALSMODL"        8 bytes magic
/// version           uint32 (1)
/// reserved          uint32 (0)
/// file length       int64, the whole file including the checksum
/// section*          uint8 name length, UTF-8 name, int64 payload length, payload
///                   header       UTF-8 JSON: users, items, factors, options (WalsOptions), metadata (TrainingMetadata)
///                   user-ids     int32 count, then per id int32 byte length + UTF-8 bytes, in index order
///                   item-ids     the same for items
///                   user-factors users x k float32, row-major (X)
///                   item-factors items x k float32, row-major (Y)
///                   any other name: an extra section, kept as bytes and returned by <see cref="Read"/>
/// "end" section     empty payload, marks the end of the sections
/// checksum          32 bytes, SHA-256 of every byte before it
/// </code>
/// Writing streams each section to a temporary file beside the target, flushes it to disk and renames it over the
/// target, so a crash never leaves a half-written model under the real name. Reading streams too, so a model of
/// 500k users x 256 factors never needs more than its own arrays.
/// </summary>
public static class ModelFile
{
    /// <summary>The current (and newest readable) format version.</summary>
    public const uint FormatVersion = 1;

    public static ReadOnlySpan<byte> Magic => "WALSMODL"u8;

    private const int FixedHeaderBytes = 8 + 4 + 4 + 8;
    private const int ChecksumBytes = 32;
    private const int ChunkFloats = 1 << 16;

    private const string HeaderSection = "header";
    private const string UserIdsSection = "user-ids";
    private const string ItemIdsSection = "item-ids";
    private const string UserFactorsSection = "user-factors";
    private const string ItemFactorsSection = "item-factors";
    private const string EndSection = "end";

    private static readonly HashSet<string> Reserved =
        [HeaderSection, UserIdsSection, ItemIdsSection, UserFactorsSection, ItemFactorsSection, EndSection];

    /// <summary>Writes <paramref name="model"/> (and optional extra sections) to <paramref name="path"/> atomically.</summary>
    public static void Save(FactorModel model, string path, IEnumerable<ModelSection>? extraSections = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var extras = (extraSections ?? []).ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in extras)
        {
            ArgumentNullException.ThrowIfNull(section.Payload);
            var nameBytes = Encoding.UTF8.GetByteCount(section.Name);
            if (nameBytes is 0 or > 255 || Reserved.Contains(section.Name) || !names.Add(section.Name))
            {
                throw new ArgumentException($"Extra section name '{section.Name}' must be 1-255 UTF-8 bytes, unique and not one of {string.Join(", ", Reserved)}.", nameof(extraSections));
            }
        }

        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var writer = new HashingWriter(file, hash);
                var header = JsonSerializer.SerializeToUtf8Bytes(
                    new ModelFileHeader(model.Users.Count, model.Items.Count, model.Factors, model.Options, model.Metadata),
                    ModelFileJsonContext.Default.ModelFileHeader);
                var userIdBytes = IdMapBytes(model.Users);
                var itemIdBytes = IdMapBytes(model.Items);
                long length = FixedHeaderBytes + ChecksumBytes
                    + SectionBytes(HeaderSection, header.Length)
                    + SectionBytes(UserIdsSection, userIdBytes) + SectionBytes(ItemIdsSection, itemIdBytes)
                    + SectionBytes(UserFactorsSection, 4L * model.UserFactors.Length)
                    + SectionBytes(ItemFactorsSection, 4L * model.ItemFactors.Length)
                    + extras.Sum(s => SectionBytes(s.Name, s.Payload.Length))
                    + SectionBytes(EndSection, 0);

                writer.Write(Magic);
                writer.WriteUInt32(FormatVersion);
                writer.WriteUInt32(0);
                writer.WriteInt64(length);
                writer.WriteSectionStart(HeaderSection, header.Length);
                writer.Write(header);
                writer.WriteSectionStart(UserIdsSection, userIdBytes);
                WriteIdMap(writer, model.Users);
                writer.WriteSectionStart(ItemIdsSection, itemIdBytes);
                WriteIdMap(writer, model.Items);
                writer.WriteSectionStart(UserFactorsSection, 4L * model.UserFactors.Length);
                writer.WriteFloats(model.UserFactors);
                writer.WriteSectionStart(ItemFactorsSection, 4L * model.ItemFactors.Length);
                writer.WriteFloats(model.ItemFactors);
                foreach (var section in extras)
                {
                    writer.WriteSectionStart(section.Name, section.Payload.Length);
                    writer.Write(section.Payload);
                }
                writer.WriteSectionStart(EndSection, 0);
                writer.Flush();
                file.Write(hash.GetHashAndReset());
                if (file.Position != length)
                {
                    throw new InvalidOperationException($"Wrote {file.Position} bytes, the header promised {length}.");
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes what <see cref="Read"/> returned, extra sections included.</summary>
    public static void Save(ModelFileContents contents, string path) => Save(contents.Model, path, contents.ExtraSections);

    /// <summary>Reads the factor model of a file written by <see cref="Save(FactorModel, string, IEnumerable{ModelSection}?)"/>.</summary>
    public static FactorModel Load(string path) => Read(path).Model;

    /// <summary>Reads the model and every extra section. Throws <see cref="ModelFormatException"/> for a truncated or
    /// foreign file, a newer format version, a corrupt section or a checksum mismatch.</summary>
    public static ModelFileContents Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var actualLength = file.Length;
        Span<byte> fixedHeader = stackalloc byte[FixedHeaderBytes];
        var got = file.ReadAtLeast(fixedHeader, FixedHeaderBytes, throwOnEndOfStream: false);
        var magicBytes = Math.Min(got, Magic.Length);
        if (!fixedHeader[..magicBytes].SequenceEqual(Magic[..magicBytes]) || got == 0)
        {
            throw new ModelFormatException(path, $"not a WalsCluster model file (the first bytes are not the magic \"WALSMODL\").");
        }
        if (got < FixedHeaderBytes)
        {
            throw new ModelFormatException(path, $"truncated: {actualLength} bytes, shorter than the {FixedHeaderBytes}-byte file header.");
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader[8..]);
        if (version > FormatVersion)
        {
            throw new ModelFormatException(path, $"format version {version} is newer than this build reads (up to {FormatVersion}); upgrade WalsCluster to load it.");
        }
        if (version == 0)
        {
            throw new ModelFormatException(path, "format version 0 is not a valid version.");
        }
        var declaredLength = BinaryPrimitives.ReadInt64LittleEndian(fixedHeader[16..]);
        if (actualLength < declaredLength)
        {
            throw new ModelFormatException(path, $"truncated: {actualLength} bytes of the {declaredLength} its header declares.");
        }
        if (actualLength > declaredLength)
        {
            throw new ModelFormatException(path, $"{actualLength - declaredLength} unexpected bytes after the {declaredLength} its header declares.");
        }
        if (declaredLength < FixedHeaderBytes + ChecksumBytes)
        {
            throw new ModelFormatException(path, $"the declared length {declaredLength} is too small for a model file.");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(fixedHeader);
        var reader = new HashingReader(file, hash, declaredLength - ChecksumBytes - FixedHeaderBytes);
        ModelFileContents contents;
        try
        {
            contents = ReadSections(reader);
        }
        catch (Exception e) when (e is FormatException or EndOfStreamException or JsonException or ArgumentException or OverflowException or DecoderFallbackException)
        {
            // A structural error in a file of the right length is corruption; say so in terms of the checksum when it fails.
            reader.SkipRest();
            if (!ChecksumMatches(file, hash))
            {
                throw new ModelFormatException(path, $"checksum mismatch: the file is corrupt ({e.Message}).", e);
            }
            throw new ModelFormatException(path, $"corrupt content with a valid checksum: {e.Message}", e);
        }
        if (!ChecksumMatches(file, hash))
        {
            throw new ModelFormatException(path, "checksum mismatch: the SHA-256 stored at the end does not match the content; the file is corrupt.");
        }
        return contents;
    }

    private static ModelFileContents ReadSections(HashingReader reader)
    {
        ModelFileHeader? header = null;
        IdMap? users = null, items = null;
        float[]? userFactors = null, itemFactors = null;
        var extras = new List<ModelSection>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var nameLength = reader.ReadByte();
            var name = Encoding.UTF8.GetString(reader.ReadBytes(nameLength));
            var length = reader.ReadInt64();
            if (length < 0 || length > reader.Remaining)
            {
                throw new FormatException($"section '{name}' declares {length} bytes, {reader.Remaining} remain");
            }
            if (!seen.Add(name))
            {
                throw new FormatException($"section '{name}' appears twice");
            }
            var end = reader.Position + length;
            switch (name)
            {
                case EndSection:
                    if (length != 0 || reader.Remaining != 0)
                    {
                        throw new FormatException("the end section is not at the end");
                    }
                    if (header is null || users is null || items is null || userFactors is null || itemFactors is null)
                    {
                        throw new FormatException($"a required section is missing (found {string.Join(", ", seen)})");
                    }
                    var model = new FactorModel(users, items, header.Factors, userFactors, itemFactors, header.Options, header.Metadata);
                    return new ModelFileContents(model, extras);
                case HeaderSection:
                    header = JsonSerializer.Deserialize(reader.ReadBytes(checked((int)length)), ModelFileJsonContext.Default.ModelFileHeader)
                        ?? throw new FormatException("the header is null");
                    if (header.Users < 0 || header.Items < 0 || header.Factors < 1 || header.Options is null || header.Metadata is null)
                    {
                        throw new FormatException("the header has an invalid shape");
                    }
                    break;
                case UserIdsSection:
                    users = ReadIdMap(reader, header, isUsers: true);
                    break;
                case ItemIdsSection:
                    items = ReadIdMap(reader, header, isUsers: false);
                    break;
                case UserFactorsSection:
                    userFactors = ReadFactors(reader, header, length, header?.Users ?? 0);
                    break;
                case ItemFactorsSection:
                    itemFactors = ReadFactors(reader, header, length, header?.Items ?? 0);
                    break;
                default:
                    extras.Add(new ModelSection(name, reader.ReadBytes(checked((int)length))));
                    break;
            }
            if (reader.Position != end)
            {
                throw new FormatException($"section '{name}' declares {length} bytes but holds {length + reader.Position - end}");
            }
        }
    }

    private static IdMap ReadIdMap(HashingReader reader, ModelFileHeader? header, bool isUsers)
    {
        if (header is null)
        {
            throw new FormatException("an id section comes before the header");
        }
        var count = reader.ReadInt32();
        var expected = isUsers ? header.Users : header.Items;
        if (count != expected)
        {
            throw new FormatException($"the {(isUsers ? "user" : "item")} id section has {count} ids, the header says {expected}");
        }
        var map = new IdMap((int)Math.Min(count, reader.Remaining / 4));
        var buffer = new byte[256];
        for (var n = 0; n < count; n++)
        {
            var bytes = reader.ReadInt32();
            if (bytes < 0 || bytes > reader.Remaining)
            {
                throw new FormatException($"id {n} declares {bytes} bytes");
            }
            if (bytes > buffer.Length)
            {
                buffer = new byte[Math.Max(bytes, 2 * buffer.Length)];
            }
            reader.ReadExactly(buffer.AsSpan(0, bytes));
            var id = Encoding.UTF8.GetString(buffer, 0, bytes);
            if (!map.TryAdd(id, out _))
            {
                throw new FormatException($"duplicate id '{id}'");
            }
        }
        return map;
    }

    private static float[] ReadFactors(HashingReader reader, ModelFileHeader? header, long length, int rows)
    {
        if (header is null)
        {
            throw new FormatException("a factor section comes before the header");
        }
        var expected = 4L * rows * header.Factors;
        if (length != expected)
        {
            throw new FormatException($"a factor section has {length} bytes, expected {rows} x {header.Factors} float32 = {expected}");
        }
        var values = new float[checked(rows * header.Factors)];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        for (var at = 0; at < bytes.Length; at += ChunkFloats * 4)
        {
            reader.ReadExactly(bytes.Slice(at, Math.Min(ChunkFloats * 4, bytes.Length - at)));
        }
        if (!BitConverter.IsLittleEndian)
        {
            var raw = MemoryMarshal.Cast<float, int>(values.AsSpan());
            BinaryPrimitives.ReverseEndianness(raw, raw);
        }
        return values;
    }

    private static bool ChecksumMatches(FileStream file, IncrementalHash hash)
    {
        Span<byte> stored = stackalloc byte[ChecksumBytes];
        file.ReadExactly(stored);
        Span<byte> computed = stackalloc byte[ChecksumBytes];
        hash.GetHashAndReset(computed);
        return CryptographicOperations.FixedTimeEquals(stored, computed);
    }

    private static long SectionBytes(string name, long payload) => 1 + Encoding.UTF8.GetByteCount(name) + 8 + payload;

    private static long IdMapBytes(IdMap map)
    {
        long total = 4;
        foreach (var id in map.Ids)
        {
            total += 4 + Encoding.UTF8.GetByteCount(id);
        }
        return total;
    }

    private static void WriteIdMap(HashingWriter writer, IdMap map)
    {
        writer.WriteInt32(map.Count);
        var buffer = new byte[256];
        foreach (var id in map.Ids)
        {
            var bytes = Encoding.UTF8.GetByteCount(id);
            if (bytes > buffer.Length)
            {
                buffer = new byte[Math.Max(bytes, 2 * buffer.Length)];
            }
            Encoding.UTF8.GetBytes(id, buffer);
            writer.WriteInt32(bytes);
            writer.Write(buffer.AsSpan(0, bytes));
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Buffers writes to the file and feeds every byte to the checksum.</summary>
    private sealed class HashingWriter(Stream stream, IncrementalHash hash)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _used;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > _buffer.Length - _used)
            {
                Flush();
                if (bytes.Length >= _buffer.Length)
                {
                    hash.AppendData(bytes);
                    stream.Write(bytes);
                    return;
                }
            }
            bytes.CopyTo(_buffer.AsSpan(_used));
            _used += bytes.Length;
        }

        public void WriteUInt32(uint value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            Write(b);
        }

        public void WriteInt32(int value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, value);
            Write(b);
        }

        public void WriteInt64(long value)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, value);
            Write(b);
        }

        public void WriteSectionStart(string name, long payloadBytes)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            Write([(byte)nameBytes.Length]);
            Write(nameBytes);
            WriteInt64(payloadBytes);
        }

        /// <summary>Raw little-endian float32, in chunks (no copy on little-endian machines).</summary>
        public void WriteFloats(float[] values)
        {
            if (BitConverter.IsLittleEndian)
            {
                var bytes = MemoryMarshal.AsBytes(values.AsSpan());
                for (var at = 0; at < bytes.Length; at += ChunkFloats * 4)
                {
                    Write(bytes.Slice(at, Math.Min(ChunkFloats * 4, bytes.Length - at)));
                }
                return;
            }
            var chunk = ArrayPool<int>.Shared.Rent(ChunkFloats);
            for (var at = 0; at < values.Length; at += ChunkFloats)
            {
                var n = Math.Min(ChunkFloats, values.Length - at);
                var source = MemoryMarshal.Cast<float, int>(values.AsSpan(at, n));
                BinaryPrimitives.ReverseEndianness(source, chunk.AsSpan(0, n));
                Write(MemoryMarshal.AsBytes(chunk.AsSpan(0, n)));
            }
            ArrayPool<int>.Shared.Return(chunk);
        }

        public void Flush()
        {
            if (_used > 0)
            {
                hash.AppendData(_buffer, 0, _used);
                stream.Write(_buffer, 0, _used);
                _used = 0;
            }
        }
    }

    /// <summary>Reads at most <c>limit</c> content bytes (never the checksum) through a 64 KiB buffer, feeding each block
    /// read from the file to the checksum (one hash update per block, not per field).</summary>
    private sealed class HashingReader(Stream stream, IncrementalHash hash, long limit)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _start;
        private int _end;
        private long _fetched;

        public long Position => _fetched - (_end - _start);

        public long Remaining => limit - Position;

        public void ReadExactly(Span<byte> target)
        {
            if (target.Length > Remaining)
            {
                throw new EndOfStreamException($"a read of {target.Length} bytes runs past the content ({Remaining} remain)");
            }
            var buffered = Math.Min(target.Length, _end - _start);
            _buffer.AsSpan(_start, buffered).CopyTo(target);
            _start += buffered;
            var rest = target[buffered..];
            if (rest.Length >= _buffer.Length)
            {
                // Large payloads (factor blocks) go straight into the caller's array.
                stream.ReadExactly(rest);
                hash.AppendData(rest);
                _fetched += rest.Length;
                return;
            }
            if (rest.Length > 0)
            {
                Fill();
                _buffer.AsSpan(_start, rest.Length).CopyTo(rest);
                _start += rest.Length;
            }
        }

        private void Fill()
        {
            var count = (int)Math.Min(_buffer.Length, limit - _fetched);
            stream.ReadExactly(_buffer.AsSpan(0, count));
            hash.AppendData(_buffer, 0, count);
            _fetched += count;
            _start = 0;
            _end = count;
        }

        public byte[] ReadBytes(int count)
        {
            var bytes = new byte[count];
            ReadExactly(bytes);
            return bytes;
        }

        public byte ReadByte()
        {
            Span<byte> b = stackalloc byte[1];
            ReadExactly(b);
            return b[0];
        }

        public int ReadInt32()
        {
            Span<byte> b = stackalloc byte[4];
            ReadExactly(b);
            return BinaryPrimitives.ReadInt32LittleEndian(b);
        }

        public long ReadInt64()
        {
            Span<byte> b = stackalloc byte[8];
            ReadExactly(b);
            return BinaryPrimitives.ReadInt64LittleEndian(b);
        }

        /// <summary>Hashes the rest of the content, leaving the stream at the checksum.</summary>
        public void SkipRest()
        {
            _start = _end;
            while (_fetched < limit)
            {
                Fill();
            }
            _start = _end;
        }
    }
}
