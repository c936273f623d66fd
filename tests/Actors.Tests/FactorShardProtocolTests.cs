using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Wals;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests;

/// <summary>
/// One user shard (<c>user-0</c>, the only user shard, items on 2 shards) driven message by message; the test plays the
/// coordinator and the item shards. Its solve must equal the engine's user half-step (tolerance 1e-5).
/// </summary>
public sealed class FactorShardProtocolTests : TestKit
{
    private const string Run = "run-test";
    private static readonly WalsOptions Options = new WalsOptions { Factors = 4, Solver = WalsSolver.Cholesky, Iterations = 2, Threads = 1 }.Validate();
    private readonly InteractionTable _table = Table();
    private readonly TestProbe _region;
    private readonly IActorRef _shard;

    public FactorShardProtocolTests() : base(Akka.Configuration.ConfigurationFactory.ParseString(WalsSerializer.Hocon + "\nakka.actor.serialize-messages = on"))
    {
        _region = CreateTestProbe();
        _shard = Sys.ActorOf(FactorShard.Props(new WalsSettings { UserShards = 1, ItemShards = 2, FactorBlockBytes = 1024 }, _region), "user-0");
        foreach (var batch in Ingestion.Batches(_table, Run, 1, 2, batchEntries: 5).Where(b => b.Side == Side.Users))
        {
            _shard.Tell(batch);
            Assert.False(ExpectMsg<InteractionBatchAccepted>().Duplicate);
        }
        var (rows, entries) = Ingestion.Expected(_table, Side.Users, 1);
        _shard.Tell(new PrepareRun(Run, Side.Users, 0, Options.ToWire(), _table.Users.Count, _table.Items.Count, 1, 2, rows[0], entries[0]));
        var prepared = ExpectMsg<RunPrepared>();
        Assert.Null(prepared.Failure);
        Assert.Equal(_table.Users.Count, prepared.Rows);
    }

    private static InteractionTable Table()
    {
        var random = new Random(3);
        var users = new IdMap();
        var items = new IdMap();
        var u = new List<int>();
        var i = new List<int>();
        var v = new List<float>();
        for (var user = 0; user < 9; user++)
        {
            users.GetOrAdd($"u{user}");
            foreach (var item in Enumerable.Range(0, 12).Where(_ => random.NextDouble() < 0.4).Append(user % 12).Distinct())
            {
                u.Add(user);
                i.Add(items.GetOrAdd($"i{item}"));
                v.Add(1 + random.Next(5));
            }
        }
        return new InteractionTable(users, items, u.ToArray(), i.ToArray(), v.ToArray());
    }

    private float[] ItemFactors() => WalsTrainer.InitialFactors(_table.Items.Count, Options.Factors, Options.Seed + 1, Options.InitScale);

    private double[] PackedGram(float[] y)
    {
        var g = new double[Options.Factors * Options.Factors];
        MatrixKernels.AddGram(y, _table.Items.Count, Options.Factors, g, 1);
        return PackedSymmetric.Pack(g, Options.Factors);
    }

    /// <summary>What item shard s sends user-0 for iteration 1: every item of s that some user interacted with, one row per part.</summary>
    private List<FactorBlock> Blocks(int iteration, float[] y)
    {
        var k = Options.Factors;
        var blocks = new List<FactorBlock>();
        for (var s = 0; s < 2; s++)
        {
            var rows = _table.ItemIndex.Distinct().Where(item => StableHash.ShardOf(_table.Items[item], 2) == s).Order().ToArray();
            for (var p = 0; p < rows.Length; p++)
            {
                blocks.Add(new FactorBlock(Run, iteration, Side.Users, 0, s, p, rows.Length, p, [rows[p]], y.AsSpan(rows[p] * k, k).ToArray()));
            }
        }
        return blocks;
    }

    private float[] EngineUserHalfStep(float[] y)
    {
        var users = WeightedInteractions.Build(_table.ToUserItemMatrix(), Options);
        var x = WalsTrainer.InitialFactors(_table.Users.Count, Options.Factors, Options.Seed, Options.InitScale);
        var g = new double[Options.Factors * Options.Factors];
        MatrixKernels.AddGram(y, _table.Items.Count, Options.Factors, g, 1);
        HalfStep.SolveCholesky(users, y, g, x, _table.Items.Count, Options);
        return x;
    }

    private float[] ShardFactors()
    {
        _shard.Tell(new GetShardFactors(Run, Side.Users, 0, 0, 1000));
        var page = ExpectMsg<ShardFactors>();
        var x = new float[_table.Users.Count * Options.Factors];
        for (var j = 0; j < page.Rows.Length; j++)
        {
            page.Values.AsSpan(j * Options.Factors, Options.Factors).CopyTo(x.AsSpan(page.Rows[j] * Options.Factors));
        }
        return x;
    }

    private BeginHalfStep Begin(float[] y) => new(Run, 1, Side.Users, 0, _table.Items.Count, PackedGram(y), false, [], []);

    /// <summary>Sends every block of iteration 1 and its BeginHalfStep, and waits until the shard has solved it.</summary>
    private void SolveFirstHalfStep()
    {
        var y = ItemFactors();
        foreach (var block in Blocks(1, y))
        {
            _shard.Tell(block);
        }
        _shard.Tell(Begin(y));
        ExpectMsg<HalfStepCompleted>(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Factor_blocks_that_arrive_before_BeginHalfStep_are_buffered_and_the_solve_matches_the_engine()
    {
        var y = ItemFactors();
        foreach (var block in Blocks(1, y))
        {
            _shard.Tell(block);
        }
        _shard.Tell(Begin(y));
        var done = ExpectMsg<HalfStepCompleted>(TimeSpan.FromSeconds(20));
        Assert.Null(done.Failure);
        Assert.Equal(_table.Users.Count, done.Rows);
        var expected = EngineUserHalfStep(y);
        var actual = ShardFactors();
        for (var j = 0; j < expected.Length; j++)
        {
            Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5, $"factor {j}: engine {expected[j]}, shard {actual[j]}");
        }
    }

    [Fact]
    public void The_fold_in_Gram_follows_the_factors_a_solve_replaces()
    {
        var k = Options.Factors;
        double[] Expected(float[] x)
        {
            var g = new double[k * k];
            MatrixKernels.AddGram(x, _table.Users.Count, k, g, 1);
            return PackedSymmetric.Pack(g, k);
        }
        var initial = ShardFactors();
        _shard.Tell(new GetFoldInTerms(Side.Users, 0, [], []));
        var before = ExpectMsg<FoldInTerms>();
        Assert.Null(before.Failure);
        Assert.Equal(0, before.ColdItems);
        Assert.Equal(Expected(initial), before.PartialGram, new ToleranceComparer(1e-12));
        SolveFirstHalfStep();
        var solved = ShardFactors();
        _shard.Tell(new GetFoldInTerms(Side.Users, 0, [], []));
        var after = ExpectMsg<FoldInTerms>();
        Assert.Equal(Expected(solved), after.PartialGram, new ToleranceComparer(1e-12));
        Assert.NotEqual(before.PartialGram, after.PartialGram);
    }

    [Fact]
    public void A_fold_in_value_that_is_not_finite_is_a_failure_and_the_shard_keeps_its_factors()
    {
        // Regression: a NaN reached WeightedInteractions.Confidence, which threw inside the handler, and the restarted
        // shard had lost its block (its trained factors) to one bad query.
        var initial = ShardFactors();
        var id = _table.Users[0];
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
        {
            _shard.Tell(new GetFoldInTerms(Side.Users, 0, [id], [bad]));
            Assert.Contains("not a finite number", ExpectMsg<FoldInTerms>().Failure);
        }
        _shard.Tell(new GetFoldInTerms(Side.Users, 0, [id], [2f]));
        var good = ExpectMsg<FoldInTerms>();
        Assert.Null(good.Failure);
        Assert.Single(good.Found);
        Assert.Equal(initial, ShardFactors());
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance * Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));

        public int GetHashCode(double value) => 0;
    }

    [Fact]
    public void BeginHalfStep_before_the_blocks_waits_for_the_last_block()
    {
        var y = ItemFactors();
        var blocks = Blocks(1, y);
        _shard.Tell(Begin(y));
        foreach (var block in blocks.Take(blocks.Count - 1))
        {
            _shard.Tell(block);
        }
        _shard.Tell(new GetShardStatus(Side.Users, 0));
        var status = ExpectMsg<ShardStatus>();
        Assert.Equal("ready", status.Phase);
        Assert.Equal(0, status.LastIteration);
        _shard.Tell(blocks[^1]);
        Assert.Null(ExpectMsg<HalfStepCompleted>(TimeSpan.FromSeconds(20)).Failure);
    }

    [Fact]
    public void Duplicated_blocks_and_a_re_sent_BeginHalfStep_give_the_stored_reply_without_solving_again()
    {
        var y = ItemFactors();
        foreach (var block in Blocks(1, y).Concat(Blocks(1, y)))
        {
            _shard.Tell(block);
        }
        _shard.Tell(Begin(y));
        var first = ExpectMsg<HalfStepCompleted>(TimeSpan.FromSeconds(20));
        var factors = ShardFactors();
        // A late duplicate block of the solved half-step and a re-sent BeginHalfStep change nothing.
        _shard.Tell(Blocks(1, y)[0]);
        _shard.Tell(Begin(y));
        var second = ExpectMsg<HalfStepCompleted>();
        Assert.Equal(first.PartialGram, second.PartialGram);
        Assert.Equal(first with { PartialGram = [] }, second with { PartialGram = [] });
        Assert.Equal(factors, ShardFactors());
        _shard.Tell(new GetShardStatus(Side.Users, 0));
        Assert.Equal(1, ExpectMsg<ShardStatus>().LastIteration);
    }

    [Fact]
    public void A_duplicated_ingestion_batch_is_acknowledged_as_a_duplicate_and_not_counted()
    {
        var batch = Ingestion.Batches(_table, "run-other", 1, 2, 5).First(b => b.Side == Side.Users);
        _shard.Tell(batch);
        var first = ExpectMsg<InteractionBatchAccepted>();
        _shard.Tell(batch);
        var again = ExpectMsg<InteractionBatchAccepted>();
        Assert.True(again.Duplicate);
        Assert.Equal(first.Entries, again.Entries);
    }

    [Fact]
    public void PublishFactors_sends_each_item_shard_exactly_the_rows_it_needs_and_ignores_a_stale_request()
    {
        SolveFirstHalfStep();

        _shard.Tell(new PublishFactors(Run, 1, Side.Items, Side.Users, 0, [], []));
        var published = ExpectMsg<FactorsPublished>();
        var sent = Enumerable.Range(0, published.Blocks).Select(_ => _region.ExpectMsg<FactorBlock>()).ToList();
        var x = ShardFactors();
        for (var s = 0; s < 2; s++)
        {
            var needed = Enumerable.Range(0, _table.Count).Where(e => StableHash.ShardOf(_table.Items[_table.ItemIndex[e]], 2) == s).Select(e => _table.UserIndex[e]).Distinct().Order();
            var mine = sent.Where(b => b.Shard == s).OrderBy(b => b.Part).ToList();
            Assert.Equal(needed, mine.SelectMany(b => b.Rows));
            Assert.All(mine, b => Assert.Equal(mine.Count, b.Parts));
            foreach (var b in mine)
            {
                for (var j = 0; j < b.Rows.Length; j++)
                {
                    Assert.Equal(x.AsSpan(b.Rows[j] * Options.Factors, Options.Factors).ToArray(), b.Values.AsSpan(j * Options.Factors, Options.Factors).ToArray());
                }
            }
        }
        // The bytes reported are the blocks' exact serialized sizes: 4 (k + 1) per row plus the header.
        var serializer = Sys.Serialization.FindSerializerForType(typeof(FactorBlock));
        Assert.Equal(sent.Sum(b => (long)serializer.ToBinary(b).Length), published.Bytes);
        Assert.Equal(sent.Sum(b => 4L * b.Rows.Length * (Options.Factors + 1) + 37 + Run.Length), published.Bytes);

        // Items solving iteration 2 need the users' factors after iteration 2, which this shard does not have yet.
        _shard.Tell(new PublishFactors(Run, 2, Side.Items, Side.Users, 0, [], []));
        _shard.Tell(new GetShardStatus(Side.Users, 0));
        ExpectMsg<ShardStatus>();
        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_rotated_PublishFactors_moves_the_shard_into_the_eigenbasis_once_even_when_it_is_sent_again()
    {
        SolveFirstHalfStep();
        var k = Options.Factors;
        var before = ShardFactors();
        // An orthogonal k x k matrix: the eigenvectors of a random symmetric one.
        var (q, _) = Dense.SymmetricEigen(PackedSymmetric.Unpack(PackedGram(ItemFactors()), k), k);
        var expected = (float[])before.Clone();
        MatrixKernels.MultiplyInPlace(expected, _table.Users.Count, k, q, 1);

        for (var send = 0; send < 2; send++)
        {
            _shard.Tell(new PublishFactors(Run, 1, Side.Items, Side.Users, 0, [], q));
            var published = ExpectMsg<FactorsPublished>();
            var sent = Enumerable.Range(0, published.Blocks).Select(_ => _region.ExpectMsg<FactorBlock>()).ToList();
            foreach (var b in sent)
            {
                for (var j = 0; j < b.Rows.Length; j++)
                {
                    for (var c = 0; c < k; c++)
                    {
                        Assert.Equal(expected[b.Rows[j] * k + c], b.Values[j * k + c], 5);
                    }
                }
            }
            // The shard keeps the rotated rows as its factors (one common basis; the solving side rotates its own warm start).
            var now = ShardFactors();
            for (var i = 0; i < now.Length; i++)
            {
                Assert.Equal(expected[i], now[i], 5);
            }
        }
    }

    [Fact]
    public void A_shard_asked_for_a_run_it_does_not_hold_replies_with_a_failure()
    {
        _shard.Tell(new BeginHalfStep("run-unknown", 1, Side.Users, 0, 1, PackedGram(ItemFactors()), false, [], []));
        Assert.Contains("run-unknown", ExpectMsg<HalfStepCompleted>().Failure);
        _shard.Tell(new PrepareRun("run-unknown", Side.Users, 0, Options.ToWire(), 1, 1, 1, 2, 1, 1));
        Assert.NotNull(ExpectMsg<RunPrepared>().Failure);
    }
}
