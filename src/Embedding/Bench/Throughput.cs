using System.Diagnostics;

namespace WalsCluster.Embedding.Bench;

/// <summary>A throughput measurement: texts per second over the timed batches (after warm-up), with mean tokens per text.</summary>
public sealed record ThroughputResult(int Texts, int BatchSize, double Seconds, double TextsPerSecond, double MeanTokens, string Device);

/// <summary>Measures how many texts per second an encoder embeds at a batch size (tokenization included).</summary>
public static class Throughput
{
    public static ThroughputResult Measure(TextEncoder encoder, IReadOnlyList<string> texts, int batchSize, int warmupBatches = 1, BatchOrder order = BatchOrder.ByLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (texts.Count == 0)
        {
            throw new ArgumentException("No texts to measure.", nameof(texts));
        }
        for (int i = 0; i < warmupBatches; i++)
        {
            encoder.Embed(texts.Take(batchSize).ToArray());
        }
        long tokens = 0;
        foreach (string t in texts)
        {
            tokens += encoder.Tokenizer.EncodeIds(t, encoder.Info.MaxLength).Count;
        }
        var sw = Stopwatch.StartNew();
        var vectors = encoder.EmbedAll(texts, batchSize, order: order);
        sw.Stop();
        if (vectors.Length != texts.Count)
        {
            throw new InvalidOperationException($"{vectors.Length} vectors for {texts.Count} texts.");
        }
        double seconds = sw.Elapsed.TotalSeconds;
        return new ThroughputResult(texts.Count, batchSize, seconds, texts.Count / seconds, (double)tokens / texts.Count, encoder.Info.Device);
    }
}
