using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Synthetic;

namespace WalsCluster.Embedding.Tests;

/// <summary>Builds the synthetic RoBERTa model folders once per test class: the 2-layer tiny model and a 4-layer one
/// (5 hidden states, for top-4 pooling).</summary>
public sealed class TinyRobertaFixture : IDisposable
{
    public TinyRobertaFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "wals-embedding-tests-" + Guid.NewGuid().ToString("N"));
        Weights = SyntheticRoberta.RandomWeights(RobertaShape.Tiny, seed: 42);
        Directory2 = Path.Combine(Root, "tiny2");
        SyntheticRoberta.WriteModelFolder(Directory2, Weights, ByteLevelBpeVocabulary.Tiny);
        Weights4 = SyntheticRoberta.RandomWeights(RobertaShape.Tiny with { Layers = 4 }, seed: 7);
        Directory4 = Path.Combine(Root, "tiny4");
        SyntheticRoberta.WriteModelFolder(Directory4, Weights4, ByteLevelBpeVocabulary.Tiny);
        Model = ModelCatalog.Load(Directory2);
        Model4 = ModelCatalog.Load(Directory4);
    }

    public string Root { get; }

    public RobertaWeights Weights { get; }

    public RobertaWeights Weights4 { get; }

    public string Directory2 { get; }

    public string Directory4 { get; }

    public EncoderModel Model { get; }

    public EncoderModel Model4 { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Loads MiniLM once (90 MB graph) and keeps one encoder per pooling used by the tests.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmFixture()
    {
        Model = ModelCatalog.LoadMiniLm();
        Encoder = TextEncoder.Create(Model, new EncoderOptions { IntraOpThreads = 2 });
    }

    public EncoderModel Model { get; }

    /// <summary>Default options: top-4 layers, equal weights, L2-normalised.</summary>
    public TextEncoder Encoder { get; }

    public void Dispose() => Encoder.Dispose();
}
