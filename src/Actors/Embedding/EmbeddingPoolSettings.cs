using Akka.Configuration;

namespace WalsCluster.Actors.Embedding;

/// <summary>
/// The <c>wals.embedding</c> section: the devices of this node (one <see cref="Embedder"/> each) and the dynamic
/// batching of the <see cref="EmbeddingPool"/>. <see cref="FromConfig"/> falls back to <see cref="DefaultConfig"/> and
/// fails fast with the key's name.
/// </summary>
public sealed record EmbeddingPoolSettings
{
    public const string Section = "wals.embedding";

    /// <summary>Id of the pinned dispatcher (one dedicated thread per embedder) defined in <see cref="DefaultConfig"/>.</summary>
    public const string DispatcherId = "wals.embedding.pinned-dispatcher";

    /// <summary>
    /// The defaults: section <c>wals.embedding</c> of the reference configuration (hocon/reference.conf, with comments),
    /// which every node's configuration (<see cref="WalsSystem.Config"/>) already includes, so the dispatcher exists.
    /// On its own (a local pool, tests) it runs with the local actor provider: no remoting, no port.
    /// </summary>
    public static Config DefaultConfig { get; } = ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(WalsSettings.Reference);

    /// <summary>Devices of this node (<c>devices</c>), each <c>cpu</c> or <c>cuda:N</c>.</summary>
    public IReadOnlyList<string> Devices { get; init; } = ["cpu"];

    /// <summary>Most texts per encoder call (<c>max-batch-texts</c>).</summary>
    public int MaxBatchTexts { get; init; } = 32;

    /// <summary>Longest wait of the oldest queued request before a partial batch is sent (<c>max-wait</c>).</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Most texts waiting in the pool before requests are answered busy (<c>max-queued-texts</c>).</summary>
    public int MaxQueuedTexts { get; init; } = 1024;

    /// <summary>Reads and validates <c>wals.embedding</c> from <paramref name="config"/> (falling back to <see cref="DefaultConfig"/>).</summary>
    public static EmbeddingPoolSettings FromConfig(Config config)
    {
        var c = config.WithFallback(DefaultConfig).GetConfig(Section)
            ?? throw new ConfigurationException($"Configuration section '{Section}' is missing.");
        var settings = new EmbeddingPoolSettings
        {
            Devices = ReadDevices(c),
            MaxBatchTexts = Int(c, "max-batch-texts", 1, 1 << 20),
            MaxWait = Duration(c, "max-wait"),
            MaxQueuedTexts = Int(c, "max-queued-texts", 1, 1 << 24),
        };
        if (settings.MaxQueuedTexts < settings.MaxBatchTexts)
        {
            throw new ConfigurationException(
                $"Configuration key '{Section}.max-queued-texts' = {settings.MaxQueuedTexts} must be at least '{Section}.max-batch-texts' = {settings.MaxBatchTexts}.");
        }
        return settings;
    }

    private static string[] ReadDevices(Config c)
    {
        const string key = "devices";
        IList<string> list;
        try
        {
            list = c.GetStringList(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"Configuration key '{Section}.{key}' must be a list of devices such as [\"cpu\"] or [\"cuda:0\", \"cuda:1\"].");
        }
        if (list is null || list.Count == 0)
        {
            throw new ConfigurationException($"Configuration key '{Section}.{key}' must name at least one device (\"cpu\" or \"cuda:N\").");
        }
        foreach (var device in list)
        {
            try
            {
                WalsCluster.Embedding.ExecutionDevice.Parse(device);
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new ConfigurationException($"Configuration key '{Section}.{key}' has '{device}', which is not a device: use \"cpu\" or \"cuda:N\".");
            }
        }
        return list.ToArray();
    }

    private static int Int(Config c, string key, int min, int max) => ConfigKeys.Int(c, Section, key, min, max);

    private static TimeSpan Duration(Config c, string key) => ConfigKeys.Duration(c, Section, key, allowZero: true, "10ms");
}
