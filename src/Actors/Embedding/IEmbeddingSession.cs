using Microsoft.Extensions.Logging;
using WalsCluster.Embedding;
using WalsCluster.Embedding.Models;

namespace WalsCluster.Actors.Embedding;

/// <summary>One encoder session on one device, used by one <see cref="Embedder"/> from one thread.</summary>
public interface IEmbeddingSession : IDisposable
{
    /// <summary>One vector per text, in order, from one inference run.</summary>
    float[][] Embed(IReadOnlyList<string> texts);
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

    public void Dispose() => _encoder.Dispose();
}
