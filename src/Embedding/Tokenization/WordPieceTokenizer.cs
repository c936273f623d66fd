using Microsoft.ML.Tokenizers;

namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// BERT-family WordPiece (vocab.txt) through Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>:
/// [CLS] tokens [SEP], padding with [PAD], token_type_ids all 0.
/// </summary>
public sealed class WordPieceTokenizer : ITextTokenizer
{
    private readonly BertTokenizer _bert;

    private WordPieceTokenizer(BertTokenizer bert, int modelMaxLength)
    {
        _bert = bert;
        ModelMaxLength = modelMaxLength;
    }

    public int ModelMaxLength { get; }

    public int ClassificationTokenId => _bert.ClassificationTokenId;

    public int SeparatorTokenId => _bert.SeparatorTokenId;

    public int PaddingTokenId => _bert.PaddingTokenId;

    /// <param name="vocab">vocab.txt, one token per line (id = line number - 1).</param>
    /// <param name="lowerCase">do_lower_case of the model (true for uncased models such as all-MiniLM-L6-v2).</param>
    /// <param name="modelMaxLength">max_position_embeddings of the model.</param>
    public static WordPieceTokenizer Create(Stream vocab, bool lowerCase, int modelMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMaxLength, 2);
        var bert = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = lowerCase, ApplyBasicTokenization = true });
        return new WordPieceTokenizer(bert, modelMaxLength);
    }

    public static WordPieceTokenizer Create(string vocabPath, bool lowerCase, int modelMaxLength)
    {
        using var stream = File.OpenRead(vocabPath);
        return Create(stream, lowerCase, modelMaxLength);
    }

    public IReadOnlyList<int> EncodeIds(string text, int maxLength)
    {
        int max = TokenLimits.Effective(maxLength, ModelMaxLength);
        string clean = TextSanitizer.Clean(text);
        var content = _bert.EncodeToIds(clean, max - 2, addSpecialTokens: false, out _, out _);
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
