using System.Globalization;

namespace WalsCluster.Embedding;

/// <summary>How a text vector is made from the encoder's outputs.</summary>
public enum PoolingMode
{
    /// <summary><c>layers</c>: masked mean over tokens of the weighted sum of the top N hidden states
    /// (v = sum_t m_t sum_j w_j H_j[t] / sum_t m_t). The default.</summary>
    Layers,

    /// <summary><c>cls</c>: the last layer's first token (&lt;s&gt; or [CLS]).</summary>
    Cls,

    /// <summary><c>mean</c>: masked mean over tokens of the last layer (sentence-transformers' pooling).</summary>
    Mean,

    /// <summary><c>pooler</c>: the graph's pooler_output, tanh(W h_cls + b). roberta-base's pooler is NOT trained by
    /// its pretraining (no next-sentence objective), so this is a poor choice there.</summary>
    Pooler,
}

/// <summary>Pooling settings.</summary>
public sealed record PoolingOptions
{
    public static PoolingOptions Default { get; } = new();

    public PoolingMode Mode { get; init; } = PoolingMode.Layers;

    /// <summary>N, how many of the top hidden states <see cref="PoolingMode.Layers"/> mixes (default 4). Hidden state 0
    /// (the embedding output) counts, so a 6-layer model has 7 to choose from.</summary>
    public int LayerCount { get; init; } = 4;

    /// <summary>w_j, listed from the last layer downward (w_0 weighs the last layer); null means equal weights 1/N.
    /// Used as given, not renormalised.</summary>
    public IReadOnlyList<float>? LayerWeights { get; init; }

    /// <summary>Divide every vector by its L2 norm (default true).</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>The weights in effect, from the last layer downward.</summary>
    public float[] EffectiveWeights()
    {
        if (LayerWeights is null)
        {
            return Enumerable.Repeat(1f / LayerCount, LayerCount).ToArray();
        }
        return LayerWeights.ToArray();
    }

    public void Validate()
    {
        if (LayerCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(LayerCount), LayerCount, "pooling layer count must be at least 1.");
        }
        if (LayerWeights is not null && LayerWeights.Count != LayerCount)
        {
            throw new ArgumentException($"pooling layer weights: {LayerWeights.Count} weights for {LayerCount} layers.", nameof(LayerWeights));
        }
        if (LayerWeights is not null && LayerWeights.Any(w => !float.IsFinite(w)))
        {
            throw new ArgumentException("pooling layer weights must be finite.", nameof(LayerWeights));
        }
    }

    /// <summary>Parses <c>layers</c>, <c>cls</c>, <c>mean</c> or <c>pooler</c>.</summary>
    public static PoolingMode ParseMode(string value) => value.Trim().ToLowerInvariant() switch
    {
        "layers" or "weighted-layers" => PoolingMode.Layers,
        "cls" => PoolingMode.Cls,
        "mean" => PoolingMode.Mean,
        "pooler" => PoolingMode.Pooler,
        _ => throw new FormatException($"pooling '{value}' is not one of layers, cls, mean, pooler."),
    };
}

/// <summary>A device to run on: <c>cpu</c> or <c>cuda:N</c> (<c>cuda</c> means <c>cuda:0</c>).</summary>
public readonly record struct ExecutionDevice(bool IsCuda, int DeviceId)
{
    public static ExecutionDevice Cpu => new(false, 0);

    public static ExecutionDevice Parse(string value)
    {
        string v = value.Trim().ToLowerInvariant();
        if (v == "cpu")
        {
            return Cpu;
        }
        if (v == "cuda")
        {
            return new ExecutionDevice(true, 0);
        }
        if (v.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(v.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            return new ExecutionDevice(true, id);
        }
        throw new FormatException($"device '{value}' is not 'cpu' or 'cuda:N'.");
    }

    public override string ToString() => IsCuda ? $"cuda:{DeviceId}" : "cpu";
}

/// <summary>Settings of a <see cref="TextEncoder"/>.</summary>
public sealed record EncoderOptions
{
    /// <summary><c>cpu</c> or <c>cuda:N</c>. CUDA needs the build with -p:WalsGpu=true and CUDA libraries at run time;
    /// otherwise the encoder runs on the CPU and reports one warning.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>ONNX Runtime intra-op threads (SessionOptions.IntraOpNumThreads); 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Tokens per text including the special tokens (default 128); capped at the model's limit.</summary>
    public int MaxLength { get; init; } = 128;

    public PoolingOptions Pooling { get; init; } = PoolingOptions.Default;

    public void Validate()
    {
        ExecutionDevice.Parse(Device);
        if (IntraOpThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "intra-op threads must be 0 (automatic) or positive.");
        }
        if (MaxLength < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, "max length must be at least 2.");
        }
        Pooling.Validate();
    }
}
