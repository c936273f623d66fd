using Microsoft.Extensions.Logging;
using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Onnx;
using WalsCluster.Embedding.Synthetic;

namespace WalsCluster.Embedding.Tests;

public sealed class EncoderTests : IClassFixture<TinyRobertaFixture>
{
    private readonly TinyRobertaFixture _tiny;

    public EncoderTests(TinyRobertaFixture tiny) => _tiny = tiny;

    private static readonly string[] Texts = ["hello world", "", "hello the world hello hello world", "héz"];

    [Fact]
    public void Tiny_roberta_layers_from_onnx_runtime_equal_a_plain_csharp_forward_pass()
    {
        // Tolerance 1e-4 absolute on every element of every hidden state (float32 graph vs double reference).
        using var encoder = TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 3 } });
        Assert.Equal(3, encoder.Info.HiddenStates);
        Assert.Equal("last_hidden_state", encoder.Info.LayerTensors[^1]);
        Assert.False(encoder.Info.FeedsTokenTypeIds);
        var batch = encoder.Tokenizer.Encode(Texts, 64);
        Assert.Contains(1L, batch.InputIds); // padding present, so position ids after padding are exercised
        var outputs = encoder.Run(batch);
        var expected = RobertaReference.HiddenStates(_tiny.Weights, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.SequenceLength);
        Assert.Equal(3, outputs.Layers.Count);
        Assert.Equal(32, outputs.Hidden);
        for (int layer = 0; layer < 3; layer++)
        {
            Assert.Equal(expected[layer].Length, outputs.Layers[layer].Length);
            double maxDiff = 0;
            for (int i = 0; i < expected[layer].Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(expected[layer][i] - outputs.Layers[layer][i]));
            }
            Assert.True(maxDiff < 1e-4, $"hidden state {layer}: max difference {maxDiff}");
        }
    }

    [Fact]
    public void Tiny_roberta_pooler_output_equals_the_csharp_forward_pass()
    {
        using var encoder = TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { Mode = PoolingMode.Pooler, Normalize = false } });
        Assert.Equal("pooler_output", encoder.Info.PoolerTensor);
        var batch = encoder.Tokenizer.Encode(Texts, 64);
        var states = RobertaReference.HiddenStates(_tiny.Weights, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.SequenceLength);
        var pooler = RobertaReference.Pooler(_tiny.Weights, states[^1], batch.BatchSize, batch.SequenceLength);
        var vectors = encoder.Embed(Texts);
        for (int b = 0; b < Texts.Length; b++)
        {
            for (int c = 0; c < 32; c++)
            {
                Assert.True(Math.Abs(pooler[b * 32 + c] - vectors[b][c]) < 1e-4, $"text {b} dim {c}");
            }
        }
    }

    [Fact]
    public void Top_four_weighted_pooling_equals_a_manual_computation_from_the_exposed_layers()
    {
        float[] weights = [0.4f, 0.3f, 0.2f, 0.1f]; // last layer first
        var options = new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 4, LayerWeights = weights, Normalize = false } };
        using var encoder = TextEncoder.Create(_tiny.Model4, options);
        Assert.Equal(5, encoder.Info.HiddenStates);
        Assert.Equal(4, encoder.Info.LayerTensors.Count);
        var batch = encoder.Tokenizer.Encode(Texts, 64);
        var outputs = encoder.Run(batch);
        var vectors = encoder.Embed(Texts);
        int h = outputs.Hidden, seq = batch.SequenceLength;
        for (int b = 0; b < Texts.Length; b++)
        {
            for (int c = 0; c < h; c++)
            {
                double sum = 0;
                int count = 0;
                for (int t = 0; t < seq; t++)
                {
                    if (batch.AttentionMask[b * seq + t] == 0)
                    {
                        continue;
                    }
                    count++;
                    for (int j = 0; j < 4; j++)
                    {
                        sum += weights[j] * outputs.Layers[3 - j][(b * seq + t) * h + c];
                    }
                }
                Assert.True(Math.Abs(sum / count - vectors[b][c]) < 1e-5, $"text {b} dim {c}: {sum / count} vs {vectors[b][c]}");
            }
        }

        // The four taps equal hidden_states[1..4] of the reference forward pass.
        var expected = RobertaReference.HiddenStates(_tiny.Weights4, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.SequenceLength);
        for (int j = 0; j < 4; j++)
        {
            double maxDiff = expected[j + 1].Zip(outputs.Layers[j], (e, o) => Math.Abs(e - o)).Max();
            Assert.True(maxDiff < 1e-4, $"tap {j}: {maxDiff}");
        }
    }

    [Fact]
    public void Cls_and_mean_pooling_read_the_last_layer_and_vectors_are_unit_length_when_normalised()
    {
        using var cls = TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { Mode = PoolingMode.Cls, Normalize = false } });
        using var mean = TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { Mode = PoolingMode.Mean } });
        var batch = cls.Tokenizer.Encode(Texts, 64);
        var last = cls.Run(batch).Layers[^1];
        var c = cls.Embed(Texts);
        for (int b = 0; b < Texts.Length; b++)
        {
            Assert.Equal(last.AsSpan(b * batch.SequenceLength * 32, 32).ToArray(), c[b]);
        }
        foreach (var v in mean.Embed(Texts))
        {
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);
        }
    }

    [Fact]
    public void A_text_embeds_the_same_alone_and_in_a_padded_batch()
    {
        using var encoder = TextEncoder.Create(_tiny.Model4, new EncoderOptions());
        var alone = encoder.Embed(["hello world"])[0];
        var batched = encoder.Embed(["hello the world hello hello world", "hello world"])[1];
        for (int i = 0; i < alone.Length; i++)
        {
            Assert.True(Math.Abs(alone[i] - batched[i]) < 1e-5);
        }
    }

    [Fact]
    public void Cuda_without_cuda_falls_back_to_cpu_with_one_warning()
    {
        var logger = new CapturingLogger();
        using var encoder = TextEncoder.Create(_tiny.Model4, new EncoderOptions { Device = "cuda:0" }, logger);
        Assert.Equal("cuda:0", encoder.Info.RequestedDevice);
        Assert.Equal("cpu", encoder.Info.Device);
        Assert.NotNull(encoder.Info.Warning);
        Assert.Contains("cuda:0", encoder.Info.Warning);
        Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Equal(32, encoder.Embed(["hello"])[0].Length);
    }

    [Fact]
    public void Cpu_runs_without_a_warning()
    {
        var logger = new CapturingLogger();
        using var encoder = TextEncoder.Create(_tiny.Model4, new EncoderOptions { Device = "cpu", IntraOpThreads = 1 }, logger);
        Assert.Null(encoder.Info.Warning);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void Bad_devices_fail_with_the_value_named(string device)
    {
        var ex = Assert.Throws<FormatException>(() => ExecutionDevice.Parse(device));
        Assert.Contains(device, ex.Message);
    }

    [Fact]
    public void Asking_for_more_layers_than_the_graph_has_fails_clearly()
    {
        var ex = Assert.Throws<ArgumentException>(() => TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 4 } }));
        Assert.Contains("has 3", ex.Message);
    }

    [Fact]
    public void Vectors_of_other_weights_are_not_the_same_encoding_even_with_the_same_shape()
    {
        // Regression: SameEncoding compared pooling, length and dimension only, so a text query embedded by another model of
        // the same width was answered against a projection fitted on the first.
        using var two = TextEncoder.Create(_tiny.Model, new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 2 } });
        using var again = TextEncoder.Create(ModelCatalog.Load(_tiny.Directory2), new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 2 } });
        using var four = TextEncoder.Create(_tiny.Model4, new EncoderOptions { Pooling = new PoolingOptions { LayerCount = 2 } });
        var a = ColdStart.EmbeddingSettings.From(two.Info);
        Assert.Matches("^[0-9a-f]{16}$", a.ModelDigest);
        Assert.Equal(TextEncoder.ModelDigest(_tiny.Model.OnnxModel), a.ModelDigest);
        Assert.True(a.SameEncoding(ColdStart.EmbeddingSettings.From(again.Info)));
        var b = ColdStart.EmbeddingSettings.From(four.Info);
        Assert.NotEqual(a.ModelDigest, b.ModelDigest);
        Assert.False(a.SameEncoding(b with { Dimension = a.Dimension, MaxLength = a.MaxLength }));
        // Settings written before the digest existed are compared as before.
        Assert.True(a.SameEncoding(a with { ModelDigest = null }));
        Assert.Contains($"onnx {a.ModelDigest}", a.ToString());
    }

    [Fact]
    public void Exports_with_external_data_or_float16_outputs_are_refused_with_the_reason()
    {
        var tiny = OnnxGraph.Parse(SyntheticRoberta.BuildOnnx(_tiny.Weights));
        Assert.Empty(tiny.ExternalInitializers);
        Assert.All(tiny.OutputElementTypes.Values, t => Assert.Equal(1, t)); // float
        TextEncoder.CheckSupported(tiny, "tiny");

        // ModelProto.graph (7) { initializer (5) { name (8), data_type (2) = float, data_location (14) = EXTERNAL },
        // output (12) { name (1), type (2) { tensor_type (1) { elem_type (1) } } } }
        static byte[] Model(bool external, int outputType)
        {
            var model = new ProtoWriter();
            model.Message(7, g =>
            {
                g.Message(5, t =>
                {
                    t.String(8, "encoder.layer.0.weight");
                    t.Int64(2, 1);
                    if (external)
                    {
                        t.Int64(14, 1);
                    }
                });
                g.Message(12, o =>
                {
                    o.String(1, "last_hidden_state");
                    o.Message(2, type => type.Message(1, tensor => tensor.Int64(1, outputType)));
                });
            });
            return model.ToArray();
        }
        var externalGraph = OnnxGraph.Parse(Model(external: true, outputType: 1));
        Assert.Equal(["encoder.layer.0.weight"], externalGraph.ExternalInitializers);
        Assert.Contains("external data", Assert.Throws<NotSupportedException>(() => TextEncoder.CheckSupported(externalGraph, "big")).Message);
        var half = OnnxGraph.Parse(Model(external: false, outputType: OnnxGraph.Float16));
        Assert.Equal(OnnxGraph.Float16, half.OutputElementTypes["last_hidden_state"]);
        Assert.Contains("float16", Assert.Throws<NotSupportedException>(() => TextEncoder.CheckSupported(half, "half")).Message);
        TextEncoder.CheckSupported(OnnxGraph.Parse(Model(external: false, outputType: 1)), "plain");
    }

    [Fact]
    public void Extra_outputs_are_appended_to_the_graph_without_changing_the_rest()
    {
        byte[] model = SyntheticRoberta.BuildOnnx(_tiny.Weights);
        var graph = OnnxGraph.Parse(model);
        var hidden = HiddenStateLocator.Find(graph);
        Assert.Equal(3, hidden.Count);
        var edited = OnnxGraph.Parse(OnnxGraph.WithExtraOutputs(model, hidden.Take(2)));
        Assert.Equal(graph.Outputs.Concat(hidden.Take(2)), edited.Outputs);
        Assert.Equal(graph.Nodes.Count, edited.Nodes.Count);
        Assert.Equal(["input_ids", "attention_mask"], edited.Inputs);
    }

    internal sealed class CapturingLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
