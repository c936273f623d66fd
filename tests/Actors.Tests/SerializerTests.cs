using System.Collections;
using System.Reflection;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests;

/// <summary>Every wire message round-trips through <see cref="WalsSerializer"/>, and the binding picks it for all of them.</summary>
public sealed class SerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serializer-tests", ConfigurationFactory.ParseString(WalsSerializer.Hocon));

    private static readonly TrainingParameters Parameters = new(16, 1, 2.5f, 1f, 0.5f, 0.7f, 0.25f, 0.05f, 0.3f, 7, 1, 3, 1, 42, 0.01f, 2, 1);

    public static IEnumerable<object[]> Messages() => new IWalsMessage[]
    {
        new StartTrainingRun("run-1", Parameters, 10, 20, [1, 2], [3, 4], [5, 6, 7], [8, 9, 10]),
        new PrepareRun("run-1", Side.Items, 3, Parameters, 10, 20, 2, 3, 7, 99),
        new RunPrepared("run-1", Side.Users, 1, 5, 123456789012, [1.5, -2.25, 3], 0.125, null),
        new RunPrepared("run-1", Side.Users, 1, 0, 0, [], 0, "failed: ünïcode"),
        new BeginHalfStep("run-1", 4, Side.Users, 2, 17632, [1, 2, 3, 4, 5, 6], true, [], []),
        new BeginHalfStep("run-1", 4, Side.Users, 2, 17632, [1, 2, 3], false, [0.5f, -1f, 2f, 0.25f], [3f, 0.125f]),
        new PublishFactors("run-1", 4, Side.Users, Side.Items, 1, [0, 3], []),
        new PublishFactors("run-1", 4, Side.Users, Side.Items, 1, [], [1f, 0f, 0f, -1f]),
        new FactorsPublished("run-1", 4, Side.Users, Side.Items, 1, 3, 100, 6800),
        new FactorBlock("run-1", 4, Side.Users, 2, 1, 1, 2, 3, [5, 9], [1f, 2f, float.Epsilon, -0f, 5f, 6f]),
        new HalfStepCompleted("run-1", 4, Side.Items, 0, 12, [1, 2, 3], 1.5, 2.5, 3.5, 4.5, 0.001, null),
        new HalfStepCompleted("run-1", 4, Side.Items, 0, 12, [1, 2, 3], 0, 0, 0, 4.5, 0.001, null, -7.25),
        new TrainingProgress("run-1", 2, Side.Items, 4, 1.25, 0.5, 1 << 30, 1, double.NaN),
        new TrainingProgress("run-1", 2, Side.Items, 4, 1.25, 0.5, 1 << 30, 1, double.NaN, 1234.5),
        new StartTrainingRun("run-3", Parameters with { ZeroStart = 3 }, 10, 20, [1, 2], [3, 4], [5, 6, 7], [8, 9, 10]),
        new StartTrainingRun("run-4", Parameters with { GatherPrecision = 2, ZeroStart = 1 }, 10, 20, [1, 2], [3, 4], [5, 6, 7], [8, 9, 10]),
        new TrainingCompleted("run-1", 3, 100, [90, 80, 70], 12.5),
        new TrainingFailed("run-1", "shard item-2 did not answer"),
        new GetShardFactors("run-1", Side.Items, 2, 100, 50),
        new ShardFactors("run-1", Side.Items, 2, 300, 100, [7, 8], [1f, 2f, 3f, 4f], null),
        new GetShardStatus(Side.Users, 3),
        new ShardStatus(Side.Users, 3, "akka.tcp://wals@127.0.0.1:4053", null, 10, 20, 3, "ready"),
        GetClusterLayout.Instance,
        new ClusterLayout(4, 8, "run-1", null),
        new ClusterLayout(4, 8, "run-1", "run-2", 1000, 2, 30_000, 3, 512),
        new ReserveTrainingRun("run-3"),
        new TrainingRunReserved("run-3", null),
        new TrainingRunReserved("run-3", "Run 'run-2' holds the cluster."),
        new ReleaseTrainingRun("run-3"),
        new InteractionBatch("run-1", Side.Users, 1, 17, [3, 4], ["u3", "u4"], [3, 3, 4], [10, 11, 12], [0, 1, 1], [1f, 2f, 3f]),
        new InteractionBatchAccepted("run-1", Side.Users, 1, 17, 3, true),
        new Recommend("user 7", 10),
        new Recommend("user 8", 3, IncludeSeen: true),
        new SimilarItems("item/9", 5),
        new RecommendForItems(["a", "b"], [1f, 5f], 3),
        new RecommendForItems(["c"], [2f], 4, IncludeSeen: true),
        new Recommendations("u", [new RankedItem("x", 3, 0.5f), new RankedItem("y", 1, 0.25f)], [2], null),
        new GetRowVector(Side.Items, 1, "artist-1"),
        new RowVector("artist-1", 4, [0.1f, 0.2f], [1, 5], null),
        new ShardTopK(1, [3, 4], ["c", "d"], [0.5f, 0.25f], null),
        new GetFoldInTerms(Side.Items, 0, ["a"], [2f]),
        new FoldInTerms(0, [1, 2, 3], [4, 5, 6], [7, 8], [3], 1f, 0.05f, 0f, 100, null),
        new FoldInTerms(1, [1, 2, 3], [4, 5, 6], [7, 8], [], 1f, 0.05f, 0f, 100, null, 12),
        new FoldInTerms(2, [1, 2, 3], [0, 0, 0], [0, 0], [], 1f, 0.05f, 0f, 100, null, 0, ["nope", "gone"]),
        new StartTrainingRun("run-2", Parameters, 10, 20, [1, 2], [3, 4], [5, 6, 7], [8, 9, 10], new ProjectionRequest(0.1, 1, [4, 0, 7], 32)),
        new EmbedTexts(["a", "b"], ["the cat", "ünïcode"]),
        new TextsEmbedded(["a", "b"], [[1f, -2f], [0.5f, float.Epsilon]]),
        new EmbeddingRejected("busy: 4 of 4 queued texts"),
        GetEncoderSettings.Instance,
        new EncoderSettingsReport("{\"model\":\"minilm\"}", null),
        new EncoderSettingsReport("", "failed on cpu: no model"),
        new ItemEmbeddingBatch("run-1", Side.Items, 2, 5, 4, ["m1", "m2"], [3, 612], 3, [1f, 2f, 3f, 4f, 5f, 6f]),
        new ItemEmbeddingsAccepted("run-1", 2, 5, 17, false, null),
        new ItemEmbeddingsAccepted("run-1", 2, 5, 0, false, "item 'x' belongs to item-1"),
        new FitProjection("run-1", new ProjectionRequest(0.25, 0, [1, 2])),
        new GetProjectionSums("run-1", Side.Items, 3, true, 0.1, 1, 250),
        new ProjectionSumsReport("run-1", 3, false, [1, 2, 3, 255], 40, 7, null),
        new ApplyProjection("run-1", Side.Items, 1, [9, 8, 7]),
        new ProjectionApplied("run-1", 1, 12, null),
        new ProjectionFitted("run-1", 0.03, 0.5, 0.9, 80, 9, 12, [0.01, 0.03], [0.6, 0.5], [1, 2, 3], 1.25),
        new ProjectionFitted("run-1", 0.03, 0.5, 0.9, 80, 9, 12, [0.01, 0.03], [0.6, 0.5], [1, 2, 3], 1.25, 17),
        new ProjectionFitted("run-1", 0.03, 0.5, 0.9, 80, 9, 12, [0.01, 0.03], [0.6, 0.5], [1, 2, 3], 1.25, 17, [4, 5]),
        new ProjectionFailed("run-1", "no validation items"),
        GetProjection.Instance,
        new RecommendForText("a heist movie with a twist", 10),
        new RankShardItems(Side.Items, 2, [0.5f, -1f], 7, false, [1, 9]),
        new GetColdItemVector(Side.Items, 0, "movie 42"),
        new GetColdItems("run-1", Side.Items, 1, 10, 100),
        new ColdItemFactors("run-1", 1, 30, 10, ["c1", "c2"], [700, 701], [1f, 2f, 3f, 4f], null),
    }.Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_round_trips_through_the_binary_serializer(IWalsMessage message)
    {
        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<WalsSerializer>(serializer);
        var manifest = Serialization.ManifestFor(serializer, message);
        Assert.True(manifest.Length <= 2, $"manifest '{manifest}' should be a short constant");
        var bytes = serializer.ToBinary(message);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        AssertDeepEqual(message, back);
    }

    [Fact]
    public void Every_wire_message_type_has_a_round_trip_case()
    {
        var covered = Messages().Select(m => m[0].GetType()).ToHashSet();
        var all = typeof(IWalsMessage).Assembly.GetTypes().Where(t => typeof(IWalsMessage).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false });
        Assert.Empty(all.Where(t => !covered.Contains(t)).Select(t => t.Name));
    }

    [Fact]
    public void A_truncated_payload_is_rejected_not_misread()
    {
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerForType(typeof(FactorBlock));
        var block = new FactorBlock("r", 1, Side.Users, 0, 1, 0, 1, 0, [1, 2], [1f, 2f, 3f, 4f]);
        var bytes = serializer.ToBinary(block);
        Assert.Throws<InvalidDataException>(() => serializer.FromBinary(bytes[..^3], serializer.Manifest(block)));
    }

    [Fact]
    public void A_factor_block_costs_four_bytes_per_value_and_row_index_plus_a_small_header()
    {
        var serializer = _system.Serialization.FindSerializerForType(typeof(FactorBlock));
        var rows = Enumerable.Range(0, 1000).ToArray();
        var bytes = serializer.ToBinary(new FactorBlock("run-1", 1, Side.Users, 0, 1, 0, 1, 0, rows, new float[1000 * 64])).Length;
        Assert.InRange(bytes, 4 * 1000 * 65, 4 * 1000 * 65 + 64);
        Assert.Equal(WalsSerializer.FactorBlockSize("run-1", 1000, 64), bytes);
        Assert.Equal(WalsSerializer.FactorBlockSize("ünïcode-run", 3, 5), serializer.ToBinary(new FactorBlock("ünïcode-run", 1, Side.Items, 2, 1, 0, 1, 0, [1, 2, 3], new float[15])).Length);
    }

    private static void AssertDeepEqual(object? expected, object? actual, string path = "message")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: {expected} vs {actual}");
            return;
        }
        Assert.Equal(expected.GetType(), actual.GetType());
        if (expected is string or ValueType)
        {
            Assert.True(expected.Equals(actual), $"{path}: {expected} vs {actual}");
            return;
        }
        if (expected is IEnumerable e && actual is IEnumerable a)
        {
            var left = e.Cast<object?>().ToList();
            var right = a.Cast<object?>().ToList();
            Assert.Equal(left.Count, right.Count);
            for (var i = 0; i < left.Count; i++)
            {
                AssertDeepEqual(left[i], right[i], $"{path}[{i}]");
            }
            return;
        }
        foreach (var p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0))
        {
            AssertDeepEqual(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}");
        }
    }

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
