namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// Turns texts into the int64 inputs of a Hugging Face encoder. Implementations are immutable after
/// construction and safe to call from several threads at once.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>The longest sequence, special tokens included, the model accepts (its position table).</summary>
    int ModelMaxLength { get; }

    /// <summary>Token ids of one text with the model's special tokens, truncated to <paramref name="maxLength"/>
    /// tokens (special tokens kept). The text is sanitised first (see <see cref="TextSanitizer"/>).</summary>
    IReadOnlyList<int> EncodeIds(string text, int maxLength);

    /// <summary>Encodes a batch, padded to its longest sequence. <paramref name="maxLength"/> is capped at
    /// <see cref="ModelMaxLength"/>.</summary>
    TokenBatch Encode(IReadOnlyList<string> texts, int maxLength);

    /// <summary>A batch of texts already encoded by <see cref="EncodeIds"/>, padded to its longest sequence (what
    /// <see cref="Encode"/> does after encoding).</summary>
    TokenBatch Pad(IReadOnlyList<IReadOnlyList<int>> rows);
}

/// <summary>
/// A padded batch, row-major [BatchSize, SequenceLength]. AttentionMask is 1 on real tokens and 0 on
/// padding; TokenTypeIds (all 0 for single texts) is present for BERT-family tokenizers, null for RoBERTa.
/// </summary>
public sealed class TokenBatch
{
    public TokenBatch(int batchSize, int sequenceLength, long[] inputIds, long[] attentionMask, long[]? tokenTypeIds, int[] lengths)
    {
        if (inputIds.Length != batchSize * sequenceLength || attentionMask.Length != inputIds.Length
            || (tokenTypeIds is not null && tokenTypeIds.Length != inputIds.Length) || lengths.Length != batchSize)
        {
            throw new ArgumentException("Token batch arrays do not match its shape.");
        }
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds;
        Lengths = lengths;
    }

    public int BatchSize { get; }

    public int SequenceLength { get; }

    public long[] InputIds { get; }

    public long[] AttentionMask { get; }

    public long[]? TokenTypeIds { get; }

    /// <summary>Real (unpadded) length of each row.</summary>
    public int[] Lengths { get; }

    /// <summary>Pads per-text id lists (each already with its special tokens) to the longest one.</summary>
    public static TokenBatch FromIds(IReadOnlyList<IReadOnlyList<int>> rows, int paddingId, bool withTokenTypeIds)
    {
        int batch = rows.Count;
        int seq = 0;
        foreach (var r in rows)
        {
            seq = Math.Max(seq, r.Count);
        }
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var lengths = new int[batch];
        Array.Fill(ids, paddingId);
        for (int b = 0; b < batch; b++)
        {
            var r = rows[b];
            lengths[b] = r.Count;
            for (int t = 0; t < r.Count; t++)
            {
                ids[b * seq + t] = r[t];
                mask[b * seq + t] = 1;
            }
        }
        return new TokenBatch(batch, seq, ids, mask, withTokenTypeIds ? new long[batch * seq] : null, lengths);
    }
}
