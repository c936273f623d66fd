using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding.Models;

/// <summary>
/// A loaded encoder: its ONNX graph bytes, its tokenizer and what config.json says about it.
/// </summary>
/// <param name="Name">Catalogue name ("minilm") or the model folder.</param>
/// <param name="ModelType">config.json model_type ("bert", "roberta", ...).</param>
/// <param name="OnnxModel">The model.onnx bytes (a Hugging Face encoder export).</param>
/// <param name="Tokenizer">The model's tokenizer; its ModelMaxLength is the position limit.</param>
public sealed record EncoderModel(string Name, string ModelType, byte[] OnnxModel, ITextTokenizer Tokenizer);
