using WalsCluster.Embedding.Onnx;

namespace WalsCluster.Embedding.Tests;

public sealed class MiniLmTests : IClassFixture<MiniLmFixture>
{
    private readonly MiniLmFixture _minilm;

    public MiniLmTests(MiniLmFixture minilm) => _minilm = minilm;

    [Fact]
    public void MiniLm_hidden_states_are_found_by_structure_in_the_numbered_graph()
    {
        var graph = OnnxGraph.Parse(_minilm.Model.OnnxModel);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], graph.Inputs);
        var hidden = HiddenStateLocator.Find(graph);
        Assert.Equal(7, hidden.Count); // embeddings + 6 layers
        Assert.Equal("last_hidden_state", hidden[^1]);
        Assert.All(hidden.Take(6), name => Assert.True(int.TryParse(name, out _), name));
        var info = _minilm.Encoder.Info;
        Assert.Equal(384, info.Dimension);
        Assert.True(info.FeedsTokenTypeIds);
        Assert.Equal(hidden.Skip(3), info.LayerTensors);
        Assert.NotNull(info.PoolerTensor);
    }

    [Fact]
    public void MiniLm_last_tap_equals_last_hidden_state_and_the_others_differ()
    {
        var batch = _minilm.Encoder.Tokenizer.Encode(["A man is playing a guitar."], 128);
        var outputs = _minilm.Encoder.Run(batch);
        Assert.Equal(4, outputs.Layers.Count);
        using var mean = TextEncoder.Create(_minilm.Model, new EncoderOptions { IntraOpThreads = 2, Pooling = new PoolingOptions { Mode = PoolingMode.Cls, Normalize = false } });
        var cls = mean.Embed(["A man is playing a guitar."])[0];
        Assert.Equal(outputs.Layers[^1].AsSpan(0, 384).ToArray(), cls);
        Assert.NotEqual(outputs.Layers[^2].AsSpan(0, 384).ToArray(), cls);
    }

    [Theory]
    [InlineData(PoolingMode.Layers)]
    [InlineData(PoolingMode.Mean)]
    public void MiniLm_puts_a_paraphrase_pair_closer_than_unrelated_pairs(PoolingMode mode)
    {
        using var owned = mode == PoolingMode.Layers ? null : TextEncoder.Create(_minilm.Model, new EncoderOptions { IntraOpThreads = 2, Pooling = new PoolingOptions { Mode = mode } });
        var encoder = owned ?? _minilm.Encoder;
        var v = encoder.Embed([
            "A man is playing a guitar.",
            "Someone is strumming a guitar.",
            "The stock market fell sharply today.",
            "A recipe for chocolate cake with frosting.",
        ]);
        float paraphrase = Pooling.Cosine(v[0], v[1]);
        Assert.True(paraphrase > Pooling.Cosine(v[0], v[2]) + 0.1f, $"{paraphrase} vs {Pooling.Cosine(v[0], v[2])}");
        Assert.True(paraphrase > Pooling.Cosine(v[0], v[3]) + 0.1f);
        Assert.True(paraphrase > Pooling.Cosine(v[1], v[2]) + 0.1f);
        Assert.True(paraphrase > Pooling.Cosine(v[2], v[3]));
    }

    [Fact]
    public void MiniLm_embeds_edge_case_texts_to_finite_unit_vectors()
    {
        string huge = string.Join(' ', Enumerable.Repeat("an extremely long description of a book", 10_000));
        var v = _minilm.Encoder.Embed(["", huge, "tab\tnul\u0000bell\u0007", "bad \uD800 surrogate \uDFFF", "\u0001\u0002"]);
        Assert.Equal(5, v.Length);
        foreach (var x in v)
        {
            Assert.Equal(384, x.Length);
            Assert.All(x, f => Assert.True(float.IsFinite(f)));
            Assert.Equal(1.0, Math.Sqrt(x.Sum(f => (double)f * f)), 4);
        }
        // Text with only control characters embeds as the empty text.
        Assert.Equal(v[0], v[4]);
    }

    [Fact]
    public void Embed_all_in_length_order_gives_each_text_its_own_vector_in_the_input_order()
    {
        string[] texts =
        [
            "a rather long sentence about a lighthouse keeper and the storms of one winter on the coast",
            "cat",
            "two words",
            "",
            "a medium length title of a book",
            "dog",
            "the same long sentence about a lighthouse keeper and the storms of one winter on the coast, with more",
        ];
        var reported = new List<int>();
        var byLength = _minilm.Encoder.EmbedAll(texts, batchSize: 2, new SynchronousProgress(reported.Add));
        var input = _minilm.Encoder.EmbedAll(texts, batchSize: 2, order: BatchOrder.Input);
        Assert.Equal([2, 4, 6, 7], reported);
        for (int t = 0; t < texts.Length; t++)
        {
            var single = _minilm.Encoder.Embed([texts[t]])[0];
            for (int i = 0; i < 384; i++)
            {
                // Padding is masked out, so a text's vector does not depend on its batch beyond float rounding.
                Assert.True(Math.Abs(byLength[t][i] - single[i]) < 1e-5, $"text {t}, value {i}: {byLength[t][i]} vs {single[i]}");
                Assert.True(Math.Abs(input[t][i] - single[i]) < 1e-5, $"text {t}, value {i}: {input[t][i]} vs {single[i]}");
            }
        }
    }

    [Fact]
    public void Length_order_sorts_by_length_and_keeps_ties_in_input_order()
    {
        Assert.Equal([3, 1, 4, 0, 2], TextEncoder.LengthOrder([5, 2, 9, 1, 2]));
        Assert.Empty(TextEncoder.LengthOrder([]));
    }

    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    [Fact]
    public void Embed_all_batches_and_keeps_the_order()
    {
        string[] texts = ["one", "two", "three", "four", "five"];
        var all = _minilm.Encoder.EmbedAll(texts, batchSize: 2);
        var single = _minilm.Encoder.Embed(["four"])[0];
        Assert.Equal(5, all.Length);
        for (int i = 0; i < 384; i++)
        {
            Assert.True(Math.Abs(all[3][i] - single[i]) < 1e-5);
        }
    }
}
