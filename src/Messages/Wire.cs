using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace WalsCluster.Messages;

/// <summary>
/// Appends little-endian primitives, length-prefixed UTF-8 strings and raw little-endian arrays to a growable buffer.
/// Arrays are written as an int32 length and then their bytes in one copy (no per-element encoding).
/// </summary>
internal sealed class WireWriter
{
    private byte[] _buffer;
    private int _length;

    public WireWriter(int capacity = 256) => _buffer = GC.AllocateUninitializedArray<byte>(Math.Max(16, capacity));

    /// <summary>The bytes written; the buffer itself (no copy) when it was sized exactly.</summary>
    public byte[] ToArray() => _length == _buffer.Length ? _buffer : _buffer.AsSpan(0, _length).ToArray();

    private Span<byte> Take(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
        }
        var span = _buffer.AsSpan(_length, bytes);
        _length += bytes;
        return span;
    }

    public void Byte(byte value) => Take(1)[0] = value;

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public void Int(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    public void Long(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

    public void Float(float value) => BinaryPrimitives.WriteSingleLittleEndian(Take(4), value);

    public void Double(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), value);

    /// <summary>int32 byte count (-1 for null), then UTF-8.</summary>
    public void String(string? value)
    {
        if (value is null)
        {
            Int(-1);
            return;
        }
        var count = Encoding.UTF8.GetByteCount(value);
        Int(count);
        Encoding.UTF8.GetBytes(value, Take(count));
    }

    public void Ints(int[] values) => Raw<int>(values);

    public void Floats(float[] values) => Raw<float>(values);

    public void Doubles(double[] values) => Raw<double>(values);

    public void Bytes(byte[] values) => Raw<byte>(values);

    public void Strings(string[] values)
    {
        Int(values.Length);
        foreach (var v in values)
        {
            String(v);
        }
    }

    private void Raw<T>(T[] values) where T : unmanaged
    {
        Int(values.Length);
        MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(Take(values.Length * Marshal.SizeOf<T>()));
    }
}

/// <summary>Reads what <see cref="WireWriter"/> wrote; a truncated or malformed payload throws <see cref="InvalidDataException"/>.</summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _bytes;
    private int _position;

    public WireReader(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes;
        _position = 0;
    }

    private ReadOnlySpan<byte> Take(int bytes)
    {
        if (bytes < 0 || _position + bytes > _bytes.Length)
        {
            throw new InvalidDataException($"Message payload truncated: needed {bytes} bytes at offset {_position} of {_bytes.Length}.");
        }
        var span = _bytes.Slice(_position, bytes);
        _position += bytes;
        return span;
    }

    public byte Byte() => Take(1)[0];

    public bool Bool() => Byte() != 0;

    public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public float Float() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public string? NullableString()
    {
        var count = Int();
        return count == -1 ? null : Encoding.UTF8.GetString(Take(count));
    }

    public string String() => NullableString() ?? throw new InvalidDataException("A required string is null.");

    public int[] Ints() => Raw<int>();

    public float[] Floats() => Raw<float>();

    public double[] Doubles() => Raw<double>();

    public byte[] Bytes() => Raw<byte>();

    public string[] Strings()
    {
        var n = Int();
        if (n < 0 || n > _bytes.Length - _position)
        {
            throw new InvalidDataException($"String array length {n} is invalid at offset {_position}.");
        }
        var values = new string[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = String();
        }
        return values;
    }

    /// <summary>A float array read into an array rented from <see cref="BlockBuffers"/> (factor block values).</summary>
    public float[] PooledFloats() => Raw<float>(pooled: true);

    private T[] Raw<T>(bool pooled = false) where T : unmanaged
    {
        var n = Int();
        var size = Marshal.SizeOf<T>();
        if (n < 0 || (long)n * size > _bytes.Length - _position)
        {
            throw new InvalidDataException($"Array length {n} is invalid at offset {_position}.");
        }
        var values = pooled && typeof(T) == typeof(float) ? (T[])(object)BlockBuffers.Rent(n) : new T[n];
        Take(n * size).CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    public void End()
    {
        if (_position != _bytes.Length)
        {
            throw new InvalidDataException($"Message payload has {_bytes.Length - _position} trailing bytes.");
        }
    }
}
