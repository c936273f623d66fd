using System.Numerics.Tensors;
using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding;

/// <summary>
/// Hidden states of one batch as returned by ONNX Runtime. <see cref="Layers"/> are the tapped hidden states in
/// model order (the last is last_hidden_state), each row-major [batch, sequence, hidden].
/// </summary>
public sealed record EncoderOutputs(TokenBatch Batch, int Hidden, IReadOnlyList<float[]> Layers, float[]? Pooler);

/// <summary>Pure pooling functions from <see cref="EncoderOutputs"/> to one vector per text.</summary>
public static class Pooling
{
    public static float[][] Pool(EncoderOutputs outputs, PoolingOptions options)
    {
        var batch = outputs.Batch;
        int h = outputs.Hidden, seq = batch.SequenceLength;
        var result = new float[batch.BatchSize][];
        var last = outputs.Layers[^1];
        float[] weights = options.EffectiveWeights();
        if (options.Mode == PoolingMode.Layers && outputs.Layers.Count < weights.Length)
        {
            throw new ArgumentException($"{weights.Length} layers requested, {outputs.Layers.Count} provided.");
        }
        for (int b = 0; b < batch.BatchSize; b++)
        {
            var v = new float[h];
            switch (options.Mode)
            {
                case PoolingMode.Cls:
                    last.AsSpan((b * seq) * h, h).CopyTo(v);
                    break;
                case PoolingMode.Mean:
                    MaskedMean(last, batch, b, h, 1f, v);
                    break;
                case PoolingMode.Layers:
                    // Weighted sum and masked mean commute: v = sum_j w_j mean_t(H_j[t]).
                    for (int j = 0; j < weights.Length; j++)
                    {
                        MaskedMean(outputs.Layers[outputs.Layers.Count - 1 - j], batch, b, h, weights[j], v);
                    }
                    break;
                case PoolingMode.Pooler:
                    if (outputs.Pooler is null)
                    {
                        throw new InvalidOperationException("pooling 'pooler' needs a pooler_output, which this model does not have.");
                    }
                    outputs.Pooler.AsSpan(b * h, h).CopyTo(v);
                    break;
            }
            if (options.Normalize)
            {
                float norm = TensorPrimitives.Norm(v);
                if (norm > 0f)
                {
                    TensorPrimitives.Divide(v, norm, v);
                }
            }
            result[b] = v;
        }
        return result;
    }

    /// <summary>Adds weight * sum_t m_t H[b, t] / sum_t m_t to <paramref name="into"/>.</summary>
    private static void MaskedMean(float[] layer, TokenBatch batch, int b, int h, float weight, Span<float> into)
    {
        int seq = batch.SequenceLength;
        int count = 0;
        for (int t = 0; t < seq; t++)
        {
            if (batch.AttentionMask[b * seq + t] != 0)
            {
                count++;
            }
        }
        if (count == 0)
        {
            return;
        }
        float scale = weight / count;
        for (int t = 0; t < seq; t++)
        {
            if (batch.AttentionMask[b * seq + t] != 0)
            {
                // into += scale * H[b, t]
                TensorPrimitives.MultiplyAdd(layer.AsSpan((b * seq + t) * h, h), scale, into, into);
            }
        }
    }

    /// <summary>Cosine similarity of two vectors.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.CosineSimilarity(a, b);
}
