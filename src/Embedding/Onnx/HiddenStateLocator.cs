namespace WalsCluster.Embedding.Onnx;

/// <summary>
/// Finds the hidden states of a Hugging Face encoder export by graph structure, so that it works when
/// tensor names are numbers (the MiniLM export) as well as when they are readable.
/// <para>
/// Every layer normalisation is recognised, either as one node (<c>LayerNormalization</c>, opset 17, or
/// ORT's fused <c>SkipLayerNormalization</c>) or as the decomposition torch.onnx emits below opset 17:
/// <c>m = ReduceMean(x); d = Sub(x, m); ...; n = Div(d, Sqrt(...)); y = Add(Mul(n, gamma), beta)</c>,
/// whose output is the final Add. In a post-LN transformer (BERT, RoBERTa, MiniLM) the normalisations
/// come in the order embeddings, then per block (attention output, feed-forward output). A block's
/// attention-output normalisation is preceded by a Softmax (or a fused Attention node) since the previous
/// normalisation; the embedding and feed-forward normalisations are not. The latter are exactly
/// Hugging Face's <c>hidden_states[0..L]</c>, and the last one is <c>last_hidden_state</c>.
/// </para>
/// </summary>
public static class HiddenStateLocator
{
    private static readonly HashSet<string> AttentionOps = new(StringComparer.Ordinal) { "Softmax", "Attention", "MultiHeadAttention" };

    /// <summary>Tensor names of hidden_states[0..L] in order (embedding output first).</summary>
    public static IReadOnlyList<string> Find(OnnxGraph graph)
    {
        var nodes = graph.Nodes;
        var consumers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string input in nodes[i].Inputs)
            {
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = new List<int>();
                }
                list.Add(i);
            }
        }

        // (index of the first node of the normalisation, index of its last node, output tensor)
        var norms = new List<(int First, int Last, string Output)>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            if (n.OpType is "LayerNormalization" or "SkipLayerNormalization" && n.Outputs.Count > 0)
            {
                norms.Add((i, i, n.Outputs[0]));
            }
            else if (n.OpType == "ReduceMean" && n.Inputs.Count > 0 && TryDecomposedNorm(nodes, consumers, i, out int last, out string output))
            {
                norms.Add((i, last, output));
            }
        }
        if (norms.Count == 0)
        {
            throw new InvalidDataException("No layer normalisation found in the ONNX graph: cannot locate the encoder's hidden states.");
        }

        var hidden = new List<string>();
        int previousEnd = -1;
        foreach (var norm in norms)
        {
            bool attentionBefore = false;
            for (int j = previousEnd + 1; j < norm.First; j++)
            {
                if (AttentionOps.Contains(nodes[j].OpType))
                {
                    attentionBefore = true;
                    break;
                }
            }
            if (!attentionBefore)
            {
                hidden.Add(norm.Output);
            }
            previousEnd = norm.Last;
        }

        if (graph.Outputs.Contains("last_hidden_state") && hidden[^1] != "last_hidden_state")
        {
            throw new InvalidDataException(
                $"The last block output found by structure is tensor '{hidden[^1]}', not the graph output 'last_hidden_state': " +
                "the graph is not a post-LN encoder this locator understands.");
        }
        return hidden;
    }

    private static bool TryDecomposedNorm(IReadOnlyList<OnnxNode> nodes, Dictionary<string, List<int>> consumers, int reduceMean, out int last, out string output)
    {
        last = -1;
        output = "";
        string x = nodes[reduceMean].Inputs[0];
        string mean = nodes[reduceMean].Outputs[0];
        int sub = Single(nodes, consumers, mean, n => n.OpType == "Sub" && n.Inputs.Count == 2 && n.Inputs[0] == x && n.Inputs[1] == mean);
        if (sub < 0)
        {
            return false;
        }
        string centred = nodes[sub].Outputs[0];
        int div = Single(nodes, consumers, centred, n => n.OpType == "Div" && n.Inputs[0] == centred);
        if (div < 0)
        {
            return false;
        }
        int mul = Single(nodes, consumers, nodes[div].Outputs[0], n => n.OpType == "Mul");
        if (mul < 0)
        {
            return false;
        }
        int add = Single(nodes, consumers, nodes[mul].Outputs[0], n => n.OpType == "Add");
        if (add < 0)
        {
            return false;
        }
        last = add;
        output = nodes[add].Outputs[0];
        return true;
    }

    private static int Single(IReadOnlyList<OnnxNode> nodes, Dictionary<string, List<int>> consumers, string tensor, Func<OnnxNode, bool> match)
    {
        if (!consumers.TryGetValue(tensor, out var list))
        {
            return -1;
        }
        int found = -1;
        foreach (int i in list)
        {
            if (match(nodes[i]))
            {
                if (found >= 0)
                {
                    return -1;
                }
                found = i;
            }
        }
        return found;
    }

    /// <summary>The pooler output (graph output named pooler_output, else a graph output produced by Tanh), or null.</summary>
    public static string? FindPooler(OnnxGraph graph)
    {
        if (graph.Outputs.Contains("pooler_output"))
        {
            return "pooler_output";
        }
        foreach (var n in graph.Nodes)
        {
            if (n.OpType == "Tanh" && n.Outputs.Count > 0 && graph.Outputs.Contains(n.Outputs[0]))
            {
                return n.Outputs[0];
            }
        }
        return null;
    }
}
