using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests.Embedding;

/// <summary>
/// <see cref="RecommendForText"/> on the router against scripted actors: the coordinator's projection, an embedding pool
/// that returns a fixed vector, and item shards that send their fold-in Grams (or not) and rank.
/// </summary>
public sealed class TextQueryRouterTests : TestKit
{
    private const int K = 2;
    private static readonly float[] Vector = [0.6f, -0.8f, 0.5f];

    // Per item shard: its packed partial Gram (2 x 2) and its cold items.
    private static readonly double[][] Grams = [[2, 0.5, 1], [1, -0.25, 3], [0.5, 0, 0.5]];
    private static readonly int[] Cold = [0, 2, 1];

    /// <summary>A 3 -> 2 map fitted on a few rows, and its bytes; with <paramref name="features"/> the last of the 3
    /// inputs is a metadata feature and the query map takes the first 2.</summary>
    private static ProjectionFitted Fitted(int features, bool withQueryMap)
    {
        var sums = new ProjectionSums(3, K);
        var rng = new Random(4);
        for (var i = 0; i < 12; i++)
        {
            sums.Add([(float)rng.NextDouble(), (float)rng.NextDouble(), (float)rng.NextDouble()], [(float)rng.NextDouble(), (float)rng.NextDouble()]);
        }
        var full = RidgeProjection.Fit(sums, 0.1);
        byte[]? query = withQueryMap ? RidgeProjection.Fit(sums.Leading(3 - features), 0.1).ToBytes() : null;
        return new ProjectionFitted("run", 0.1, 0, 0, 10, 2, 0, [0.1], [0], full.ToBytes(), 0, features, query);
    }

    private (IActorRef Router, TestProbe Region) Router(ProjectionFitted fitted, bool shardTwoAnswers, int textDimension)
    {
        var coordinator = CreateTestProbe();
        coordinator.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            if (message is GetProjection)
            {
                sender.Tell(fitted);
            }
            return AutoPilot.KeepRunning;
        }));
        var embedding = CreateTestProbe();
        embedding.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            if (message is EmbedTexts embed)
            {
                sender.Tell(new TextsEmbedded(embed.Ids, [Vector[..textDimension]]));
            }
            return AutoPilot.KeepRunning;
        }));
        var region = CreateTestProbe();
        region.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            switch (message)
            {
                case GetFoldInTerms get when get.Shard < 2 || shardTwoAnswers:
                    Assert.Empty(get.Items);
                    sender.Tell(new FoldInTerms(get.Shard, Grams[get.Shard], [0, 0, 0], [0, 0], [], 1f, 0.5f, 0f, 30, null, Cold[get.Shard]));
                    break;
                case RankShardItems rank:
                    sender.Tell(new ShardTopK(rank.Shard, [rank.Shard], [$"item{rank.Shard}"], [rank.Query[0]], null));
                    break;
            }
            return AutoPilot.KeepRunning;
        }));
        var settings = new WalsSettings { UserShards = 1, ItemShards = 3, QueryTimeout = TimeSpan.FromMilliseconds(500) };
        return (Sys.ActorOf(QueryRouter.Props(settings, region.Ref, coordinator.Ref, embedding.Ref, TimeSpan.FromSeconds(5))), region);
    }

    [Fact]
    public void A_text_query_is_the_fold_in_of_its_projected_point_against_every_item_shards_Gram()
    {
        var fitted = Fitted(features: 1, withQueryMap: true);
        var (router, region) = Router(fitted, shardTwoAnswers: true, textDimension: 2);
        router.Tell(new RecommendForText("a query", 3));
        var reply = ExpectMsg<Recommendations>(TimeSpan.FromSeconds(10));
        Assert.Null(reply.Failure);
        Assert.Empty(reply.MissingShards);

        // Expected: q from the text-only map, G the sum of the three Grams, N = 30 trained + 3 cold items.
        var q = RidgeProjection.FromBytes(fitted.QueryProjection!).Apply(Vector[..2]);
        var packed = new double[PackedSymmetric.Length(K)];
        foreach (var g in Grams)
        {
            PackedSymmetric.AddInto(packed, g);
        }
        var options = new WalsOptions { Factors = K, UnobservedWeight = 1f, Regularization = 0.5f };
        var expected = FoldIn.QueryVector(PackedSymmetric.Unpack(packed, K), 33, q, options);
        Assert.Equal(expected[0], reply.Items.Single(i => i.Id == "item0").Score, 1e-6f);
        var sent = region.ReceiveWhile<object>(TimeSpan.FromMilliseconds(200), m => m).OfType<RankShardItems>().ToList();
        Assert.Equal([0, 1, 2], sent.Select(r => r.Shard).Order());
        Assert.All(sent, r => Assert.Equal(expected, r.Query));
    }

    [Theory]
    [InlineData(0, false, false, 3, "Item shards 2")]
    [InlineData(1, false, true, 2, "no text-only map")]
    public void A_text_query_fails_naming_why_without_every_shards_Gram_or_without_a_query_map_for_the_features(
        int features, bool withQueryMap, bool shardTwoAnswers, int textDimension, string reason)
    {
        var (router, _) = Router(Fitted(features, withQueryMap), shardTwoAnswers, textDimension);
        router.Tell(new RecommendForText("a query", 3));
        var reply = ExpectMsg<Recommendations>(TimeSpan.FromSeconds(10));
        Assert.Contains(reason, reply.Failure);
        Assert.Equal(shardTwoAnswers ? [] : [2], reply.MissingShards);
        Assert.Empty(reply.Items);
    }
}
