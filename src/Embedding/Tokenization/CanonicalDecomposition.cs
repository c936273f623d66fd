using System.Globalization;
using System.Text;

namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// Canonical decomposition (NFD) without ICU, for accent stripping: the process runs with InvariantGlobalization,
/// where <see cref="string.Normalize(NormalizationForm)"/> leaves "é" as it is. Code points come from a table generated
/// from Python's unicodedata (CanonicalDecomposition.Table.cs, tools/generate-decompositions.py); Hangul syllables
/// decompose into their jamo by the Unicode formula. Combining marks are not reordered (canonical ordering), which
/// only matters for marks that are kept, and <see cref="StripAccents"/> removes them.
/// </summary>
internal static partial class CanonicalDecomposition
{
    private const int HangulBase = 0xAC00, HangulCount = 11172, LeadBase = 0x1100, VowelBase = 0x1161, TrailBase = 0x11A7;
    private const int VowelCount = 21, TrailCount = 28;

    private static readonly Lazy<Dictionary<int, string>> Map = new(() =>
    {
        var map = new Dictionary<int, string>(Keys.Length);
        for (var i = 0; i < Keys.Length; i++)
        {
            map[Keys[i]] = Values[i];
        }
        return map;
    });

    /// <summary>The canonical decomposition of <paramref name="text"/>, code point by code point.</summary>
    public static string Decompose(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            AppendDecomposed(sb, rune);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Hugging Face's BasicTokenizer._run_strip_accents: the canonical decomposition with every non-spacing mark
    /// (category Mn) removed, so "Amélie" is "Amelie" and a decomposed "e\u0301" is "e". ASCII text comes back as is.
    /// </summary>
    public static string StripAccents(string text)
    {
        if (Ascii.IsValid(text))
        {
            return text;
        }
        var decomposed = Decompose(text);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                sb.Append(rune.ToString());
            }
        }
        return sb.ToString();
    }

    private static void AppendDecomposed(StringBuilder sb, Rune rune)
    {
        var s = rune.Value - HangulBase;
        if (s >= 0 && s < HangulCount)
        {
            sb.Append((char)(LeadBase + s / (VowelCount * TrailCount)));
            sb.Append((char)(VowelBase + s % (VowelCount * TrailCount) / TrailCount));
            if (s % TrailCount != 0)
            {
                sb.Append((char)(TrailBase + s % TrailCount));
            }
            return;
        }
        if (Map.Value.TryGetValue(rune.Value, out var decomposition))
        {
            sb.Append(decomposition);
            return;
        }
        sb.Append(rune.ToString());
    }
}
