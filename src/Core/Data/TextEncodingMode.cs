namespace WalsCluster.Core.Data;

/// <summary>How the bytes of text fields (ids, titles, tags) are turned into characters.</summary>
public enum TextEncodingMode
{
    /// <summary>
    /// UTF-8 when the file starts with a UTF-8 byte order mark or every text field is valid UTF-8; Latin-1
    /// (ISO-8859-1) for the whole file as soon as a field is not valid UTF-8. The decision is per file: when a
    /// file turns out not to be UTF-8 after non-ASCII UTF-8 text was already decoded, it is read again as Latin-1.
    /// </summary>
    Auto,

    /// <summary>UTF-8; invalid bytes become U+FFFD.</summary>
    Utf8,

    /// <summary>ISO-8859-1: every byte is one character.</summary>
    Latin1,
}
