using Akka.Configuration;
using WalsCluster.Embedding;
using WalsCluster.Embedding.Models;

namespace WalsCluster.Actors.Embedding;

/// <summary>
/// Whether and how a node with the <c>embedder</c> role runs its <see cref="EmbeddingPool"/>: the <c>wals.embedding</c>
/// keys beside the pool's batching (<see cref="EmbeddingPoolSettings"/>): <c>enabled</c>, the encoder (<c>model</c>,
/// <c>pooling</c>, <c>layer-count</c>, <c>normalize</c>, <c>max-length</c>, <c>intra-op-threads</c>) and when the model is
/// loaded (<c>load</c>). <see cref="FromConfig"/> fails fast with the key's name.
/// </summary>
public sealed record EmbeddingServiceSettings
{
    /// <summary>Start the pool on <c>embedder</c> nodes (<c>enabled</c>).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>minilm</c> or a model folder (<c>model</c>), as <see cref="ModelCatalog.Load"/> takes it.</summary>
    public string Model { get; init; } = ModelCatalog.MiniLm;

    /// <summary><c>layers</c>, <c>cls</c>, <c>mean</c> or <c>pooler</c> (<c>pooling</c>).</summary>
    public string Pooling { get; init; } = "layers";

    /// <summary>N, the top hidden states mixed by <c>layers</c> pooling (<c>layer-count</c>).</summary>
    public int LayerCount { get; init; } = 4;

    /// <summary>L2-normalise each vector (<c>normalize</c>).</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Tokens per text, special tokens included (<c>max-length</c>).</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>ONNX Runtime intra-op threads per embedder, 0 = one per core (<c>intra-op-threads</c>).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Load the model when the embedder starts (<c>load = at-start</c>) rather than on the first request (<c>lazy</c>).</summary>
    public bool LoadAtStart { get; init; }

    /// <summary>Reads and validates the keys from <paramref name="config"/> (falling back to the reference).</summary>
    public static EmbeddingServiceSettings FromConfig(Config config)
    {
        const string section = EmbeddingPoolSettings.Section;
        var c = config.WithFallback(WalsSettings.Reference).GetConfig(section)
            ?? throw new ConfigurationException($"Configuration section '{section}' is missing.");
        var model = ConfigKeys.String(c, section, "model");
        if (!string.Equals(model, ModelCatalog.MiniLm, StringComparison.OrdinalIgnoreCase) && !File.Exists(Path.Combine(model, "model.onnx")))
        {
            throw new ConfigurationException($"Configuration key '{section}.model' = '{model}' is neither '{ModelCatalog.MiniLm}' nor a folder with model.onnx.");
        }
        var pooling = ConfigKeys.String(c, section, "pooling");
        try
        {
            PoolingOptions.ParseMode(pooling);
        }
        catch (FormatException)
        {
            throw new ConfigurationException($"Configuration key '{section}.pooling' = '{pooling}' is invalid: use layers, cls, mean or pooler.");
        }
        var load = ConfigKeys.String(c, section, "load");
        if (load is not ("lazy" or "at-start"))
        {
            throw new ConfigurationException($"Configuration key '{section}.load' = '{load}' is invalid: use lazy or at-start.");
        }
        return new EmbeddingServiceSettings
        {
            Enabled = ConfigKeys.Bool(c, section, "enabled"),
            Model = model,
            Pooling = pooling.Trim().ToLowerInvariant(),
            LayerCount = ConfigKeys.Int(c, section, "layer-count", 1, 64),
            Normalize = ConfigKeys.Bool(c, section, "normalize"),
            MaxLength = ConfigKeys.Int(c, section, "max-length", 2, 1 << 16),
            IntraOpThreads = ConfigKeys.Int(c, section, "intra-op-threads", 0, 1024),
            LoadAtStart = load == "at-start",
        };
    }

    /// <summary>The encoder options of these settings on <paramref name="device"/>.</summary>
    public EncoderOptions ToEncoderOptions(string device) => new()
    {
        Device = device,
        IntraOpThreads = IntraOpThreads,
        MaxLength = MaxLength,
        Pooling = new PoolingOptions { Mode = PoolingOptions.ParseMode(Pooling), LayerCount = LayerCount, Normalize = Normalize },
    };

    /// <summary>One ONNX Runtime session per device over the configured model; the model is read on each embedder's
    /// thread when its session is created (lazily unless <see cref="LoadAtStart"/>).</summary>
    public Func<string, IEmbeddingSession> SessionFactory(Microsoft.Extensions.Logging.ILogger? logger = null) =>
        device => new TextEncoderSession(TextEncoder.Create(ModelCatalog.Load(Model), ToEncoderOptions(device), logger));

    /// <summary><paramref name="create"/> as is when <see cref="LoadAtStart"/>, else each session wrapped in a <see cref="LazyEmbeddingSession"/>.</summary>
    public Func<string, IEmbeddingSession> WithLoading(Func<string, IEmbeddingSession> create) =>
        LoadAtStart ? create : device => new LazyEmbeddingSession(() => create(device));
}

/// <summary>
/// The <c>wals.embedding.pipeline</c> section: how a client streams item texts through the cluster's embedding pools
/// into the item shards (<see cref="EmbeddingPipeline"/>), and how long the query router waits for a text query's vector.
/// </summary>
public sealed record EmbeddingPipelineSettings
{
    public const string Section = "wals.embedding.pipeline";

    /// <summary>Texts per request to a pool (<c>request-texts</c>): at most the pool's max-batch-texts keeps batches full-sized.</summary>
    public int RequestTexts { get; init; } = 32;

    /// <summary>Requests to the pools in flight at once (<c>parallelism</c>).</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>Wait for one pool reply (<c>ask-timeout</c>); the first request on a lazily loaded node includes the model load.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Sends of one request that timed out or failed before the pipeline fails (<c>attempts</c>).</summary>
    public int Attempts { get; init; } = 3;

    /// <summary>First wait after a <c>busy</c> answer (<c>busy-backoff-min</c>); doubled after each busy answer.</summary>
    public TimeSpan BusyBackoffMin { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest wait between busy retries (<c>busy-backoff-max</c>).</summary>
    public TimeSpan BusyBackoffMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one request may keep being answered busy before the pipeline fails (<c>busy-timeout</c>).</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Most embeddings per <c>ItemEmbeddingBatch</c> to one item shard (<c>shard-batch-items</c>).</summary>
    public int ShardBatchItems { get; init; } = 1024;

    /// <summary>Reads and validates <c>wals.embedding.pipeline</c> from <paramref name="config"/> (falling back to the reference).</summary>
    public static EmbeddingPipelineSettings FromConfig(Config config)
    {
        var c = config.WithFallback(WalsSettings.Reference).GetConfig(Section)
            ?? throw new ConfigurationException($"Configuration section '{Section}' is missing.");
        var settings = new EmbeddingPipelineSettings
        {
            RequestTexts = ConfigKeys.Int(c, Section, "request-texts", 1, 1 << 16),
            Parallelism = ConfigKeys.Int(c, Section, "parallelism", 1, 1024),
            AskTimeout = ConfigKeys.Duration(c, Section, "ask-timeout", allowZero: false, "60s"),
            Attempts = ConfigKeys.Int(c, Section, "attempts", 1, 1000),
            BusyBackoffMin = ConfigKeys.Duration(c, Section, "busy-backoff-min", allowZero: false, "20ms"),
            BusyBackoffMax = ConfigKeys.Duration(c, Section, "busy-backoff-max", allowZero: false, "1s"),
            BusyTimeout = ConfigKeys.Duration(c, Section, "busy-timeout", allowZero: false, "5m"),
            ShardBatchItems = ConfigKeys.Int(c, Section, "shard-batch-items", 1, 1 << 20),
        };
        if (settings.BusyBackoffMax < settings.BusyBackoffMin)
        {
            throw new ConfigurationException($"Configuration key '{Section}.busy-backoff-max' = {settings.BusyBackoffMax} must be at least '{Section}.busy-backoff-min' = {settings.BusyBackoffMin}.");
        }
        return settings;
    }
}
