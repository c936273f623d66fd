using System.Globalization;
using System.IO.Compression;
using System.Text.Unicode;

namespace WalsCluster.Core.Data;

/// <summary>
/// A streaming reader of delimited text (CSV, TSV, .dat) that works on bytes: one record per line, fields
/// split at a single-byte delimiter, RFC 4180 quoting (<c>"a,b"</c>, <c>""</c> for a quote) within a line.
/// Gzip input is detected by the <c>.gz</c> extension or the gzip magic bytes; a UTF-8 byte order mark is
/// skipped; CR LF and LF line ends both work; blank lines are skipped but counted for line numbers.
/// </summary>
/// <remarks>
/// Hand-written rather than built on Sep 0.18.0 because the loaders need three things Sep does not give:
/// an error for an unterminated quote on the line where it happens (Sep lets a quote run on to the end of
/// the file), physical 1-based line numbers for every record after skipped bad rows, and a per-file
/// UTF-8 / Latin-1 decision made on the raw bytes of the text fields (Sep decodes to chars up front with
/// one fixed encoding). Numeric fields are parsed straight from the UTF-8 bytes, ids are decoded only
/// when they are looked up, and nothing but the current buffer (1 MiB, grown for longer lines) is held,
/// so a 10-million-row file streams in constant memory. A quoted field cannot span lines: none of the
/// supported datasets has one, and it lets a bad quote cost one row instead of the rest of the file.
/// </remarks>
public sealed class DelimitedReader : IDisposable
{
    private const int InitialBufferSize = 1 << 20;
    private const byte Quote = (byte)'"';

    private readonly Stream _stream;
    private readonly FileStream? _file;
    private readonly byte _delimiter;
    private readonly TextEncodingMode _requested;
    private readonly bool _quoting;
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _position;
    private int _end;
    private bool _endOfStream;
    private bool _started;
    private byte[] _scratch = new byte[256];
    private char[] _chars = new char[256];
    private int[] _fieldStart = new int[16];
    private int[] _fieldLength = new int[16];
    private bool _recordInScratch;
    private long _physicalLine;
    private bool _sawNonAsciiUtf8;
    private bool _sawBom;
    private TextEncodingMode _decided;
    private long _decompressedBytes;
    private uint? _gzipTrailerSize;

    /// <summary>
    /// Reads <paramref name="stream"/> (already decompressed); <paramref name="fileName"/> names it in errors. With
    /// <paramref name="quoting"/> false a quote is an ordinary character (tab-separated .dat files such as Last.fm's
    /// artists.dat have names like <c>"Weird Al" Yankovic</c>).
    /// </summary>
    public DelimitedReader(Stream stream, string fileName, char delimiter, TextEncodingMode encoding = TextEncodingMode.Auto, bool quoting = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(fileName);
        if (delimiter > 127 || delimiter is '"' or '\r' or '\n')
        {
            throw new ArgumentException($"The delimiter must be one ASCII character other than a quote or a line end, not '{delimiter}'.", nameof(delimiter));
        }
        _stream = stream;
        _delimiter = (byte)delimiter;
        _requested = encoding;
        _decided = encoding;
        _quoting = quoting;
        FileName = fileName;
    }

    private DelimitedReader(FileStream file, Stream stream, string fileName, char delimiter, TextEncodingMode encoding, bool quoting)
        : this(stream, fileName, delimiter, encoding, quoting)
    {
        _file = file;
        TotalBytes = file.Length;
    }

    /// <summary>
    /// Opens <paramref name="path"/>, decompressing it when its name ends in <c>.gz</c> or it starts with the
    /// gzip magic bytes 1F 8B. Throws <see cref="DataFormatException"/> when the file does not exist.
    /// </summary>
    public static DelimitedReader Open(string path, char delimiter, TextEncodingMode encoding = TextEncodingMode.Auto, bool quoting = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        var name = Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new DataFormatException($"{name}: file not found ({Path.GetFullPath(path)})");
        }
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            Stream stream = file;
            uint? trailer = null;
            if (IsGzip(path, file))
            {
                trailer = GzipTrailerSize(file);
                stream = new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
            }
            return new DelimitedReader(file, stream, name, delimiter, encoding, quoting) { _gzipTrailerSize = trailer };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> on a reader of <paramref name="path"/>. With <see cref="TextEncodingMode.Auto"/>,
    /// when the file turns out to be Latin-1 after UTF-8 text was already decoded, runs it once more from the start
    /// with Latin-1, so that one file is never decoded with two encodings.
    /// </summary>
    public static T ReadFile<T>(string path, char delimiter, TextEncodingMode encoding, Func<DelimitedReader, T> read, bool quoting = true)
    {
        ArgumentNullException.ThrowIfNull(read);
        try
        {
            using var reader = Open(path, delimiter, encoding, quoting);
            return read(reader);
        }
        catch (EncodingChangedException) when (encoding == TextEncodingMode.Auto)
        {
            using var reader = Open(path, delimiter, TextEncodingMode.Latin1, quoting);
            return read(reader);
        }
    }

    /// <summary>The ISIZE field (last 4 bytes) of a gzip file of at least the 18-byte minimum; the position is left at 0.</summary>
    private static uint? GzipTrailerSize(FileStream file)
    {
        if (file.Length < 18)
        {
            return null;
        }
        Span<byte> size = stackalloc byte[4];
        file.Position = file.Length - 4;
        file.ReadExactly(size);
        file.Position = 0;
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(size);
    }

    private static bool IsGzip(string path, FileStream file)
    {
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        Span<byte> magic = stackalloc byte[2];
        var read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    /// <summary>The file name (no folder) used in error messages.</summary>
    public string FileName { get; }

    /// <summary>Optional column names (from a header) used to name fields in error messages.</summary>
    public IReadOnlyList<string>? FieldNames { get; set; }

    /// <summary>The 1-based line number of the current record.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Number of fields of the current record.</summary>
    public int FieldCount { get; private set; }

    /// <summary>Bytes consumed from the file so far (compressed bytes for gzip input); 0 for a plain stream.</summary>
    public long BytesRead => _file?.Position ?? 0;

    /// <summary>Length of the file in bytes, when reading a file.</summary>
    public long? TotalBytes { get; }

    /// <summary>
    /// The encoding in use: the requested one, or for <see cref="TextEncodingMode.Auto"/> <see cref="TextEncodingMode.Utf8"/>
    /// once a byte order mark or non-ASCII UTF-8 text was seen, <see cref="TextEncodingMode.Latin1"/> once invalid UTF-8
    /// was seen, and still <see cref="TextEncodingMode.Auto"/> while every text field was ASCII.
    /// </summary>
    public TextEncodingMode Encoding => _decided;

    /// <summary>The name of field <paramref name="field"/> for messages: its header name, or its 0-based index.</summary>
    public string FieldName(int field) =>
        FieldNames is { } names && field < names.Count && names[field].Length > 0 ? names[field] : field.ToString(CultureInfo.InvariantCulture);

    /// <summary>A <see cref="DataFormatException"/> at the current line.</summary>
    public DataFormatException Error(int? field, string reason) =>
        new(FileName, LineNumber, field is { } f ? FieldName(f) : null, reason);

    /// <summary>
    /// Moves to the next non-blank line. Returns false at the end of the input. Throws <see cref="DataFormatException"/>
    /// for an unterminated quote or text after a closing quote; the reader has then already moved past that line,
    /// so the caller may catch it and go on.
    /// </summary>
    public bool Read()
    {
        while (true)
        {
            if (!NextLine(out var start, out var length))
            {
                FieldCount = 0;
                return false;
            }
            _physicalLine++;
            LineNumber = _physicalLine;
            var line = _buffer.AsSpan(start, length);
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
                length--;
            }
            if (line.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0)
            {
                continue;
            }
            if (!_quoting || line.IndexOf(Quote) < 0)
            {
                SplitUnquoted(start, length);
            }
            else
            {
                SplitQuoted(line);
            }
            return true;
        }
    }

    /// <summary>The raw (unquoted) bytes of field <paramref name="field"/> of the current record.</summary>
    public ReadOnlySpan<byte> GetBytes(int field)
    {
        if ((uint)field >= (uint)FieldCount)
        {
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The record has {FieldCount} fields.");
        }
        return (_recordInScratch ? _scratch : _buffer).AsSpan(_fieldStart[field], _fieldLength[field]);
    }

    /// <summary>
    /// Field <paramref name="field"/> decoded to characters, in a buffer that is valid until the next call of
    /// <see cref="GetChars"/> or <see cref="Read"/>.
    /// </summary>
    public ReadOnlySpan<char> GetChars(int field)
    {
        var bytes = GetBytes(field);
        if (_chars.Length < bytes.Length)
        {
            _chars = new char[Math.Max(bytes.Length, _chars.Length * 2)];
        }
        var count = Decode(bytes, _chars);
        return _chars.AsSpan(0, count);
    }

    /// <summary>Field <paramref name="field"/> decoded to a new string.</summary>
    public string GetString(int field) => new(GetChars(field));

    /// <summary>Field <paramref name="field"/> as a finite number, or a <see cref="DataFormatException"/> naming it.</summary>
    public double GetDouble(int field)
    {
        var bytes = GetBytes(field);
        if (!double.TryParse(bytes, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            throw Error(field, $"'{Show(field)}' is not a number");
        }
        if (!double.IsFinite(value))
        {
            throw Error(field, $"'{Show(field)}' is not a finite number");
        }
        return value;
    }

    /// <summary>Field <paramref name="field"/> as a 64-bit integer, or a <see cref="DataFormatException"/> naming it.</summary>
    public long GetInt64(int field)
    {
        var bytes = GetBytes(field);
        if (!long.TryParse(bytes, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw Error(field, $"'{Show(field)}' is not an integer");
        }
        return value;
    }

    /// <summary>Field text for an error message, shortened to 60 characters.</summary>
    internal string Show(int field)
    {
        var text = GetString(field);
        return text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");
    }

    public void Dispose()
    {
        _stream.Dispose();
        _file?.Dispose();
    }

    private int Decode(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        if (System.Text.Ascii.IsValid(bytes))
        {
            System.Text.Ascii.ToUtf16(bytes, chars, out var written);
            return written;
        }
        if (_requested == TextEncodingMode.Latin1 || _decided == TextEncodingMode.Latin1)
        {
            return System.Text.Encoding.Latin1.GetChars(bytes, chars);
        }
        if (_requested == TextEncodingMode.Utf8)
        {
            return System.Text.Encoding.UTF8.GetChars(bytes, chars);
        }
        if (Utf8.IsValid(bytes))
        {
            _sawNonAsciiUtf8 = true;
            _decided = TextEncodingMode.Utf8;
            return System.Text.Encoding.UTF8.GetChars(bytes, chars);
        }
        if (_sawBom)
        {
            // The byte order mark says UTF-8: keep it, with U+FFFD for the bad bytes.
            return System.Text.Encoding.UTF8.GetChars(bytes, chars);
        }
        if (_sawNonAsciiUtf8)
        {
            throw new EncodingChangedException(FileName, LineNumber);
        }
        _decided = TextEncodingMode.Latin1;
        return System.Text.Encoding.Latin1.GetChars(bytes, chars);
    }

    private void SplitUnquoted(int start, int length)
    {
        _recordInScratch = false;
        var line = _buffer.AsSpan(start, length);
        var count = 0;
        var offset = 0;
        while (true)
        {
            var next = line[offset..].IndexOf(_delimiter);
            var fieldLength = next < 0 ? line.Length - offset : next;
            AddField(ref count, start + offset, fieldLength);
            if (next < 0)
            {
                break;
            }
            offset += next + 1;
        }
        FieldCount = count;
    }

    private void SplitQuoted(ReadOnlySpan<byte> line)
    {
        _recordInScratch = true;
        if (_scratch.Length < line.Length)
        {
            _scratch = new byte[Math.Max(line.Length, _scratch.Length * 2)];
        }
        var output = 0;
        var count = 0;
        var i = 0;
        while (true)
        {
            var fieldStart = output;
            if (i < line.Length && line[i] == Quote)
            {
                i++;
                while (true)
                {
                    var close = line[i..].IndexOf(Quote);
                    if (close < 0)
                    {
                        FieldCount = 0;
                        throw new DataFormatException(FileName, LineNumber, FieldName(count), "unterminated quote");
                    }
                    line.Slice(i, close).CopyTo(_scratch.AsSpan(output));
                    output += close;
                    i += close + 1;
                    if (i < line.Length && line[i] == Quote)
                    {
                        _scratch[output++] = Quote;
                        i++;
                        continue;
                    }
                    break;
                }
                if (i < line.Length && line[i] != _delimiter)
                {
                    FieldCount = 0;
                    throw new DataFormatException(FileName, LineNumber, FieldName(count), "text after a closing quote");
                }
            }
            else
            {
                var next = line[i..].IndexOf(_delimiter);
                var fieldLength = next < 0 ? line.Length - i : next;
                line.Slice(i, fieldLength).CopyTo(_scratch.AsSpan(output));
                output += fieldLength;
                i += fieldLength;
            }
            AddField(ref count, fieldStart, output - fieldStart);
            if (i >= line.Length)
            {
                break;
            }
            i++; // the delimiter
        }
        FieldCount = count;
    }

    private void AddField(ref int count, int start, int length)
    {
        if (count == _fieldStart.Length)
        {
            Array.Resize(ref _fieldStart, count * 2);
            Array.Resize(ref _fieldLength, count * 2);
        }
        _fieldStart[count] = start;
        _fieldLength[count] = length;
        count++;
    }

    /// <summary>Finds the next line (without its '\n') in the buffer, refilling from the stream as needed.</summary>
    private bool NextLine(out int start, out int length)
    {
        if (!_started)
        {
            _started = true;
            Fill();
            if (_end - _position >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF)
            {
                _position = 3;
                _sawBom = true;
                if (_decided == TextEncodingMode.Auto)
                {
                    _decided = TextEncodingMode.Utf8;
                }
            }
        }
        var searched = 0;
        while (true)
        {
            var newline = _buffer.AsSpan(_position + searched, _end - _position - searched).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                start = _position;
                length = searched + newline;
                _position += length + 1;
                return true;
            }
            searched = _end - _position;
            if (_endOfStream)
            {
                start = _position;
                length = searched;
                _position = _end;
                return length > 0;
            }
            Fill();
        }
    }

    /// <summary>Moves unread bytes to the front (growing the buffer when it is full) and reads more.</summary>
    private void Fill()
    {
        if (_position > 0)
        {
            Buffer.BlockCopy(_buffer, _position, _buffer, 0, _end - _position);
            _end -= _position;
            _position = 0;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        while (_end < _buffer.Length)
        {
            int read;
            try
            {
                read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException(FileName, _physicalLine + 1, null, $"not valid gzip data ({e.Message})");
            }
            if (read == 0)
            {
                _endOfStream = true;
                CheckGzipLength();
                break;
            }
            _end += read;
            _decompressedBytes += read;
        }
    }

    /// <summary>
    /// .NET's GZipStream ends quietly when a gzip file is cut off. The file's last 4 bytes are the uncompressed size of
    /// its last gzip member (ISIZE, mod 2^32); fewer bytes than that is a cut (several members only add up to more).
    /// In a cut file those 4 bytes are compressed data, which a real size below 4 GiB exceeds nearly always.
    /// </summary>
    private void CheckGzipLength()
    {
        if (_gzipTrailerSize is { } expected && _decompressedBytes < expected)
        {
            throw new DataFormatException(FileName, _physicalLine + 1, null,
                $"the gzip data ends after {_decompressedBytes} bytes, before the {expected} its trailer gives: the file is cut off");
        }
    }
}

/// <summary>Thrown inside <see cref="DelimitedReader.ReadFile{T}"/> to restart a file as Latin-1.</summary>
internal sealed class EncodingChangedException(string file, long line)
    : Exception($"{file} line {line}: the file is not UTF-8 after all; it is read again as Latin-1.");
