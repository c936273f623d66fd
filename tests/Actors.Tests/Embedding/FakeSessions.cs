using System.Collections.Concurrent;
using WalsCluster.Actors.Embedding;

namespace WalsCluster.Actors.Tests.Embedding;

/// <summary>
/// A fake encoder: text "tN" embeds to [N, N + 0.5]; "boom" throws. Records every call (texts, thread) across all
/// sessions it created; an optional gate holds each call until the test opens it.
/// </summary>
internal sealed class FakeEncoder
{
    public ConcurrentQueue<string[]> Calls { get; } = new();

    public ConcurrentQueue<(int ThreadId, bool IsThreadPool)> Threads { get; } = new();

    public ManualResetEventSlim? Gate { get; init; }

    public int Sessions;

    public int Disposed;

    public static float[] VectorOf(string text) => text[0] == 't' && int.TryParse(text.AsSpan(1), out int n)
        ? [n, n + 0.5f]
        : throw new InvalidOperationException($"fake encoder cannot embed '{text}'.");

    public IEmbeddingSession Create(string device)
    {
        Interlocked.Increment(ref Sessions);
        return new Session(this);
    }

    private sealed class Session(FakeEncoder owner) : IEmbeddingSession
    {
        public float[][] Embed(IReadOnlyList<string> texts)
        {
            owner.Threads.Enqueue((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
            owner.Calls.Enqueue(texts.ToArray());
            if (owner.Gate is { } gate && !gate.Wait(TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException("the test never opened the gate.");
            }
            return texts.Select(VectorOf).ToArray();
        }

        public void Dispose() => Interlocked.Increment(ref owner.Disposed);
    }
}
