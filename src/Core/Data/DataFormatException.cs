namespace WalsCluster.Core.Data;

/// <summary>
/// Bad input data: a missing or empty file, a row with too few fields, a value that is not a finite number,
/// an unterminated quote. The message names the file, the 1-based line number and the field, for example
/// <c>ratings.csv line 17, field 'rating': 'abc' is not a number</c>.
/// </summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string message)
        : base(message)
    {
    }

    public DataFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DataFormatException(string file, long line, string? field, string reason)
        : base(Format(file, line, field, reason))
    {
        File = file;
        Line = line;
        Field = field;
        Reason = reason;
    }

    /// <summary>The file name (without its folder), when the error is tied to a file.</summary>
    public string? File { get; }

    /// <summary>The 1-based line number, or 0 when the error is about the whole file.</summary>
    public long Line { get; }

    /// <summary>The column name (from the header) or 0-based index of the bad field, when there is one.</summary>
    public string? Field { get; }

    /// <summary>What is wrong, without the file / line / field prefix.</summary>
    public string? Reason { get; }

    internal static string Format(string file, long line, string? field, string reason)
    {
        var where = line > 0 ? $"{file} line {line}" : file;
        return field is null ? $"{where}: {reason}" : $"{where}, field '{field}': {reason}";
    }
}
