using Akka.Configuration;

namespace WalsCluster.Actors.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void The_reference_configuration_gives_the_documented_defaults()
    {
        var s = WalsSettings.FromConfig(Config.Empty);
        Assert.Equal(new WalsSettings(), s);
        Assert.Equal(4, s.UserShards);
        Assert.Equal(4, s.ItemShards);
        Assert.Equal(4194304, s.FactorBlockBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), s.ResendAfter);
        Assert.Equal(20, s.MaxResends);
        Assert.Equal(TimeSpan.FromSeconds(5), s.QueryTimeout);
        Assert.Equal(65536, s.IngestBatchEntries);
        Assert.Equal(4, s.IngestParallelism);
        Assert.Equal(TimeSpan.FromSeconds(30), s.IngestAskTimeout);
        Assert.Equal(3, s.IngestAttempts);
        Assert.Equal(16384, s.GatherRows);
    }

    [Theory]
    [InlineData("wals.cluster.user-shards = 0", "wals.cluster.user-shards")]
    [InlineData("wals.cluster.item-shards = many", "wals.cluster.item-shards")]
    [InlineData("wals.cluster.query-timeout = soon", "wals.cluster.query-timeout")]
    [InlineData("wals.cluster.factor-block-bytes = 10", "wals.cluster.factor-block-bytes")]
    [InlineData("wals.cluster.factor-block-bytes = 67108864", "wals.cluster.factor-block-bytes")] // above the 16 MiB frame: the blocks would be dropped
    public void A_bad_value_fails_at_start_up_naming_its_key(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => WalsSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Only_trainer_nodes_count_in_the_split_brain_majority()
    {
        // Regression: clients counted, and one node with one crashed client was a tie that downed the node.
        var config = WalsSystem.Config(new NodeAddress("127.0.0.1", 4053, ["127.0.0.1:4053"], ["trainer"]));
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("trainer", config.GetString("akka.cluster.split-brain-resolver.keep-majority.role"));
    }

    [Fact]
    public void An_unknown_role_is_rejected()
    {
        var e = Assert.Throws<ConfigurationException>(() => WalsSystem.Config(new NodeAddress("127.0.0.1", 0, [], ["trainer", "gpu"])));
        Assert.Contains("gpu", e.Message);
    }
}
