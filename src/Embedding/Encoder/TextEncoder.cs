using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Onnx;
using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding;

/// <summary>How <see cref="TextEncoder.EmbedAll"/> forms its batches.</summary>
public enum BatchOrder
{
    /// <summary>Consecutive texts of the input.</summary>
    Input,

    /// <summary>Texts of similar token counts together (less padding); the results keep the input order.</summary>
    ByLength,
}

/// <summary>What an encoder runs and where (replied to callers that ask an embedder what it is).</summary>
/// <param name="Model">Catalogue name or folder.</param>
/// <param name="Dimension">Length of the vectors <see cref="TextEncoder.Embed"/> returns.</param>
/// <param name="RequestedDevice">The device asked for.</param>
/// <param name="Device">The device the session runs on (cpu after a CUDA fallback).</param>
/// <param name="Warning">The one fallback warning, or null.</param>
/// <param name="LayerTensors">Graph tensors of the tapped hidden states, model order (the last is last_hidden_state).</param>
/// <param name="HiddenStates">How many hidden states the graph has (layers + 1).</param>
/// <param name="PoolerTensor">The pooler output tensor, or null when the graph has none.</param>
/// <param name="FeedsTokenTypeIds">Whether the graph declares token_type_ids (fed as zeros).</param>
/// <param name="MaxLength">Tokens per text in effect (the option capped at the model's limit).</param>
/// <param name="IntraOpThreads">ONNX Runtime intra-op threads (0: ONNX Runtime's choice).</param>
/// <param name="Pooling">The pooling in effect.</param>
/// <param name="ModelDigest">The ONNX weights' digest (<see cref="TextEncoder.ModelDigest"/>).</param>
public sealed record EncoderInfo(
    string Model,
    int Dimension,
    string RequestedDevice,
    string Device,
    string? Warning,
    IReadOnlyList<string> LayerTensors,
    int HiddenStates,
    string? PoolerTensor,
    bool FeedsTokenTypeIds,
    int MaxLength,
    int IntraOpThreads,
    PoolingOptions Pooling,
    string? ModelDigest = null);

/// <summary>
/// A Hugging Face encoder export on ONNX Runtime, with the top N hidden states exposed as extra graph outputs
/// (found by structure, <see cref="HiddenStateLocator"/>). One <see cref="InferenceSession"/> is created and reused.
/// <para>Thread safety: <see cref="Embed"/> and <see cref="Run"/> may be called from several threads at once
/// (InferenceSession.Run is thread-safe and the tokenizers are immutable); concurrent calls share the session's
/// intra-op thread pool, so an embedder that owns one encoder and calls it from one thread gets the best latency.</para>
/// </summary>
public sealed class TextEncoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ITextTokenizer _tokenizer;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _layerOutputs;
    private readonly EncoderOptions _options;

    private TextEncoder(InferenceSession session, ITextTokenizer tokenizer, string[] inputNames, string[] outputNames, int layerOutputs, EncoderOptions options)
    {
        _session = session;
        _tokenizer = tokenizer;
        _inputNames = inputNames;
        _outputNames = outputNames;
        _layerOutputs = layerOutputs;
        _options = options;
        Info = null!;
    }

    public EncoderInfo Info { get; private set; }

    public ITextTokenizer Tokenizer => _tokenizer;

    /// <summary>
    /// Edits the graph to expose the hidden states the pooling needs, creates the session on the requested device
    /// and runs one warm-up text. A <c>cuda:N</c> request that ONNX Runtime cannot honour (CPU build, no CUDA
    /// libraries, no such device) falls back to the CPU; the reason is logged once at Warning and kept in
    /// <see cref="EncoderInfo.Warning"/>.
    /// </summary>
    public static TextEncoder Create(EncoderModel model, EncoderOptions options, ILogger? logger = null)
    {
        options.Validate();
        logger ??= NullLogger.Instance;
        var device = ExecutionDevice.Parse(options.Device);
        var graph = OnnxGraph.Parse(model.OnnxModel);
        CheckSupported(graph, model.Name);

        var hidden = HiddenStateLocator.Find(graph);
        string? pooler = HiddenStateLocator.FindPooler(graph);
        var pooling = options.Pooling;
        int tapCount = pooling.Mode == PoolingMode.Layers ? pooling.LayerCount : 1;
        if (tapCount > hidden.Count)
        {
            throw new ArgumentException($"{model.Name}: pooling over the top {tapCount} hidden states, but the graph has {hidden.Count} (layers + embeddings).");
        }
        if (pooling.Mode == PoolingMode.Pooler && pooler is null)
        {
            throw new ArgumentException($"{model.Name}: pooling 'pooler' requested, but the graph has no pooler output.");
        }
        var taps = hidden.Skip(hidden.Count - tapCount).ToArray();
        var extra = taps.Where(t => !graph.Outputs.Contains(t)).ToArray();
        byte[] bytes = extra.Length == 0 ? model.OnnxModel : OnnxGraph.WithExtraOutputs(model.OnnxModel, extra);

        foreach (string input in graph.Inputs)
        {
            if (input is not ("input_ids" or "attention_mask" or "token_type_ids"))
            {
                throw new NotSupportedException($"{model.Name}: graph input '{input}' is not one of input_ids, attention_mask, token_type_ids.");
            }
        }
        if (!graph.Inputs.Contains("input_ids"))
        {
            throw new NotSupportedException($"{model.Name}: the graph has no input_ids input.");
        }

        var outputs = new List<string>(taps);
        if (pooler is not null && pooling.Mode == PoolingMode.Pooler)
        {
            outputs.Add(pooler);
        }

        string? warning = null;
        InferenceSession? session = null;
        TextEncoder? encoder = null;
        string actual = "cpu";
        if (device.IsCuda)
        {
            try
            {
                session = CreateSession(bytes, options, device);
                encoder = new TextEncoder(session, model.Tokenizer, graph.Inputs.ToArray(), outputs.ToArray(), taps.Length, options);
                encoder.Warm();
                actual = device.ToString();
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
            {
                encoder?.Dispose();
                session?.Dispose();
                encoder = null;
                warning = $"Embedding device {device} requested but the CUDA execution provider is unavailable ({FirstLine(ex.Message)}); running on cpu.";
                logger.LogWarning("{Model} embedding device [{Requested}] unavailable, falling back to [cpu]: {Reason}", model.Name, device.ToString(), FirstLine(ex.Message));
            }
        }
        int dimension;
        try
        {
            if (encoder is null)
            {
                session = CreateSession(bytes, options, ExecutionDevice.Cpu);
                encoder = new TextEncoder(session, model.Tokenizer, graph.Inputs.ToArray(), outputs.ToArray(), taps.Length, options);
                encoder.Warm();
            }
            dimension = encoder.Embed([""])[0].Length;
        }
        catch
        {
            // The native session is not left behind when the warm-up fails.
            if (encoder is not null)
            {
                encoder.Dispose();
            }
            else
            {
                session?.Dispose();
            }
            throw;
        }
        encoder.Info = new EncoderInfo(model.Name, dimension, device.ToString(), actual, warning, taps, hidden.Count,
            pooler, graph.Inputs.Contains("token_type_ids"), Math.Min(options.MaxLength, model.Tokenizer.ModelMaxLength),
            options.IntraOpThreads, pooling, ModelDigest(model.OnnxModel));
        logger.LogInformation("{Model} encoder ready on [{Device}]: dimension [{Dimension}], pooling [{Pooling}] over [{Taps}] hidden states",
            model.Name, actual, dimension, pooling.Mode, taps.Length);
        return encoder;
    }

    /// <summary>The first 16 hex digits of the SHA-256 of the model's ONNX bytes (as loaded, before the outputs are edited):
    /// names the weights, wherever the folder lies, so vectors of two models of the same shape are told apart.</summary>
    public static string ModelDigest(ReadOnlySpan<byte> onnx) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(onnx))[..16].ToLowerInvariant();

    /// <summary>
    /// Refuses, with the reason, the exports this encoder cannot run: weights in external data files (the model is
    /// loaded from memory after its outputs are edited, so ONNX Runtime cannot find them) and float16 outputs (the
    /// pooling reads float32 hidden states).
    /// </summary>
    internal static void CheckSupported(OnnxGraph graph, string modelName)
    {
        if (graph.ExternalInitializers.Count > 0)
        {
            throw new NotSupportedException($"{modelName}: model.onnx keeps {graph.ExternalInitializers.Count} weight tensors (e.g. '{graph.ExternalInitializers[0]}') " +
                "in external data files, which this encoder cannot load; export the model as one model.onnx file (possible up to 2 GB, roberta-large included).");
        }
        if (graph.OutputElementTypes.FirstOrDefault(o => o.Value is OnnxGraph.Float16 or OnnxGraph.BFloat16) is { Key: not null } half)
        {
            throw new NotSupportedException($"{modelName}: graph output '{half.Key}' is {(half.Value == OnnxGraph.Float16 ? "float16" : "bfloat16")}; " +
                "the pooling reads float32 hidden states: export the model in float32 (without --fp16).");
        }
    }

    private static InferenceSession CreateSession(byte[] model, EncoderOptions options, ExecutionDevice device)
    {
        var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try
        {
            if (options.IntraOpThreads > 0)
            {
                so.IntraOpNumThreads = options.IntraOpThreads;
            }
            if (device.IsCuda)
            {
                so.AppendExecutionProvider_CUDA(device.DeviceId);
            }
            return new InferenceSession(model, so);
        }
        finally
        {
            so.Dispose();
        }
    }

    private void Warm() => Run(_tokenizer.Encode(["warm up"], _options.MaxLength));

    private static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    /// <summary>One vector per text, from one ONNX Runtime run (the caller chooses the batch).</summary>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        if (texts.Count == 0)
        {
            return [];
        }
        return Pooling.Pool(Run(_tokenizer.Encode(texts, _options.MaxLength)), _options.Pooling);
    }

    /// <summary>
    /// Embeds any number of texts in batches of <paramref name="batchSize"/>; reports texts done. With
    /// <see cref="BatchOrder.ByLength"/> (the default) the texts are batched in order of their token counts, so that each
    /// batch is padded to little more than its own texts' lengths, and the vectors come back in the input order; a
    /// text's vector does not depend on its batch beyond float rounding (padding is masked out).
    /// </summary>
    public float[][] EmbedAll(IReadOnlyList<string> texts, int batchSize, IProgress<int>? progress = null, CancellationToken cancellationToken = default,
        BatchOrder order = BatchOrder.ByLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var result = new float[texts.Count][];
        // Each text is tokenized once: its ids give its length for the order and then go into its batch.
        var ids = new IReadOnlyList<int>[texts.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = _tokenizer.EncodeIds(texts[i], _options.MaxLength);
        }
        var sequence = BatchSequence(ids.Select(row => row.Count).ToArray(), batchSize, order);
        var chunk = new List<IReadOnlyList<int>>(batchSize);
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            chunk.Clear();
            int end = Math.Min(texts.Count, start + batchSize);
            for (int i = start; i < end; i++)
            {
                chunk.Add(ids[sequence[i]]);
            }
            var vectors = Pooling.Pool(Run(_tokenizer.Pad(chunk)), _options.Pooling);
            for (int i = start; i < end; i++)
            {
                result[sequence[i]] = vectors[i - start];
            }
            progress?.Report(end);
        }
        return result;
    }

    /// <summary>The order in which <see cref="EmbedAll"/> batches texts of these token counts: by length
    /// (<see cref="LengthOrder"/>) when that is asked for and there is more than one batch, else the input order.</summary>
    public static int[] BatchSequence(IReadOnlyList<int> lengths, int batchSize, BatchOrder order) =>
        order == BatchOrder.ByLength && lengths.Count > batchSize ? LengthOrder(lengths) : Enumerable.Range(0, lengths.Count).ToArray();

    /// <summary>The indices 0..n-1 ordered by <paramref name="lengths"/>, ties in index order.</summary>
    public static int[] LengthOrder(IReadOnlyList<int> lengths)
    {
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        Array.Sort(order, (a, b) => lengths[a] != lengths[b] ? lengths[a].CompareTo(lengths[b]) : a.CompareTo(b));
        return order;
    }

    /// <summary>Runs the graph on a tokenized batch and returns the tapped hidden states (and the pooler output when
    /// pooling asks for it), copied out of ONNX Runtime's buffers.</summary>
    public EncoderOutputs Run(TokenBatch batch)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        var inputs = new List<OrtValue>(_inputNames.Length);
        try
        {
            foreach (string name in _inputNames)
            {
                long[] data = name switch
                {
                    "input_ids" => batch.InputIds,
                    "attention_mask" => batch.AttentionMask,
                    _ => batch.TokenTypeIds ?? new long[batch.InputIds.Length],
                };
                inputs.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
            }
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, _inputNames, inputs, _outputNames);
            int hidden = 0;
            var layers = new List<float[]>(_layerOutputs);
            for (int i = 0; i < _layerOutputs; i++)
            {
                var value = results[i];
                var dims = value.GetTensorTypeAndShape().Shape;
                if (dims.Length != 3 || dims[0] != batch.BatchSize || dims[1] != batch.SequenceLength)
                {
                    throw new InvalidDataException($"Hidden state '{_outputNames[i]}' has shape [{string.Join(",", dims)}], expected [{batch.BatchSize},{batch.SequenceLength},hidden].");
                }
                hidden = (int)dims[2];
                layers.Add(value.GetTensorDataAsSpan<float>().ToArray());
            }
            float[]? pooler = _outputNames.Length > _layerOutputs ? results[_layerOutputs].GetTensorDataAsSpan<float>().ToArray() : null;
            return new EncoderOutputs(batch, hidden, layers, pooler);
        }
        finally
        {
            foreach (var v in inputs)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();
}
