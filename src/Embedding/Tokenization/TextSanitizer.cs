using System.Globalization;
using System.Text;

namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// Makes any .NET string safe to tokenize: an unpaired UTF-16 surrogate becomes U+FFFD (it has no UTF-8
/// encoding, so byte-level BPE could not encode it); tab, newline and other whitespace controls become a
/// space; other control characters (category Cc, e.g. NUL, ESC, DEL) are removed, as Hugging Face's BERT
/// BasicTokenizer._clean_text does. Text without such characters is returned as is (no allocation).
/// </summary>
public static class TextSanitizer
{
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }
        int i = 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsControl(c) && c != ' ')
            {
                break;
            }
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
            {
                break;
            }
        }
        if (i == text.Length)
        {
            return text;
        }
        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                sb.Append('\uFFFD');
            }
            else if (c is '\t' or '\n' or '\r' || (char.IsControl(c) && char.IsWhiteSpace(c)))
            {
                sb.Append(' ');
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Control)
            {
                // removed
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// <see cref="Clean"/>, then also what Hugging Face's BERT BasicTokenizer._clean_text removes beyond controls:
    /// every other character of a category starting with C (format characters such as the soft hyphen U+00AD or a
    /// zero-width space, private use, unassigned) and U+FFFD, so "hel\u00ADlo" is "hello". For WordPiece models;
    /// byte-level BPE keeps them (every byte has a token there).
    /// </summary>
    public static string CleanForWordPiece(string? text)
    {
        var clean = Clean(text);
        var keep = true;
        foreach (var rune in clean.EnumerateRunes())
        {
            if (IsRemovedByWordPiece(rune))
            {
                keep = false;
                break;
            }
        }
        if (keep)
        {
            return clean;
        }
        var sb = new StringBuilder(clean.Length);
        foreach (var rune in clean.EnumerateRunes())
        {
            if (!IsRemovedByWordPiece(rune))
            {
                sb.Append(rune.ToString());
            }
        }
        return sb.ToString();
    }

    private static bool IsRemovedByWordPiece(Rune rune) =>
        rune.Value == 0xFFFD || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
}
