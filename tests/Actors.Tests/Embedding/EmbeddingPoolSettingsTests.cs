using Akka.Configuration;
using WalsCluster.Actors.Embedding;

namespace WalsCluster.Actors.Tests.Embedding;

public sealed class EmbeddingPoolSettingsTests
{
    [Fact]
    public void Every_node_configuration_carries_the_embedding_defaults_and_the_pinned_dispatcher()
    {
        var node = WalsSystem.Config(new NodeAddress("127.0.0.1", 4053, [], [WalsSystem.TrainerRole]));
        Assert.Equal("PinnedDispatcher", node.GetString(EmbeddingPoolSettings.DispatcherId + ".type"));
        Assert.Equal(new EmbeddingPoolSettings().Devices, EmbeddingPoolSettings.FromConfig(node).Devices);
        Assert.Equal(new EmbeddingPoolSettings().MaxBatchTexts, EmbeddingPoolSettings.FromConfig(node).MaxBatchTexts);
    }

    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        var s = EmbeddingPoolSettings.FromConfig(Config.Empty);
        Assert.Equal(["cpu"], s.Devices);
        Assert.Equal(32, s.MaxBatchTexts);
        Assert.Equal(TimeSpan.FromMilliseconds(10), s.MaxWait);
        Assert.Equal(1024, s.MaxQueuedTexts);
        // The HOCON defaults and the record's initialisers agree.
        var code = new EmbeddingPoolSettings();
        Assert.Equal(code.Devices, s.Devices);
        Assert.Equal(code with { Devices = s.Devices }, s);
    }

    [Fact]
    public void Devices_are_read_from_the_list()
    {
        var s = EmbeddingPoolSettings.FromConfig(ConfigurationFactory.ParseString("""wals.embedding.devices = ["cuda:0", "cuda:1"]"""));
        Assert.Equal(["cuda:0", "cuda:1"], s.Devices);
    }

    [Theory]
    [InlineData("""wals.embedding.devices = ["gpu7"]""", "wals.embedding.devices")]
    [InlineData("""wals.embedding.devices = []""", "wals.embedding.devices")]
    [InlineData("""wals.embedding.max-batch-texts = 0""", "wals.embedding.max-batch-texts")]
    [InlineData("""wals.embedding.max-batch-texts = lots""", "wals.embedding.max-batch-texts")]
    [InlineData("""wals.embedding.max-wait = -5ms""", "wals.embedding.max-wait")]
    [InlineData("""wals.embedding.max-queued-texts = 8""", "wals.embedding.max-queued-texts")]
    public void A_bad_value_fails_with_the_key_name(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => EmbeddingPoolSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, e.Message);
    }
}

public sealed class EmbeddingServiceSettingsTests
{
    [Fact]
    public void The_service_and_pipeline_defaults_are_the_documented_ones()
    {
        var s = EmbeddingServiceSettings.FromConfig(Config.Empty);
        Assert.Equal(new EmbeddingServiceSettings(), s);
        Assert.True(s.Enabled);
        Assert.False(s.LoadAtStart);
        Assert.Equal("minilm", s.Model);
        Assert.Equal("layers", s.Pooling);
        Assert.Equal(4, s.LayerCount);
        Assert.True(s.Normalize);
        Assert.Equal(128, s.MaxLength);
        Assert.Equal(0, s.IntraOpThreads);
        var p = EmbeddingPipelineSettings.FromConfig(Config.Empty);
        Assert.Equal(new EmbeddingPipelineSettings(), p);
        Assert.Equal(32, p.RequestTexts);
        Assert.Equal(4, p.Parallelism);
        Assert.Equal(TimeSpan.FromSeconds(60), p.AskTimeout);
        Assert.Equal(3, p.Attempts);
        Assert.Equal(TimeSpan.FromMilliseconds(20), p.BusyBackoffMin);
        Assert.Equal(TimeSpan.FromSeconds(1), p.BusyBackoffMax);
        Assert.Equal(TimeSpan.FromMinutes(5), p.BusyTimeout);
        Assert.Equal(1024, p.ShardBatchItems);
    }

    [Theory]
    [InlineData("wals.embedding.enabled = maybe", "wals.embedding.enabled")]
    [InlineData("wals.embedding.load = eager", "wals.embedding.load")]
    [InlineData("""wals.embedding.model = "/nowhere/model" """, "wals.embedding.model")]
    [InlineData("wals.embedding.pooling = max", "wals.embedding.pooling")]
    [InlineData("wals.embedding.max-length = 1", "wals.embedding.max-length")]
    [InlineData("wals.embedding.pipeline.request-texts = 0", "wals.embedding.pipeline.request-texts")]
    [InlineData("wals.embedding.pipeline.busy-backoff-max = 1ms", "wals.embedding.pipeline.busy-backoff-max")]
    [InlineData("wals.embedding.pipeline.ask-timeout = 0s", "wals.embedding.pipeline.ask-timeout")]
    public void A_bad_value_fails_at_start_up_with_the_key_name(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => HostingExtensions.ValidateEmbedding(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void The_embedder_role_is_known_and_a_lazy_session_loads_on_first_use()
    {
        WalsSystem.Config(new NodeAddress("127.0.0.1", 4053, [], [WalsSystem.EmbedderRole]));
        var fake = new FakeEncoder();
        var create = new EmbeddingServiceSettings().WithLoading(fake.Create);
        using var session = (LazyEmbeddingSession)create("cpu");
        Assert.False(session.IsCreated);
        Assert.Equal(0, fake.Sessions);
        Assert.Equal([1f, 1.5f], session.Embed(["t1"])[0]);
        Assert.True(session.IsCreated);
        Assert.Equal(1, fake.Sessions);
    }
}
