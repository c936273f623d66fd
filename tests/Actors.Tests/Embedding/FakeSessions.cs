using System.Collections.Concurrent;
using WalsCluster.Actors.Embedding;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Messages;

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

        public EmbeddingSettings Settings { get; } = new() { Model = "fake", Pooling = "mean", Dimension = 2 };

        public void Dispose() => Interlocked.Increment(ref owner.Disposed);
    }
}

/// <summary>
/// A fake encoder with d-dimensional vectors that are pseudo-random functions of the text (FNV-1a of the text seeds a
/// generator): distinct texts get linearly independent vectors, so a projection fitted on them is well posed. Counts its
/// sessions and calls.
/// </summary>
public sealed class HashingEncoder(int dimension)
{
    public int Dimension { get; } = dimension;

    public int Calls;

    public int Sessions;

    public float[] VectorOf(string text)
    {
        var random = new Random((int)StableHash.Fnv1a(text));
        return Enumerable.Range(0, Dimension).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    public IEmbeddingSession Create(string device)
    {
        Interlocked.Increment(ref Sessions);
        return new Session(this);
    }

    private sealed class Session(HashingEncoder owner) : IEmbeddingSession
    {
        public float[][] Embed(IReadOnlyList<string> texts)
        {
            Interlocked.Increment(ref owner.Calls);
            return texts.Select(owner.VectorOf).ToArray();
        }

        public EmbeddingSettings Settings => new() { Model = "hashing", Pooling = "mean", Normalize = false, Dimension = owner.Dimension };

        public void Dispose()
        {
        }
    }
}
