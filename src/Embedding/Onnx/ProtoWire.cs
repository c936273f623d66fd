using System.Buffers.Binary;
using System.Text;

namespace WalsCluster.Embedding.Onnx;

/// <summary>Protocol Buffers wire types (https://protobuf.dev/programming-guides/encoding/).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>One field of a protobuf message as it lies in the buffer: its number, wire type, and either
/// the varint value or the slice of a length-delimited / fixed payload.</summary>
internal readonly record struct ProtoField(int Number, WireType Type, ulong Varint, ReadOnlyMemory<byte> Payload, int Start, int End)
{
    public string AsString() => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>
/// A minimal forward-only protobuf reader over a byte buffer. The ONNX schema fields this project reads
/// are few (node inputs/outputs/op types, graph inputs/outputs, initializer names), and protoc is not
/// available on the build machines, so a reader of the wire format replaces generated classes.
/// Payloads are slices of the original buffer: a 90 MB model is not copied while it is scanned.
/// </summary>
internal static class ProtoReader
{
    public static List<ProtoField> ReadFields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<ProtoField>();
        var span = message.Span;
        int pos = 0;
        while (pos < span.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(span, ref pos);
            int number = checked((int)(tag >> 3));
            var type = (WireType)(tag & 7);
            switch (type)
            {
                case WireType.Varint:
                    ulong v = ReadVarint(span, ref pos);
                    fields.Add(new ProtoField(number, type, v, ReadOnlyMemory<byte>.Empty, start, pos));
                    break;
                case WireType.Fixed64:
                    Need(span, pos, 8);
                    fields.Add(new ProtoField(number, type, 0, message.Slice(pos, 8), start, pos + 8));
                    pos += 8;
                    break;
                case WireType.Fixed32:
                    Need(span, pos, 4);
                    fields.Add(new ProtoField(number, type, 0, message.Slice(pos, 4), start, pos + 4));
                    pos += 4;
                    break;
                case WireType.LengthDelimited:
                    int len = checked((int)ReadVarint(span, ref pos));
                    Need(span, pos, len);
                    fields.Add(new ProtoField(number, type, 0, message.Slice(pos, len), start, pos + len));
                    pos += len;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {(int)type} for field {number} at byte {start}.");
            }
        }
        return fields;
    }

    public static ulong ReadVarint(ReadOnlySpan<byte> span, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= span.Length)
            {
                throw new InvalidDataException("Truncated protobuf varint.");
            }
            byte b = span[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
        throw new InvalidDataException("Malformed protobuf varint (more than 10 bytes).");
    }

    private static void Need(ReadOnlySpan<byte> span, int pos, int count)
    {
        if (count < 0 || pos + count > span.Length)
        {
            throw new InvalidDataException($"Truncated protobuf field: {count} bytes needed at byte {pos}, {span.Length - pos} left.");
        }
    }
}

/// <summary>A minimal protobuf writer (the counterpart of <see cref="ProtoReader"/>).</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream;

    public ProtoWriter(int capacity = 256) => _stream = new MemoryStream(capacity);

    public long Length => _stream.Length;

    public byte[] ToArray() => _stream.ToArray();

    public void Tag(int number, WireType type) => RawVarint(((ulong)number << 3) | (ulong)type);

    public void RawVarint(ulong value)
    {
        Span<byte> buf = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            buf[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buf[n++] = (byte)value;
        _stream.Write(buf[..n]);
    }

    public void RawBytes(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    /// <summary>int32/int64/enum/bool field; negative values take 10 bytes, as protobuf requires.</summary>
    public void Int64(int number, long value)
    {
        Tag(number, WireType.Varint);
        RawVarint(unchecked((ulong)value));
    }

    public void Float(int number, float value)
    {
        Tag(number, WireType.Fixed32);
        Span<byte> buf = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(buf, value);
        _stream.Write(buf);
    }

    public void String(int number, string value) => Bytes(number, Encoding.UTF8.GetBytes(value));

    public void Bytes(int number, ReadOnlySpan<byte> value)
    {
        Tag(number, WireType.LengthDelimited);
        RawVarint((ulong)value.Length);
        _stream.Write(value);
    }

    public void Message(int number, Action<ProtoWriter> body)
    {
        var inner = new ProtoWriter();
        body(inner);
        Tag(number, WireType.LengthDelimited);
        RawVarint((ulong)inner._stream.Length);
        inner._stream.Position = 0;
        inner._stream.CopyTo(_stream);
    }

    /// <summary>Packed repeated int64 (the encoding used for dims and ints).</summary>
    public void PackedInt64(int number, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (long v in values)
        {
            inner.RawVarint(unchecked((ulong)v));
        }
        Bytes(number, inner.ToArray());
    }
}
