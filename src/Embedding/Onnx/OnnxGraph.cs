namespace WalsCluster.Embedding.Onnx;

/// <summary>One node of an ONNX graph: what the structural search needs of a NodeProto.</summary>
public sealed record OnnxNode(string OpType, string Domain, string Name, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>
/// The nodes, inputs, outputs and initializer names of an ONNX model's main graph, read from the
/// ModelProto bytes (onnx.proto field numbers: ModelProto.graph = 7; GraphProto.node = 1,
/// initializer = 5, input = 11, output = 12; NodeProto.input = 1, output = 2, name = 3, op_type = 4,
/// domain = 7; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1;
/// TensorProto.name = 8, data_location = 14, where 1 = EXTERNAL).
/// </summary>
public sealed class OnnxGraph
{
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int GraphInput = 11;
    private const int GraphOutput = 12;

    /// <summary>TensorProto.DataType FLOAT16 and BFLOAT16.</summary>
    public const int Float16 = 10, BFloat16 = 16;

    private OnnxGraph(IReadOnlyList<OnnxNode> nodes, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, IReadOnlySet<string> initializers,
        IReadOnlyDictionary<string, int> outputTypes, IReadOnlyList<string> externalInitializers)
    {
        Nodes = nodes;
        Inputs = inputs;
        Outputs = outputs;
        Initializers = initializers;
        OutputElementTypes = outputTypes;
        ExternalInitializers = externalInitializers;
    }

    /// <summary>The declared element type (TensorProto.DataType: 1 float, 10 float16, ...) of each graph output that declares one.</summary>
    public IReadOnlyDictionary<string, int> OutputElementTypes { get; }

    /// <summary>Initializers whose data lies in an external file (exports over 2 GB), which a model loaded from memory cannot reach.</summary>
    public IReadOnlyList<string> ExternalInitializers { get; }

    /// <summary>Nodes in file order, which ONNX requires to be topological.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>Graph inputs that are not initializers (the feeds).</summary>
    public IReadOnlyList<string> Inputs { get; }

    public IReadOnlyList<string> Outputs { get; }

    public IReadOnlySet<string> Initializers { get; }

    public static OnnxGraph Parse(ReadOnlyMemory<byte> model)
    {
        var graph = FindGraph(model);
        var nodes = new List<OnnxNode>();
        var inputs = new List<string>();
        var outputs = new List<string>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var outputTypes = new Dictionary<string, int>(StringComparer.Ordinal);
        var external = new List<string>();
        foreach (var f in ProtoReader.ReadFields(graph.Payload))
        {
            switch (f.Number)
            {
                case GraphNode:
                    nodes.Add(ParseNode(f.Payload));
                    break;
                case GraphInitializer:
                    string name = "";
                    var isExternal = false;
                    foreach (var t in ProtoReader.ReadFields(f.Payload))
                    {
                        if (t.Number == 8)
                        {
                            name = t.AsString();
                        }
                        else if (t.Number == 14 && t.Type == WireType.Varint && t.Varint == 1)
                        {
                            isExternal = true;
                        }
                    }
                    initializers.Add(name);
                    if (isExternal)
                    {
                        external.Add(name);
                    }
                    break;
                case GraphInput:
                    inputs.Add(ValueInfoName(f.Payload));
                    break;
                case GraphOutput:
                    var output = ValueInfoName(f.Payload);
                    outputs.Add(output);
                    if (ValueInfoElementType(f.Payload) is { } type)
                    {
                        outputTypes[output] = type;
                    }
                    break;
            }
        }
        inputs.RemoveAll(initializers.Contains);
        return new OnnxGraph(nodes, inputs, outputs, initializers, outputTypes, external);
    }

    /// <summary>ValueInfoProto.type.tensor_type.elem_type, when present.</summary>
    private static int? ValueInfoElementType(ReadOnlyMemory<byte> payload)
    {
        foreach (var f in ProtoReader.ReadFields(payload))
        {
            if (f.Number != 2 || f.Type != WireType.LengthDelimited)
            {
                continue;
            }
            foreach (var t in ProtoReader.ReadFields(f.Payload))
            {
                if (t.Number != 1 || t.Type != WireType.LengthDelimited)
                {
                    continue;
                }
                foreach (var e in ProtoReader.ReadFields(t.Payload))
                {
                    if (e.Number == 1 && e.Type == WireType.Varint)
                    {
                        return (int)e.Varint;
                    }
                }
            }
        }
        return null;
    }

    /// <summary>
    /// Returns the model with extra float graph outputs appended (ValueInfoProto with elem_type FLOAT and no
    /// shape, so ONNX Runtime infers it). Every other byte of the model is copied unchanged.
    /// </summary>
    public static byte[] WithExtraOutputs(ReadOnlyMemory<byte> model, IEnumerable<string> names)
    {
        var extra = new ProtoWriter();
        foreach (string name in names)
        {
            extra.Message(GraphOutput, vi =>
            {
                vi.String(1, name);
                vi.Message(2, type => type.Message(1, tensor => tensor.Int64(1, 1)));
            });
        }
        byte[] extraBytes = extra.ToArray();
        var graph = FindGraph(model);
        var span = model.Span;
        var w = new ProtoWriter(model.Length + extraBytes.Length + 16);
        w.RawBytes(span[..graph.Start]);
        w.Tag(ModelGraph, WireType.LengthDelimited);
        w.RawVarint((ulong)(graph.Payload.Length + extraBytes.Length));
        w.RawBytes(graph.Payload.Span);
        w.RawBytes(extraBytes);
        w.RawBytes(span[graph.End..]);
        return w.ToArray();
    }

    private static ProtoField FindGraph(ReadOnlyMemory<byte> model)
    {
        foreach (var f in ProtoReader.ReadFields(model))
        {
            if (f.Number == ModelGraph && f.Type == WireType.LengthDelimited)
            {
                return f;
            }
        }
        throw new InvalidDataException("The ONNX model has no graph (ModelProto field 7).");
    }

    private static OnnxNode ParseNode(ReadOnlyMemory<byte> payload)
    {
        var ins = new List<string>();
        var outs = new List<string>();
        string name = "", op = "", domain = "";
        foreach (var f in ProtoReader.ReadFields(payload))
        {
            switch (f.Number)
            {
                case 1: ins.Add(f.AsString()); break;
                case 2: outs.Add(f.AsString()); break;
                case 3: name = f.AsString(); break;
                case 4: op = f.AsString(); break;
                case 7: domain = f.AsString(); break;
            }
        }
        return new OnnxNode(op, domain, name, ins, outs);
    }

    private static string ValueInfoName(ReadOnlyMemory<byte> payload)
    {
        foreach (var f in ProtoReader.ReadFields(payload))
        {
            if (f.Number == 1)
            {
                return f.AsString();
            }
        }
        return "";
    }
}
