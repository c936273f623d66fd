using Microsoft.ML.Tokenizers;

namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// BERT-family WordPiece (vocab.txt) through Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>:
/// [CLS] tokens [SEP], padding with [PAD], token_type_ids all 0. A vocabulary without <c>[CLS]</c> that has
/// <c>&lt;s&gt;</c> (MPNet's) uses <c>&lt;s&gt;</c> tokens <c>&lt;/s&gt;</c> and <c>&lt;pad&gt;</c> instead. As in Hugging Face's
/// BasicTokenizer, an uncased model also strips accents (NFD, then the non-spacing marks go: "Amélie" is "amelie")
/// unless <c>strip_accents</c> says otherwise; the text is cut to exactly max length - 2 word pieces, inside a word
/// if need be, as Hugging Face's truncation does.
/// </summary>
public sealed class WordPieceTokenizer : ITextTokenizer
{
    private readonly BertTokenizer _bert;

    private readonly bool _stripAccents;

    private WordPieceTokenizer(BertTokenizer bert, int modelMaxLength, bool stripAccents)
    {
        _bert = bert;
        ModelMaxLength = modelMaxLength;
        _stripAccents = stripAccents;
    }

    public int ModelMaxLength { get; }

    public int ClassificationTokenId => _bert.ClassificationTokenId;

    public int SeparatorTokenId => _bert.SeparatorTokenId;

    public int PaddingTokenId => _bert.PaddingTokenId;

    /// <summary>
    /// Hugging Face's BERT splits a word of more characters than this into one [UNK] (max_input_chars_per_word), so no
    /// word gives more pieces: encoding max length - 2 + this many pieces always includes the word the cut falls in.
    /// </summary>
    private const int MaxPiecesPerWord = 100;

    /// <param name="vocab">vocab.txt, one token per line (id = line number - 1).</param>
    /// <param name="lowerCase">do_lower_case of the model (true for uncased models such as all-MiniLM-L6-v2).</param>
    /// <param name="modelMaxLength">max_position_embeddings of the model.</param>
    /// <param name="stripAccents">strip_accents of the model; null (Hugging Face's default) follows <paramref name="lowerCase"/>.</param>
    public static WordPieceTokenizer Create(Stream vocab, bool lowerCase, int modelMaxLength, bool? stripAccents = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMaxLength, 2);
        using var copy = new MemoryStream();
        vocab.CopyTo(copy);
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            ApplyBasicTokenization = true,
            MaxInputCharsPerWord = MaxPiecesPerWord,
        };
        var tokens = Tokens(copy);
        if (!tokens.Contains("[CLS]") && tokens.Contains("<s>"))
        {
            options.ClassificationToken = "<s>";
            options.SeparatorToken = "</s>";
            options.PaddingToken = "<pad>";
            options.MaskingToken = "<mask>";
        }
        copy.Position = 0;
        var bert = BertTokenizer.Create(copy, options);
        return new WordPieceTokenizer(bert, modelMaxLength, stripAccents ?? lowerCase);
    }

    public static WordPieceTokenizer Create(string vocabPath, bool lowerCase, int modelMaxLength, bool? stripAccents = null)
    {
        using var stream = File.OpenRead(vocabPath);
        return Create(stream, lowerCase, modelMaxLength, stripAccents);
    }

    /// <summary>The vocabulary's tokens (one per line); the stream is read from its start.</summary>
    private static HashSet<string> Tokens(MemoryStream vocab)
    {
        vocab.Position = 0;
        using var reader = new StreamReader(vocab, leaveOpen: true);
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            tokens.Add(line);
        }
        return tokens;
    }

    public IReadOnlyList<int> EncodeIds(string text, int maxLength)
    {
        int max = TokenLimits.Effective(maxLength, ModelMaxLength);
        string clean = TextSanitizer.CleanForWordPiece(text);
        if (_stripAccents)
        {
            clean = CanonicalDecomposition.StripAccents(clean);
        }
        // The library's own limit stops before the first word that does not fit whole; asking for one word more and
        // cutting the ids keeps exactly max - 2 pieces, as Hugging Face does.
        IReadOnlyList<int> content = max == 2 || clean.Length == 0 ? [] : _bert.EncodeToIds(clean, max - 2 + MaxPiecesPerWord, addSpecialTokens: false, out _, out _);
        var ids = new List<int>(Math.Min(content.Count, max - 2) + 2) { _bert.ClassificationTokenId };
        for (int i = 0; i < content.Count && i < max - 2; i++)
        {
            ids.Add(content[i]);
        }
        ids.Add(_bert.SeparatorTokenId);
        return ids;
    }

    public TokenBatch Encode(IReadOnlyList<string> texts, int maxLength)
    {
        var rows = new IReadOnlyList<int>[texts.Count];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = EncodeIds(texts[i], maxLength);
        }
        return Pad(rows);
    }

    public TokenBatch Pad(IReadOnlyList<IReadOnlyList<int>> rows) => TokenBatch.FromIds(rows, _bert.PaddingTokenId, withTokenTypeIds: true);
}

internal static class TokenLimits
{
    public const int DefaultMaxLength = 128;

    /// <summary>The requested length capped at the model's limit; at least 2 so the special tokens fit.</summary>
    public static int Effective(int requested, int modelMax)
    {
        if (requested < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(requested), requested, "max length must be at least 2 (room for the special tokens).");
        }
        return Math.Min(requested, modelMax);
    }
}
