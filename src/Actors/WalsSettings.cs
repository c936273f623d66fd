using Akka.Configuration;

namespace WalsCluster.Actors;

/// <summary>
/// The <c>wals.cluster</c> section of the reference HOCON (hocon/reference.conf), read once at start-up.
/// <see cref="FromConfig"/> fails fast with the key's name when a value is missing or out of range.
/// </summary>
public sealed record WalsSettings
{
    public const string Section = "wals.cluster";

    /// <summary>U, user factor shards (<c>user-shards</c>).</summary>
    public int UserShards { get; init; } = 4;

    /// <summary>I, item factor shards (<c>item-shards</c>).</summary>
    public int ItemShards { get; init; } = 4;

    /// <summary>Largest FactorBlock payload in bytes (<c>factor-block-bytes</c>).</summary>
    public int FactorBlockBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Re-send BeginHalfStep / PrepareRun after this long without an answer (<c>resend-after</c>).</summary>
    public TimeSpan ResendAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Re-sends of one phase before the run fails (<c>max-resends</c>).</summary>
    public int MaxResends { get; init; } = 20;

    /// <summary>Per-shard wait of a query (<c>query-timeout</c>).</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Interactions per ingestion batch (<c>ingest-batch-entries</c>).</summary>
    public int IngestBatchEntries { get; init; } = 65536;

    /// <summary>Unacknowledged ingestion batches in flight (<c>ingest-parallelism</c>).</summary>
    public int IngestParallelism { get; init; } = 4;

    /// <summary>Wait for one batch acknowledgement (<c>ingest-ask-timeout</c>).</summary>
    public TimeSpan IngestAskTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sends of one batch before ingestion fails (<c>ingest-attempts</c>).</summary>
    public int IngestAttempts { get; init; } = 3;

    /// <summary>Rows per GetShardFactors reply (<c>gather-rows</c>).</summary>
    public int GatherRows { get; init; } = 16384;

    /// <summary>Dedicated threads of the node's solves (<c>solver-threads</c>; 0 = one per core). See <see cref="SolverScheduler"/>.</summary>
    public int SolverThreads { get; init; }

    /// <summary>Shard solves a node runs at once on its solver threads (<c>concurrent-solves</c>). See <see cref="SolverScheduler.RunSolve"/>.</summary>
    public int ConcurrentSolves { get; init; } = 1;

    /// <summary>The reference configuration shipped in this assembly (hocon/reference.conf).</summary>
    public static Config Reference { get; } = LoadReference();

    /// <summary>Reads and validates <c>wals.cluster</c> from <paramref name="config"/> (falling back to the reference).</summary>
    public static WalsSettings FromConfig(Config config)
    {
        var full = config.WithFallback(Reference);
        var c = full.GetConfig(Section)
            ?? throw new ConfigurationException($"Configuration section '{Section}' is missing.");
        var settings = new WalsSettings
        {
            UserShards = Int(c, "user-shards", 1, 1 << 20),
            ItemShards = Int(c, "item-shards", 1, 1 << 20),
            FactorBlockBytes = Int(c, "factor-block-bytes", 1024, 1 << 30),
            ResendAfter = Duration(c, "resend-after"),
            MaxResends = Int(c, "max-resends", 0, 1_000_000),
            QueryTimeout = Duration(c, "query-timeout"),
            IngestBatchEntries = Int(c, "ingest-batch-entries", 1, 1 << 24),
            IngestParallelism = Int(c, "ingest-parallelism", 1, 1024),
            IngestAskTimeout = Duration(c, "ingest-ask-timeout"),
            IngestAttempts = Int(c, "ingest-attempts", 1, 1000),
            GatherRows = Int(c, "gather-rows", 1, 1 << 24),
            SolverThreads = Int(c, "solver-threads", 0, 4096),
            ConcurrentSolves = Int(c, "concurrent-solves", 1, 4096),
        };
        // A factor block is one remote message: it must fit in a frame with room for its header.
        if (MaximumFrameBytes(full) is { } frame && settings.FactorBlockBytes > frame - FrameHeadroomBytes)
        {
            throw new ConfigurationException($"Configuration key '{Section}.factor-block-bytes' = {settings.FactorBlockBytes} is invalid: it must stay below " +
                $"akka.remote.dot-netty.tcp.maximum-frame-size ({frame}) minus {FrameHeadroomBytes} bytes for the message's header, or the blocks are dropped.");
        }
        return settings;
    }

    /// <summary>Bytes of a remote frame left for what a message carries besides its payload array (ids, run, counts).</summary>
    public const int FrameHeadroomBytes = 64 * 1024;

    /// <summary><c>akka.remote.dot-netty.tcp.maximum-frame-size</c> of <paramref name="config"/>, when it is set.</summary>
    public static long? MaximumFrameBytes(Config config) =>
        config.HasPath("akka.remote.dot-netty.tcp.maximum-frame-size") ? config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") : null;

    private static int Int(Config c, string key, int min, int max) => ConfigKeys.Int(c, Section, key, min, max);

    private static TimeSpan Duration(Config c, string key) => ConfigKeys.Duration(c, Section, key, allowZero: false, "30s");

    private static Config LoadReference()
    {
        using var stream = typeof(WalsSettings).Assembly.GetManifestResourceStream("WalsCluster.reference.conf")
            ?? throw new InvalidOperationException("The embedded resource WalsCluster.reference.conf is missing from WalsCluster.Actors.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}
