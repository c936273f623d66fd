using Akka.TestKit.Xunit2;
using WalsCluster.Actors.Embedding;
using WalsCluster.Messages;
using WalsCluster.Embedding;
using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Synthetic;

namespace WalsCluster.Actors.Tests.Embedding;

/// <summary>The pool over real ONNX Runtime sessions of the synthetic 2-layer RoBERTa (no download).</summary>
public sealed class TinyRobertaPoolTests : TestKit, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "wals-actors-embedding-" + Guid.NewGuid().ToString("N"));
    private readonly EncoderModel _model;

    public TinyRobertaPoolTests() : base(EmbeddingPoolSettings.DefaultConfig)
    {
        SyntheticRoberta.WriteModelFolder(_root, SyntheticRoberta.RandomWeights(RobertaShape.Tiny, seed: 42), ByteLevelBpeVocabulary.Tiny);
        _model = ModelCatalog.Load(_root);
    }

    [Fact]
    public void Batched_vectors_equal_the_encoder_run_on_each_request_alone()
    {
        var options = new EncoderOptions { IntraOpThreads = 1, MaxLength = 32, Pooling = new PoolingOptions { LayerCount = 3 } };
        var pool = Sys.ActorOf(EmbeddingPool.Props(
            new EmbeddingPoolSettings { MaxBatchTexts = 8, MaxWait = TimeSpan.FromMilliseconds(20) },
            TextEncoderSession.Factory(_model, options)));
        string[][] texts =
        [
            ["the cat sat", "a dog ran far"],
            ["hello world"],
            ["", "the the the the the the", "cat"],
        ];
        var probes = texts.Select(_ => CreateTestProbe()).ToArray();
        for (int p = 0; p < texts.Length; p++)
        {
            probes[p].Send(pool, new EmbedTexts(texts[p].Select((_, i) => $"{p}:{i}").ToArray(), texts[p]));
        }

        using var reference = TextEncoder.Create(_model, options);
        for (int p = 0; p < texts.Length; p++)
        {
            var reply = probes[p].ExpectMsg<TextsEmbedded>(TimeSpan.FromSeconds(10));
            Assert.Equal(texts[p].Select((_, i) => $"{p}:{i}"), reply.Ids);
            var expected = reference.Embed(texts[p]);
            Assert.Equal(expected.Length, reply.Vectors.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.Equal(expected[i].Length, reply.Vectors[i].Length);
                for (int d = 0; d < expected[i].Length; d++)
                {
                    // Padding to a longer batch changes only masked positions: equal within float rounding.
                    Assert.Equal(expected[i][d], reply.Vectors[i][d], 1e-4f);
                }
            }
        }
    }

    void IDisposable.Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        Dispose();
    }
}
