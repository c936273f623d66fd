using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace WalsCluster.Embedding.Tokenization;

/// <summary>
/// RoBERTa's byte-level BPE (vocab.json + merges.txt) through Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// with ByteLevel = true and GPT-2's pre-tokenizer regex, which keeps a word's leading space with the word
/// (without it spaces are lost). Sequences are &lt;s&gt; tokens &lt;/s&gt;, padded with &lt;pad&gt;; the three ids
/// come from the vocabulary. No token_type_ids. Text that spells a special token ("&lt;s&gt;") is encoded as the text
/// it is, not as that token: item texts are data, never markup.
/// </summary>
public sealed partial class ByteLevelBpeTokenizer : ITextTokenizer
{
    private readonly BpeTokenizer _bpe;

    private ByteLevelBpeTokenizer(BpeTokenizer bpe, int bos, int eos, int pad, int modelMaxLength)
    {
        _bpe = bpe;
        BeginId = bos;
        EndId = eos;
        PaddingId = pad;
        ModelMaxLength = modelMaxLength;
    }

    public int ModelMaxLength { get; }

    public int BeginId { get; }

    public int EndId { get; }

    public int PaddingId { get; }

    /// <summary>GPT-2's pre-tokenizer pattern (Hugging Face ByteLevel pre-tokenizer, use_regex = true).</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Pattern();

    /// <param name="vocabJsonPath">vocab.json: byte-level token to id.</param>
    /// <param name="mergesPath">merges.txt: one merge per line by rank, after an optional #version line.</param>
    /// <param name="modelMaxLength">max_position_embeddings - padding_idx - 1 for RoBERTa (512 for roberta-base).</param>
    public static ByteLevelBpeTokenizer Create(string vocabJsonPath, string mergesPath, int modelMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMaxLength, 2);
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabJsonPath))
            ?? throw new InvalidDataException($"{vocabJsonPath}: not a JSON object of token -> id.");
        int Id(string token) => vocab.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"{vocabJsonPath}: the vocabulary has no '{token}' token.");
        int bos = Id("<s>"), eos = Id("</s>"), pad = Id("<pad>");
        var merges = new List<string>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNo++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0)
            {
                continue;
            }
            if (line.Split(' ').Length != 2)
            {
                throw new InvalidDataException($"{mergesPath}:{lineNo}: a merge must be two symbols separated by one space, got '{line}'.");
            }
            merges.Add(line);
        }
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(Gpt2Pattern(), null),
            UnknownToken = vocab.ContainsKey("<unk>") ? "<unk>" : null,
        };
        return new ByteLevelBpeTokenizer(BpeTokenizer.Create(options), bos, eos, pad, modelMaxLength);
    }

    public IReadOnlyList<int> EncodeIds(string text, int maxLength)
    {
        int max = TokenLimits.Effective(maxLength, ModelMaxLength);
        string clean = TextSanitizer.Clean(text);
        var content = max == 2 || clean.Length == 0 ? [] : _bpe.EncodeToIds(clean, max - 2, out _, out _);
        var ids = new List<int>(Math.Min(content.Count, max - 2) + 2) { BeginId };
        for (int i = 0; i < content.Count && i < max - 2; i++)
        {
            ids.Add(content[i]);
        }
        ids.Add(EndId);
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

    public TokenBatch Pad(IReadOnlyList<IReadOnlyList<int>> rows) => TokenBatch.FromIds(rows, PaddingId, withTokenTypeIds: false);
}
