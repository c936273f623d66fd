using System.Runtime.InteropServices;

namespace WalsCluster.Embedding.Onnx;

/// <summary>
/// Writes small ONNX models from C# (used for the synthetic RoBERTa). Field numbers from onnx.proto:
/// ModelProto ir_version = 1, producer_name = 2, graph = 7, opset_import = 8; GraphProto node = 1, name = 2,
/// initializer = 5, input = 11, output = 12; NodeProto input = 1, output = 2, name = 3, op_type = 4,
/// attribute = 5; AttributeProto name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20; TensorProto dims = 1,
/// data_type = 2, name = 8, raw_data = 9; ValueInfoProto name = 1, type = 2; TypeProto tensor_type = 1;
/// TypeProto.Tensor elem_type = 1, shape = 2; TensorShapeProto dim = 1; Dimension dim_value = 1, dim_param = 2.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    public const int Float = 1;
    public const int Int64 = 7;
    public const int Bool = 9;

    private readonly ProtoWriter _graph = new(1 << 16);
    private readonly List<Action<ProtoWriter>> _ios = new();
    private int _counter;

    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        CheckCount(name, data.Length, dims);
        byte[] raw = MemoryMarshal.AsBytes(data).ToArray();
        WriteTensor(name, Float, raw, dims);
        return name;
    }

    public string InitializerInt64(string name, ReadOnlySpan<long> data, params long[] dims)
    {
        CheckCount(name, data.Length, dims);
        byte[] raw = MemoryMarshal.AsBytes(data).ToArray();
        WriteTensor(name, Int64, raw, dims);
        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params (string Name, object Value)[] attributes) =>
        NamedNode($"{opType.ToLowerInvariant()}_{_counter++}", opType, inputs, attributes);

    /// <summary>Adds a node whose one output has the given name.</summary>
    public string NamedNode(string output, string opType, string[] inputs, params (string Name, object Value)[] attributes)
    {
        _graph.Message(1, n =>
        {
            foreach (string i in inputs)
            {
                n.String(1, i);
            }
            n.String(2, output);
            n.String(3, output + "_node");
            n.String(4, opType);
            foreach (var (name, value) in attributes)
            {
                n.Message(5, a =>
                {
                    a.String(1, name);
                    switch (value)
                    {
                        case long l: a.Int64(3, l); a.Int64(20, 2); break;
                        case int l: a.Int64(3, l); a.Int64(20, 2); break;
                        case float f: a.Float(2, f); a.Int64(20, 1); break;
                        case long[] ls: a.PackedInt64(8, ls); a.Int64(20, 7); break;
                        default: throw new ArgumentException($"Unsupported attribute type {value.GetType()} for {name}.");
                    }
                });
            }
        });
        return output;
    }

    /// <summary>Renames a node output by an Identity node, for graph outputs with fixed names.</summary>
    public void Alias(string source, string name)
    {
        _graph.Message(1, n =>
        {
            n.String(1, source);
            n.String(2, name);
            n.String(3, name + "_identity");
            n.String(4, "Identity");
        });
    }

    public void Input(string name, int elemType, params object[] dims) => _ios.Add(g => g.Message(11, vi => ValueInfo(vi, name, elemType, dims)));

    public void Output(string name, int elemType, params object[] dims) => _ios.Add(g => g.Message(12, vi => ValueInfo(vi, name, elemType, dims)));

    public byte[] Build(string graphName, int opset)
    {
        foreach (var io in _ios)
        {
            io(_graph);
        }
        _graph.String(2, graphName);
        byte[] graphBytes = _graph.ToArray();
        var model = new ProtoWriter(graphBytes.Length + 64);
        model.Int64(1, 8);
        model.String(2, "WalsCluster.Embedding");
        model.Message(8, o =>
        {
            o.String(1, "");
            o.Int64(2, opset);
        });
        model.Bytes(7, graphBytes);
        return model.ToArray();
    }

    private void WriteTensor(string name, int dataType, byte[] raw, long[] dims)
    {
        _graph.Message(5, t =>
        {
            t.PackedInt64(1, dims);
            t.Int64(2, dataType);
            t.String(8, name);
            t.Bytes(9, raw);
        });
    }

    private static void ValueInfo(ProtoWriter vi, string name, int elemType, object[] dims)
    {
        vi.String(1, name);
        vi.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int64(1, elemType);
            tensor.Message(2, shape =>
            {
                foreach (object d in dims)
                {
                    shape.Message(1, dim =>
                    {
                        if (d is string s)
                        {
                            dim.String(2, s);
                        }
                        else
                        {
                            dim.Int64(1, Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture));
                        }
                    });
                }
            });
        }));
    }

    private static void CheckCount(string name, int count, long[] dims)
    {
        long expected = 1;
        foreach (long d in dims)
        {
            expected *= d;
        }
        if (expected != count)
        {
            throw new ArgumentException($"Initializer {name}: {count} values for shape [{string.Join(",", dims)}].");
        }
    }
}
