using WalsCluster.Embedding.Synthetic;

namespace WalsCluster.Embedding.Tests;

/// <summary>
/// A plain C# forward pass of the synthetic RoBERTa (double precision, no shared code with the ONNX builder
/// beyond the weights): Hugging Face RobertaModel semantics, post-LN blocks, GELU with erf, additive mask -10000.
/// Returns hidden_states[0..L], each [batch, sequence, hidden].
/// </summary>
internal static class RobertaReference
{
    public static double[][] HiddenStates(RobertaWeights w, long[] ids, long[] mask, int batch, int seq)
    {
        var s = w.Shape;
        int h = s.Hidden;
        var states = new List<double[]>();
        var x = new double[batch * seq * h];
        for (int b = 0; b < batch; b++)
        {
            long count = 0;
            for (int t = 0; t < seq; t++)
            {
                long id = ids[b * seq + t];
                // create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad
                long position = s.PaddingIdx;
                if (id != s.PaddingIdx)
                {
                    count++;
                    position = s.PaddingIdx + count;
                }
                for (int c = 0; c < h; c++)
                {
                    x[(b * seq + t) * h + c] = w.WordEmbeddings[id * h + c] + w.PositionEmbeddings[position * h + c] + w.TokenType0[c];
                }
            }
        }
        x = LayerNorm(x, w.EmbLnGamma, w.EmbLnBeta, h, s.LayerNormEps);
        states.Add(x);
        foreach (var layer in w.Layers)
        {
            var q = Linear(x, layer.Wq, layer.Bq, h, h);
            var k = Linear(x, layer.Wk, layer.Bk, h, h);
            var v = Linear(x, layer.Wv, layer.Bv, h, h);
            var context = new double[batch * seq * h];
            int hd = s.HeadSize;
            for (int b = 0; b < batch; b++)
            {
                for (int head = 0; head < s.Heads; head++)
                {
                    for (int i = 0; i < seq; i++)
                    {
                        var scores = new double[seq];
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < seq; j++)
                        {
                            double dot = 0;
                            for (int c = 0; c < hd; c++)
                            {
                                dot += q[(b * seq + i) * h + head * hd + c] * k[(b * seq + j) * h + head * hd + c];
                            }
                            scores[j] = dot / Math.Sqrt(hd) + (1 - mask[b * seq + j]) * -10000.0;
                            max = Math.Max(max, scores[j]);
                        }
                        double z = 0;
                        for (int j = 0; j < seq; j++)
                        {
                            scores[j] = Math.Exp(scores[j] - max);
                            z += scores[j];
                        }
                        for (int c = 0; c < hd; c++)
                        {
                            double acc = 0;
                            for (int j = 0; j < seq; j++)
                            {
                                acc += scores[j] / z * v[(b * seq + j) * h + head * hd + c];
                            }
                            context[(b * seq + i) * h + head * hd + c] = acc;
                        }
                    }
                }
            }
            var attn = Linear(context, layer.Wo, layer.Bo, h, h);
            for (int i = 0; i < attn.Length; i++)
            {
                attn[i] += x[i];
            }
            var a = LayerNorm(attn, layer.AttnLnGamma, layer.AttnLnBeta, h, s.LayerNormEps);
            var up = Linear(a, layer.W1, layer.B1, h, s.Intermediate);
            for (int i = 0; i < up.Length; i++)
            {
                up[i] = 0.5 * up[i] * (1 + Erf(up[i] / Math.Sqrt(2)));
            }
            var down = Linear(up, layer.W2, layer.B2, s.Intermediate, h);
            for (int i = 0; i < down.Length; i++)
            {
                down[i] += a[i];
            }
            x = LayerNorm(down, layer.OutLnGamma, layer.OutLnBeta, h, s.LayerNormEps);
            states.Add(x);
        }
        return states.ToArray();
    }

    /// <summary>pooler_output = tanh(h_0 W + b) of the last layer's first token.</summary>
    public static double[] Pooler(RobertaWeights w, double[] last, int batch, int seq)
    {
        int h = w.Shape.Hidden;
        var first = new double[batch * h];
        for (int b = 0; b < batch; b++)
        {
            Array.Copy(last, b * seq * h, first, b * h, h);
        }
        var p = Linear(first, w.PoolerW, w.PoolerB, h, h);
        return p.Select(Math.Tanh).ToArray();
    }

    private static double[] Linear(double[] x, float[] weight, float[] bias, int inDim, int outDim)
    {
        int rows = x.Length / inDim;
        var y = new double[rows * outDim];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outDim; o++)
            {
                double acc = bias[o];
                for (int i = 0; i < inDim; i++)
                {
                    acc += x[r * inDim + i] * weight[i * outDim + o];
                }
                y[r * outDim + o] = acc;
            }
        }
        return y;
    }

    private static double[] LayerNorm(double[] x, float[] gamma, float[] beta, int h, float eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / h; r++)
        {
            double mean = 0, var = 0;
            for (int c = 0; c < h; c++)
            {
                mean += x[r * h + c];
            }
            mean /= h;
            for (int c = 0; c < h; c++)
            {
                double d = x[r * h + c] - mean;
                var += d * d;
            }
            var /= h;
            for (int c = 0; c < h; c++)
            {
                y[r * h + c] = (x[r * h + c] - mean) / Math.Sqrt(var + eps) * gamma[c] + beta[c];
            }
        }
        return y;
    }

    /// <summary>erf by Abramowitz-Stegun 7.1.26 is too coarse (1.5e-7 is fine, but use the series/continued form for 1e-12).</summary>
    private static double Erf(double x)
    {
        // High-precision erf: series for |x| < 3, complementary continued fraction beyond.
        double ax = Math.Abs(x);
        double result;
        if (ax < 3)
        {
            double sum = ax, term = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17)
                {
                    break;
                }
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc(x) = exp(-x^2)/(x sqrt(pi)) * 1/(1+ 1/(2x^2)/(1+2/(2x^2)/(1+...))) via Lentz-free backward evaluation.
            double f = 0;
            for (int n = 60; n >= 1; n--)
            {
                f = n / 2.0 / (ax + f);
            }
            result = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        }
        return x < 0 ? -result : result;
    }
}
