using Microsoft.Extensions.Logging;
using WalsCluster.Embedding;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Models;

namespace WalsCluster.Actors.Embedding;

/// <summary>One encoder session on one device, used by one <see cref="Embedder"/> from one thread.</summary>
public interface IEmbeddingSession : IDisposable
{
    /// <summary>One vector per text, in order, from one inference run.</summary>
    float[][] Embed(IReadOnlyList<string> texts);

    /// <summary>How this session embeds (model, pooling, max length in effect, dimension): what a projection fitted on
    /// its vectors must be queried with.</summary>
    EmbeddingSettings Settings { get; }
}

/// <summary>An <see cref="IEmbeddingSession"/> over a <see cref="TextEncoder"/> (ONNX Runtime).</summary>
public sealed class TextEncoderSession : IEmbeddingSession
{
    private readonly TextEncoder _encoder;

    public TextEncoderSession(TextEncoder encoder) => _encoder = encoder;

    /// <summary>A factory that creates one <see cref="TextEncoder"/> of <paramref name="model"/> per device
    /// (<paramref name="options"/> with its Device replaced by the embedder's device).</summary>
    public static Func<string, IEmbeddingSession> Factory(EncoderModel model, EncoderOptions options, ILogger? logger = null)
        => device => new TextEncoderSession(TextEncoder.Create(model, options with { Device = device }, logger));

    public float[][] Embed(IReadOnlyList<string> texts) => _encoder.Embed(texts);

    public EmbeddingSettings Settings => EmbeddingSettings.From(_encoder.Info);

    public void Dispose() => _encoder.Dispose();
}

/// <summary>
/// A session created on first use (<see cref="Embed"/> or <see cref="Settings"/>), on the thread of the
/// <see cref="Embedder"/> that owns it: a node starts its embedders without loading the model
/// (<c>wals.embedding.load = lazy</c>). A creation failure is thrown from that first call (the embedder answers it
/// with a rejection) and retried on the next one.
/// </summary>
public sealed class LazyEmbeddingSession : IEmbeddingSession
{
    private readonly Func<IEmbeddingSession> _create;
    private IEmbeddingSession? _session;

    public LazyEmbeddingSession(Func<IEmbeddingSession> create) => _create = create;

    /// <summary>Whether the real session exists yet.</summary>
    public bool IsCreated => _session is not null;

    private IEmbeddingSession Session => _session ??= _create();

    public float[][] Embed(IReadOnlyList<string> texts) => Session.Embed(texts);

    public EmbeddingSettings Settings => Session.Settings;

    public void Dispose() => _session?.Dispose();
}
