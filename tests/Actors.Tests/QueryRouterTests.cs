using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests;

/// <summary>The router against a scripted region: item shard 2 never answers.</summary>
public sealed class QueryRouterTests : TestKit
{
    private readonly IActorRef _router;

    public QueryRouterTests()
    {
        var region = CreateTestProbe();
        region.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            switch (message)
            {
                case GetRowVector { Side: Side.Users } get when get.Id == "alice":
                    sender.Tell(new RowVector("alice", 0, [1f, 0f], [5], null));
                    break;
                case GetRowVector { Side: Side.Users } get:
                    sender.Tell(new RowVector(get.Id, -1, [], [], $"'{get.Id}' is not in the model."));
                    break;
                case RankShardItems { Shard: 0 } score:
                    Assert.Equal([5], score.Exclude);
                    sender.Tell(new ShardTopK(0, [4, 0], ["e", "a"], [0.9f, 0.5f], null));
                    break;
                case RankShardItems { Shard: 1 }:
                    sender.Tell(new ShardTopK(1, [3, 1], ["d", "b"], [0.9f, 0.7f], null));
                    break;
            }
            return AutoPilot.KeepRunning;
        }));
        _router = Sys.ActorOf(QueryRouter.Props(new WalsSettings { UserShards = 2, ItemShards = 3, QueryTimeout = TimeSpan.FromMilliseconds(500) }, region));
    }

    [Fact]
    public void A_shard_that_never_answers_makes_the_reply_partial_and_the_rest_is_merged_with_ties_to_the_lower_index()
    {
        _router.Tell(new Recommend("alice", 3));
        var reply = ExpectMsg<Recommendations>(TimeSpan.FromSeconds(10));
        Assert.Null(reply.Failure);
        Assert.Equal([2], reply.MissingShards);
        Assert.True(reply.IsPartial);
        Assert.Equal([3, 4, 1], reply.Items.Select(i => i.Index));
    }

    [Fact]
    public void An_unknown_user_gets_a_failure_reply()
    {
        _router.Tell(new Recommend("bob", 3));
        var reply = ExpectMsg<Recommendations>(TimeSpan.FromSeconds(10));
        Assert.Contains("bob", reply.Failure);
        Assert.Empty(reply.Items);
    }
}
