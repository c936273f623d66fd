using System.Text;
using System.Text.Json;
using WalsCluster.Embedding.Onnx;

namespace WalsCluster.Embedding.Synthetic;

/// <summary>Sizes of a RoBERTa-architecture encoder (names as in Hugging Face's RobertaConfig).</summary>
public sealed record RobertaShape(
    int Layers,
    int Hidden,
    int Heads,
    int Intermediate,
    int VocabSize,
    int MaxPositions,
    int PaddingIdx = 1,
    float LayerNormEps = 1e-5f)
{
    public int HeadSize => Hidden / Heads;

    /// <summary>The test model: 2 layers, hidden 32, 4 heads, the <see cref="ByteLevelBpeVocabulary.Tiny"/> vocabulary.</summary>
    public static RobertaShape Tiny { get; } = new(2, 32, 4, 64, ByteLevelBpeVocabulary.Tiny.Count, 66);

    /// <summary>roberta-base sizes (12 layers, hidden 768, 12 heads, vocabulary 50265), for device benchmarks.</summary>
    public static RobertaShape Base { get; } = new(12, 768, 12, 3072, 50265, 514);
}

/// <summary>Weights of one transformer block. Matrices are row-major [in, out]: y = x W + b.</summary>
public sealed record RobertaLayerWeights(
    float[] Wq, float[] Bq, float[] Wk, float[] Bk, float[] Wv, float[] Bv,
    float[] Wo, float[] Bo, float[] AttnLnGamma, float[] AttnLnBeta,
    float[] W1, float[] B1, float[] W2, float[] B2, float[] OutLnGamma, float[] OutLnBeta);

/// <summary>All weights of a RoBERTa encoder with pooler. WordEmbeddings is [vocab, hidden], PositionEmbeddings
/// [maxPositions, hidden], TokenType0 the single token-type row RoBERTa adds to every token.</summary>
public sealed record RobertaWeights(
    RobertaShape Shape,
    float[] WordEmbeddings, float[] PositionEmbeddings, float[] TokenType0,
    float[] EmbLnGamma, float[] EmbLnBeta,
    IReadOnlyList<RobertaLayerWeights> Layers,
    float[] PoolerW, float[] PoolerB);

/// <summary>
/// A RoBERTa-architecture encoder with random weights, written as an ONNX graph of standard opset-17 ops,
/// so the RoBERTa path (byte-level BPE ids, position ids after the padding index, no token_type_ids,
/// layer taps, pooler) is tested and benchmarked without downloading weights.
/// </summary>
public static class SyntheticRoberta
{
    /// <summary>Random weights from <paramref name="seed"/>: N(0, scale^2) matrices and biases, LayerNorm gains 1 + N(0, 0.1^2).</summary>
    public static RobertaWeights RandomWeights(RobertaShape shape, int seed, float scale = 0.2f)
    {
        var rng = new Random(seed);
        int h = shape.Hidden, f = shape.Intermediate;
        float[] N(int count, float s, float offset = 0f)
        {
            var a = new float[count];
            for (int i = 0; i < count; i++)
            {
                // Box-Muller: deterministic for a seed on every platform.
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                a[i] = offset + s * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
            }
            return a;
        }
        var layers = new List<RobertaLayerWeights>();
        for (int l = 0; l < shape.Layers; l++)
        {
            layers.Add(new RobertaLayerWeights(
                N(h * h, scale), N(h, scale), N(h * h, scale), N(h, scale), N(h * h, scale), N(h, scale),
                N(h * h, scale), N(h, scale), N(h, 0.1f, 1f), N(h, 0.1f),
                N(h * f, scale), N(f, scale), N(f * h, scale), N(h, scale), N(h, 0.1f, 1f), N(h, 0.1f)));
        }
        return new RobertaWeights(shape,
            N(shape.VocabSize * h, 1f), N(shape.MaxPositions * h, 1f), N(h, 0.5f),
            N(h, 0.1f, 1f), N(h, 0.1f), layers, N(h * h, scale), N(h, scale));
    }

    /// <summary>
    /// The ONNX graph: inputs input_ids and attention_mask (int64 [batch, sequence]); outputs
    /// last_hidden_state [batch, sequence, hidden] and pooler_output [batch, hidden].
    /// Position ids as Hugging Face's create_position_ids_from_input_ids:
    /// m = (input_ids != padding_idx); position = cumsum(m) * m + padding_idx.
    /// </summary>
    public static byte[] BuildOnnx(RobertaWeights w)
    {
        var s = w.Shape;
        int h = s.Hidden, f = s.Intermediate;
        var g = new OnnxGraphBuilder();
        g.Input("input_ids", OnnxGraphBuilder.Int64, "batch", "sequence");
        g.Input("attention_mask", OnnxGraphBuilder.Int64, "batch", "sequence");

        string pad = g.InitializerInt64("padding_idx", [s.PaddingIdx]);
        string axis1 = g.InitializerInt64("axis_1", [1]);
        string one = g.Initializer("one", [1f]);
        string negative = g.Initializer("mask_value", [-10000f]);
        string scale = g.Initializer("attention_scale", [MathF.Sqrt(s.HeadSize)]);
        string sqrt2 = g.Initializer("sqrt_2", [MathF.Sqrt(2f)]);
        string half = g.Initializer("half", [0.5f]);
        string splitHeads = g.InitializerInt64("split_heads", [0, 0, s.Heads, s.HeadSize], 4);
        string mergeHeads = g.InitializerInt64("merge_heads", [0, 0, h], 3);
        string unsqueezeAxes = g.InitializerInt64("mask_axes", [1, 2], 2);
        string first = g.InitializerInt64("first_token", [0]);

        // Embeddings.
        string notPad = g.Node("Cast", [g.Node("Not", [g.Node("Equal", ["input_ids", pad])])], ("to", OnnxGraphBuilder.Int64));
        string positions = g.Node("Add", [g.Node("Mul", [g.Node("CumSum", [notPad, axis1]), notPad]), pad]);
        string words = g.Node("Gather", [g.Initializer("word_embeddings", w.WordEmbeddings, s.VocabSize, h), "input_ids"]);
        string pos = g.Node("Gather", [g.Initializer("position_embeddings", w.PositionEmbeddings, s.MaxPositions, h), positions]);
        string emb = g.Node("Add", [g.Node("Add", [words, pos]), g.Initializer("token_type_0", w.TokenType0, h)]);
        string hidden = LayerNorm(g, emb, "emb_ln", w.EmbLnGamma, w.EmbLnBeta, s.LayerNormEps, null);

        // Additive mask: (1 - mask) * -10000, shape [batch, 1, 1, sequence].
        string maskF = g.Node("Cast", ["attention_mask"], ("to", OnnxGraphBuilder.Float));
        string additive = g.Node("Unsqueeze", [g.Node("Mul", [g.Node("Sub", [one, maskF]), negative]), unsqueezeAxes]);

        for (int l = 0; l < s.Layers; l++)
        {
            var L = w.Layers[l];
            string p = $"layer{l}_";
            string Linear(string x, string name, float[] weight, float[] bias, int inDim, int outDim) =>
                g.Node("Add", [g.Node("MatMul", [x, g.Initializer(p + name + "_w", weight, inDim, outDim)]), g.Initializer(p + name + "_b", bias, outDim)]);
            string Heads(string x) => g.Node("Transpose", [g.Node("Reshape", [x, splitHeads])], ("perm", new long[] { 0, 2, 1, 3 }));

            string q = Heads(Linear(hidden, "q", L.Wq, L.Bq, h, h));
            string kT = g.Node("Transpose", [g.Node("Reshape", [Linear(hidden, "k", L.Wk, L.Bk, h, h), splitHeads])], ("perm", new long[] { 0, 2, 3, 1 }));
            string v = Heads(Linear(hidden, "v", L.Wv, L.Bv, h, h));
            string scores = g.Node("Add", [g.Node("Div", [g.Node("MatMul", [q, kT]), scale]), additive]);
            string probs = g.Node("Softmax", [scores], ("axis", -1L));
            string context = g.Node("Reshape", [g.Node("Transpose", [g.Node("MatMul", [probs, v])], ("perm", new long[] { 0, 2, 1, 3 })), mergeHeads]);
            string attn = g.Node("Add", [Linear(context, "o", L.Wo, L.Bo, h, h), hidden]);
            string a = LayerNorm(g, attn, p + "attn_ln", L.AttnLnGamma, L.AttnLnBeta, s.LayerNormEps, null);

            // GELU(x) = 0.5 x (1 + erf(x / sqrt 2)).
            string up = Linear(a, "ffn_in", L.W1, L.B1, h, f);
            string gelu = g.Node("Mul", [g.Node("Mul", [up, half]), g.Node("Add", [g.Node("Erf", [g.Node("Div", [up, sqrt2])]), one])]);
            string ffn = g.Node("Add", [Linear(gelu, "ffn_out", L.W2, L.B2, f, h), a]);
            hidden = LayerNorm(g, ffn, p + "out_ln", L.OutLnGamma, L.OutLnBeta, s.LayerNormEps, l == s.Layers - 1 ? "last_hidden_state" : null);
        }

        string cls = g.Node("Gather", [hidden, first], ("axis", 1L));
        string pooled = g.Node("Add", [g.Node("MatMul", [cls, g.Initializer("pooler_w", w.PoolerW, h, h)]), g.Initializer("pooler_b", w.PoolerB, h)]);
        g.NamedNode("pooler_output", "Tanh", [pooled]);

        g.Output("last_hidden_state", OnnxGraphBuilder.Float, "batch", "sequence", h);
        g.Output("pooler_output", OnnxGraphBuilder.Float, "batch", h);
        return g.Build("synthetic_roberta", 17);
    }

    private static string LayerNorm(OnnxGraphBuilder g, string x, string name, float[] gamma, float[] beta, float eps, string? output)
    {
        string[] inputs = [x, g.Initializer(name + "_gamma", gamma, gamma.Length), g.Initializer(name + "_beta", beta, beta.Length)];
        (string, object)[] attrs = [("axis", -1L), ("epsilon", eps)];
        return output is null ? g.Node("LayerNormalization", inputs, attrs) : g.NamedNode(output, "LayerNormalization", inputs, attrs);
    }

    /// <summary>
    /// Writes a complete model folder (model.onnx, vocab.json, merges.txt, config.json) as a Hugging Face
    /// RoBERTa export would look, so <see cref="Models.ModelCatalog.Load"/> reads it like a real one.
    /// </summary>
    public static void WriteModelFolder(string directory, RobertaWeights weights, ByteLevelBpeVocabulary vocabulary)
    {
        if (vocabulary.Count > weights.Shape.VocabSize)
        {
            throw new ArgumentException($"Vocabulary of {vocabulary.Count} tokens does not fit the embedding table of {weights.Shape.VocabSize} rows.");
        }
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "model.onnx"), BuildOnnx(weights));
        vocabulary.Write(directory);
        var config = new Dictionary<string, object>
        {
            ["model_type"] = "roberta",
            ["hidden_size"] = weights.Shape.Hidden,
            ["num_hidden_layers"] = weights.Shape.Layers,
            ["num_attention_heads"] = weights.Shape.Heads,
            ["max_position_embeddings"] = weights.Shape.MaxPositions,
            ["pad_token_id"] = weights.Shape.PaddingIdx,
            ["layer_norm_eps"] = weights.Shape.LayerNormEps,
        };
        File.WriteAllText(Path.Combine(directory, "config.json"), JsonSerializer.Serialize(config));
    }
}

/// <summary>
/// A byte-level BPE vocabulary in the GPT-2 / RoBERTa layout: vocab.json maps byte-level strings to ids,
/// merges.txt lists merges by rank.
/// </summary>
public sealed class ByteLevelBpeVocabulary
{
    private ByteLevelBpeVocabulary(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<string> merges)
    {
        Vocab = vocab;
        Merges = merges;
    }

    public IReadOnlyDictionary<string, int> Vocab { get; }

    public IReadOnlyList<string> Merges { get; }

    public int Count => Vocab.Count;

    /// <summary>
    /// The hand-checkable test vocabulary: &lt;s&gt; = 0, &lt;pad&gt; = 1, &lt;/s&gt; = 2, &lt;unk&gt; = 3, then every byte b
    /// as its GPT-2 byte-level character at id 4 + b (so no text is ever unknown; 'Ġ' is the space, id 36),
    /// then one token per merge, in merge order from id 260.
    /// </summary>
    public static ByteLevelBpeVocabulary Tiny { get; } = CreateTiny();

    private static ByteLevelBpeVocabulary CreateTiny()
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal) { ["<s>"] = 0, ["<pad>"] = 1, ["</s>"] = 2, ["<unk>"] = 3 };
        var map = ByteToUnicode();
        for (int b = 0; b < 256; b++)
        {
            vocab[map[b].ToString()] = 4 + b;
        }
        string[] merges =
        [
            "h e", "l l", "he ll", "hell o",          // 260 he, 261 ll, 262 hell, 263 hello
            "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld",  // 264 Ġw, 265 or, 266 Ġwor, 267 ld, 268 Ġworld
            "Ġ t", "Ġt he",                           // 269 Ġt, 270 Ġthe
        ];
        foreach (string m in merges)
        {
            vocab[m.Replace(" ", "", StringComparison.Ordinal)] = vocab.Count;
        }
        return new ByteLevelBpeVocabulary(vocab, merges);
    }

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to 256 + n.</summary>
    public static char[] ByteToUnicode()
    {
        var bs = new List<int>();
        for (int b = '!'; b <= '~'; b++) bs.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.Add(b);
        var map = new char[256];
        foreach (int b in bs)
        {
            map[b] = (char)b;
        }
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!bs.Contains(b))
            {
                map[b] = (char)(256 + n++);
            }
        }
        return map;
    }

    public void Write(string directory)
    {
        File.WriteAllText(Path.Combine(directory, "vocab.json"), JsonSerializer.Serialize(Vocab), new UTF8Encoding(false));
        var sb = new StringBuilder("#version: 0.2\n");
        foreach (string m in Merges)
        {
            sb.Append(m).Append('\n');
        }
        File.WriteAllText(Path.Combine(directory, "merges.txt"), sb.ToString(), new UTF8Encoding(false));
    }
}
