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
