using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding.Tests;

public sealed class ModelCatalogTests : IClassFixture<TinyRobertaFixture>
{
    private readonly TinyRobertaFixture _tiny;

    public ModelCatalogTests(TinyRobertaFixture tiny) => _tiny = tiny;

    [Fact]
    public void A_roberta_folder_loads_with_byte_level_bpe_and_the_padding_offset_limit()
    {
        var model = ModelCatalog.Load(_tiny.Directory2);
        Assert.Equal("roberta", model.ModelType);
        var bpe = Assert.IsType<ByteLevelBpeTokenizer>(model.Tokenizer);
        Assert.Equal((0, 2, 1), (bpe.BeginId, bpe.EndId, bpe.PaddingId));
        Assert.Equal(64, bpe.ModelMaxLength);
    }

    [Fact]
    public void Minilm_loads_from_the_package_resources()
    {
        var model = ModelCatalog.Load("MiniLM");
        Assert.Equal("bert", model.ModelType);
        Assert.True(model.OnnxModel.Length > 80_000_000);
        var wordPiece = Assert.IsType<WordPieceTokenizer>(model.Tokenizer);
        Assert.Equal((101, 102, 0), (wordPiece.ClassificationTokenId, wordPiece.SeparatorTokenId, wordPiece.PaddingTokenId));
    }

    /// <summary>A model folder with the tiny model's graph, a WordPiece vocabulary of the BERT specials (ids 0-4) and then
    /// <paramref name="words"/>, and a bert config.json of 512 positions.</summary>
    private string BertFolder(string name, string words)
    {
        string dir = Path.Combine(_tiny.Root, name);
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(_tiny.Directory2, "model.onnx"), Path.Combine(dir, "model.onnx"), overwrite: true);
        File.WriteAllText(Path.Combine(dir, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" + words);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type":"bert","max_position_embeddings":512}""");
        return dir;
    }

    [Fact]
    public void A_wordpiece_folder_reads_lower_casing_and_limit_from_the_tokenizer_config()
    {
        string dir = BertFolder("bert-like", "hello\nHello\nworld\n");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case":false,"model_max_length":100}""");
        var cased = ModelCatalog.Load(dir).Tokenizer;
        Assert.Equal(100, cased.ModelMaxLength);
        Assert.Equal(new[] { 2, 6, 7, 3 }, cased.EncodeIds("Hello world", 128)); // cased: "Hello" = line 7
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case":true}""");
        var uncased = ModelCatalog.Load(dir).Tokenizer;
        Assert.Equal(512, uncased.ModelMaxLength);
        Assert.Equal(new[] { 2, 5, 7, 3 }, uncased.EncodeIds("Hello world", 128));
    }

    [Fact]
    public void Missing_files_and_fields_are_named_in_the_error()
    {
        string dir = Path.Combine(_tiny.Root, "broken");
        Directory.CreateDirectory(dir);
        Assert.Contains("model.onnx", Assert.Throws<FileNotFoundException>(() => ModelCatalog.Load(dir)).Message);
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), [1, 2, 3]);
        Assert.Contains("config.json", Assert.Throws<FileNotFoundException>(() => ModelCatalog.Load(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type":"roberta"}""");
        Assert.Contains("max_position_embeddings", Assert.Throws<InvalidDataException>(() => ModelCatalog.Load(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type":"roberta","max_position_embeddings":514}""");
        Assert.Contains("vocab", Assert.Throws<FileNotFoundException>(() => ModelCatalog.Load(dir)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => ModelCatalog.Load(Path.Combine(dir, "nope")));
    }

    [Fact]
    public void Config_values_of_the_wrong_json_type_are_named_with_the_file()
    {
        string dir = Path.Combine(_tiny.Root, "typed");
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(_tiny.Directory2))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        }
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, """{"model_type":"roberta","max_position_embeddings":"66","pad_token_id":1}""");
        var e = Assert.Throws<InvalidDataException>(() => ModelCatalog.Load(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("max_position_embeddings", e.Message);
        File.WriteAllText(config, """{"model_type":"roberta","max_position_embeddings":66,"pad_token_id":"one"}""");
        Assert.Contains("pad_token_id", Assert.Throws<InvalidDataException>(() => ModelCatalog.Load(dir)).Message);
        File.WriteAllText(config, """{"model_type":"roberta","max_position_embeddings":66,""");
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => ModelCatalog.Load(dir)).Message);
        // null means "not set": the default padding index 1, and no tokenizer limit below the model's.
        File.WriteAllText(config, """{"model_type":"roberta","max_position_embeddings":66,"pad_token_id":null}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"model_max_length":null}""");
        Assert.Equal(64, ModelCatalog.Load(dir).Tokenizer.ModelMaxLength);
    }

    [Fact]
    public void Strip_accents_in_the_tokenizer_config_overrides_the_lower_casing_default()
    {
        string dir = BertFolder("accents", "cafe\n");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case":true}""");
        Assert.Equal(new[] { 2, 5, 3 }, ModelCatalog.Load(dir).Tokenizer.EncodeIds("Café", 128));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case":true,"strip_accents":false}""");
        Assert.Equal(new[] { 2, 1, 3 }, ModelCatalog.Load(dir).Tokenizer.EncodeIds("Café", 128));
    }
}
