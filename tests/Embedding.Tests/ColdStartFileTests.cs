using WalsCluster.Core.Data;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Embedding.Tests;

/// <summary>Item-text sources and the embeddings file.</summary>
public sealed class ColdStartFileTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "wals-coldstart-files-" + Guid.NewGuid().ToString("N"));

    public ColdStartFileTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Csv_reads_quoted_text_with_commas_and_quotes_in_any_column_order()
    {
        var path = Write("items.csv", "extra,text,id\nx,\"A film, with \"\"quotes\"\"\",7\ny,plain,b-2\n\nz,,3\n");
        var records = ItemTextFile.Read(path);
        Assert.Equal([new ItemTextRecord("7", "A film, with \"quotes\""), new ItemTextRecord("b-2", "plain"), new ItemTextRecord("3", "")], records);
    }

    [Fact]
    public void Csv_without_the_id_and_text_columns_names_the_header()
    {
        var path = Write("bad-header.csv", "item,description\n1,x\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal("bad-header.csv", e.File);
        Assert.Equal(1, e.Line);
        Assert.Contains("'id' and 'text'", e.Message);
    }

    [Fact]
    public void Csv_duplicate_id_names_both_lines()
    {
        var path = Write("dup.csv", "id,text\n1,a\n2,b\n1,c\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal(4, e.Line);
        Assert.Equal("id", e.Field);
        Assert.Contains("first on line 2", e.Message);
    }

    [Fact]
    public void Csv_row_without_the_text_field_names_line_and_field()
    {
        var path = Write("short.csv", "id,text\n1,a\n2\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal(3, e.Line);
        Assert.Equal("text", e.Field);
    }

    [Fact]
    public void Csv_unterminated_quote_is_an_error_on_its_line()
    {
        var path = Write("quote.csv", "id,text\n1,\"open\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Json_lines_accept_string_and_number_ids_and_skip_blank_lines()
    {
        var path = Write("items.jsonl", "{\"id\": 12, \"text\": \"Heat (1995)\", \"other\": true}\n\n{\"text\": \"\\u00e9t\\u00e9\", \"id\": \"x\"}\n");
        var records = ItemTextFile.Read(path);
        Assert.Equal([new ItemTextRecord("12", "Heat (1995)"), new ItemTextRecord("x", "été")], records);
    }

    [Theory]
    [InlineData("{\"id\": 1}", "text", "missing")]
    [InlineData("{\"text\": \"a\"}", "id", "missing")]
    [InlineData("{\"id\": 1, \"text\": null}", "text", "must be a string")]
    [InlineData("{\"id\": [1], \"text\": \"a\"}", "id", "must be a string or a number")]
    [InlineData("{\"id\": 1, \"text\": \"a\"", null, "not valid JSON")]
    [InlineData("[1, \"a\"]", null, "expected a JSON object")]
    public void Json_lines_errors_name_line_and_field(string badLine, string? field, string reason)
    {
        var path = Write("bad.jsonl", "{\"id\": 0, \"text\": \"ok\"}\n" + badLine + "\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal("bad.jsonl", e.File);
        Assert.Equal(2, e.Line);
        Assert.Equal(field, e.Field);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Json_lines_escaped_lone_surrogates_become_the_replacement_character_in_a_text_and_an_error_in_an_id()
    {
        var path = Write("surrogates.jsonl", "{\"id\": \"1\", \"text\": \"bad \\ud800 x \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\n\"}\n");
        Assert.Equal([new ItemTextRecord("1", "bad \uFFFD x \uD83D\uDE00 \"q\" \\ / \n")], ItemTextFile.Read(path));
        path = Write("surrogate-id.jsonl", "{\"id\": \"a\", \"text\": \"ok\"}\n{\"id\": \"\\udc00\", \"text\": \"x\"}\n");
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal((2L, "id"), (e.Line, e.Field));
        Assert.Contains("surrogate", e.Message);
    }

    [Fact]
    public void Json_lines_invalid_utf8_is_reported_on_its_own_line()
    {
        var path = Path.Combine(_root, "latin1.jsonl");
        var lines = Enumerable.Range(1, 29).Select(i => System.Text.Encoding.UTF8.GetBytes($"{{\"id\": {i}, \"text\": \"caf\u00e9 {i}\"}}\n"));
        File.WriteAllBytes(path, lines.SelectMany(b => b).Concat("{\"id\": 30, \"text\": \"caf"u8.ToArray()).Concat(new byte[] { 0xE9, (byte)'"', (byte)'}', (byte)'\n' }).ToArray());
        var e = Assert.Throws<DataFormatException>(() => ItemTextFile.Read(path));
        Assert.Equal(30, e.Line);
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void A_movielens_source_without_a_folder_is_a_clear_error()
    {
        Assert.Contains("needs a folder", Assert.Throws<DataFormatException>(() => ItemTextFile.Read("movielens:")).Message);
    }

    [Fact]
    public void Written_csv_reads_back_with_line_breaks_flattened()
    {
        var records = new[] { new ItemTextRecord("1", "two\nlines, \"quoted\""), new ItemTextRecord("2", "tab\there") };
        var path = Path.Combine(_root, "sub", "written.csv");
        ItemTextFile.WriteCsv(records, path);
        Assert.Equal([new ItemTextRecord("1", "two lines, \"quoted\""), new ItemTextRecord("2", "tab here")], ItemTextFile.Read(path));
    }

    [Fact]
    public void MovieLens_folder_gives_title_genres_and_tags_per_movie()
    {
        var dir = Path.Combine(_root, "ml");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "movies.csv"), "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,\"American President, The (1995)\",(no genres listed)\n");
        File.WriteAllText(Path.Combine(dir, "tags.csv"), "userId,movieId,tag,timestamp\n5,1,pixar,1\n6,1,Pixar,2\n6,1,fun,3\n");
        var records = ItemTextFile.Read("movielens:" + dir).ToDictionary(r => r.Id, r => r.Text);
        Assert.Equal("Toy Story (1995). Genres: Adventure, Animation. Tags: pixar, fun.", records["1"]);
        Assert.Equal("American President, The (1995).", records["2"]);
    }

    private static ItemEmbeddings Sample(int n, int d)
    {
        var rng = new Random(n * 31 + d);
        var ids = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? $"é-{i}" : $"item {i}").ToArray();
        var vectors = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()).ToArray();
        return ItemEmbeddings.Create(ids, vectors, new EmbeddingSettings { Model = "minilm", Pooling = "layers", LayerCount = 4, MaxLength = 128, Dimension = d });
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(1, 1)]
    [InlineData(17, 384)]
    public void Embeddings_file_round_trips_ids_vectors_and_settings(int n, int d)
    {
        var embeddings = Sample(n, d);
        var path = Path.Combine(_root, $"e{n}x{d}.wemb");
        EmbeddingFile.Write(embeddings, path);
        Assert.True(EmbeddingFile.IsEmbeddingFile(path));
        var read = EmbeddingFile.Read(path);
        Assert.Equal(embeddings.Ids, read.Ids);
        Assert.Equal(embeddings.Vectors, read.Vectors);
        Assert.Equal(embeddings.Settings with { LayerWeights = null }, read.Settings with { LayerWeights = null });
        Assert.Equal(0, (new FileInfo(path).Length - 4L * n * d) % 4);
    }

    [Fact]
    public void An_embeddings_file_with_an_id_twice_is_rejected_naming_both_rows()
    {
        var sample = Sample(4, 3);
        var ids = sample.Ids.ToArray();
        ids[3] = ids[1];
        var path = Path.Combine(_root, "dup.wemb");
        EmbeddingFile.Write(sample with { Ids = ids }, path);
        var e = Assert.Throws<InvalidDataException>(() => EmbeddingFile.Read(path));
        Assert.Contains("dup.wemb", e.Message);
        Assert.Contains("row 3 and in row 1", e.Message);
    }

    [Fact]
    public void Truncated_or_foreign_embeddings_files_are_rejected_by_name()
    {
        var path = Path.Combine(_root, "t.wemb");
        EmbeddingFile.Write(Sample(5, 8), path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        var truncated = Assert.Throws<InvalidDataException>(() => EmbeddingFile.Read(path));
        Assert.Contains("t.wemb", truncated.Message);
        bytes[8..12].AsSpan().Clear();
        BitConverter.GetBytes(int.MaxValue).CopyTo(bytes, 8); // n: more rows than the file could hold
        File.WriteAllBytes(path, bytes);
        Assert.Contains("inconsistent", Assert.Throws<InvalidDataException>(() => EmbeddingFile.Read(path)).Message);
        var foreign = Write("f.wemb", "id,text\n1,a\n");
        Assert.False(EmbeddingFile.IsEmbeddingFile(foreign));
        Assert.Contains("not an embeddings file", Assert.Throws<InvalidDataException>(() => EmbeddingFile.Read(foreign)).Message);
    }
}
