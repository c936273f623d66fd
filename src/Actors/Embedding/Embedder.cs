using Akka.Actor;
using Akka.Event;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Embedding;

/// <summary>
/// Owns one encoder session on one device and answers <see cref="EmbedTexts"/> with one vector per text, in order.
/// Inference blocks, so <see cref="Props"/> puts the actor on the pinned dispatcher
/// (<see cref="EmbeddingPoolSettings.DispatcherId"/>): its own thread, no shared pool thread is held. An encoder
/// failure is an expected outcome and is answered <see cref="EmbeddingRejected"/>; a session that cannot be created
/// fails the actor at start (left to the supervisor).
/// </summary>
public sealed class Embedder : ReceiveActor
{
    private readonly Func<IEmbeddingSession> _createSession;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _device;
    private IEmbeddingSession? _session;

    public Embedder(string device, Func<IEmbeddingSession> createSession)
    {
        _device = device;
        _createSession = createSession;
        Receive<EmbedTexts>(HandleEmbedTexts);
        Receive<GetEncoderSettings>(_ => Sender.Tell(Settings(), Self));
    }

    /// <summary>An embedder for <paramref name="device"/> on <paramref name="dispatcherId"/> (the pinned embedding dispatcher by default).</summary>
    public static Props Props(string device, Func<IEmbeddingSession> createSession, string dispatcherId = EmbeddingPoolSettings.DispatcherId)
        => Akka.Actor.Props.Create(() => new Embedder(device, createSession)).WithDispatcher(dispatcherId);

    protected override void PreStart()
    {
        _session = _createSession();
        _log.Info(_session is LazyEmbeddingSession ? "Embedder {0} started; its encoder session is created on the first request" : "Embedder {0} started its encoder session", _device);
    }

    protected override void PostStop()
    {
        _session?.Dispose();
        _session = null;
    }

    private void HandleEmbedTexts(EmbedTexts request)
    {
        var sender = Sender;
        sender.Tell(Embed(request), Self);
    }

    private EncoderSettingsReport Settings()
    {
        try
        {
            return new EncoderSettingsReport(_session!.Settings.ToJson(), null);
        }
        catch (Exception e)
        {
            _log.Warning("Embedder {0} could not report its encoder settings: {1}", _device, e.Message);
            return new EncoderSettingsReport("", $"failed on {_device}: {e.Message}");
        }
    }

    private object Embed(EmbedTexts request)
    {
        if (request.Ids.Length != request.Texts.Length)
        {
            return new EmbeddingRejected($"invalid request: {request.Ids.Length} ids for {request.Texts.Length} texts.");
        }
        if (request.Texts.Length == 0)
        {
            return new TextsEmbedded([], []);
        }
        try
        {
            var vectors = _session!.Embed(request.Texts);
            if (vectors.Length != request.Texts.Length)
            {
                return new EmbeddingRejected($"failed on {_device}: the encoder returned {vectors.Length} vectors for {request.Texts.Length} texts.");
            }
            _log.Debug("Embedder {0} embedded [{1}] texts", _device, request.Texts.Length);
            return new TextsEmbedded(request.Ids, vectors);
        }
        catch (Exception e)
        {
            _log.Warning("Embedder {0} failed on [{1}] texts: {2}", _device, request.Texts.Length, e.Message);
            return new EmbeddingRejected($"failed on {_device}: {e.Message}");
        }
    }
}
