using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;

namespace WalsCluster.Embedding.Tests;

/// <summary>The structured features appended to text vectors (genres, decade of the title's year, tag count).</summary>
public sealed class MetadataFeaturesTests
{
    private static ItemText Item(string id, string? title, string[] genres, int tags = 0) =>
        new(id, title, genres, Enumerable.Range(0, tags).Select(t => $"tag{t}").ToArray());

    private static readonly ItemText[] Catalogue =
    [
        Item("1", "Toy Story (1995)", ["Animation", "Comedy"], tags: 3),
        Item("2", "(500) Days of Summer (2009)", ["Romance", "Comedy"]),
        Item("3", "Metropolis (1927) ", ["Sci-Fi"], tags: 1),
        Item("4", "Babylon 5", []),
    ];

    [Theory]
    [InlineData("Toy Story (1995)", 1995)]
    [InlineData("(500) Days of Summer (2009)", 2009)]
    [InlineData("Metropolis (1927) ", 1927)]
    [InlineData("Babylon 5", null)]
    [InlineData("Year (95)", null)]
    [InlineData("Film (\u0661\u0669\u0669\u0665)", null)] // Arabic-Indic digits are not a year (and no longer throw)
    [InlineData(null, null)]
    public void Year_is_the_titles_trailing_four_digits_in_brackets(string? title, int? year) =>
        Assert.Equal(year, MetadataFeatures.Year(title));

    [Fact]
    public void Vocabulary_is_the_sorted_genres_and_the_decades_from_the_earliest_year_to_the_latest()
    {
        var features = MetadataFeatures.Of(Catalogue);
        Assert.Equal(["Animation", "Comedy", "Romance", "Sci-Fi"], features.Genres);
        Assert.Equal(1920, features.FirstDecade);
        Assert.Equal(9, features.Decades); // 1920s .. 2000s
        Assert.Equal(4 + 9 + 1, features.Count);

        var none = MetadataFeatures.Of([Item("x", "No year", [])]);
        Assert.Equal(0, none.Decades);
        Assert.Equal(1, none.Count);
    }

    [Fact]
    public void Features_are_genre_and_decade_indicators_and_log_one_plus_tags()
    {
        var features = MetadataFeatures.Of(Catalogue);
        var row = new float[features.Count];
        features.Write(Catalogue[0], row);
        var expected = new float[features.Count];
        expected[0] = expected[1] = 1; // Animation, Comedy
        expected[4 + (1990 - 1920) / 10] = 1;
        expected[^1] = MathF.Log(4);
        Assert.Equal(expected, row);

        // A genre outside the vocabulary is ignored; a year outside the decades counts in the nearest end one.
        features.Write(Item("5", "Future (2031)", ["Western", "Sci-Fi"]), row);
        Assert.Equal(1, row[3]);
        Assert.Equal(1, row[4 + 8]);
        Assert.Equal(2, row.Count(v => v != 0)); // Sci-Fi and the last decade; log(1 + 0 tags) = 0
        features.Write(Item("6", "Silent (1899)", []), row);
        Assert.Equal(1, row[4]);
        Assert.Equal(1, row.Count(v => v != 0));

        // No record at all: zeros.
        Array.Fill(row, 7f);
        features.Write(null, row);
        Assert.All(row, v => Assert.Equal(0, v));
        Assert.Throws<ArgumentException>(() => features.Write(Catalogue[0], new float[features.Count - 1]));
    }

    private static ItemEmbeddings Text(int n, int d, int seed = 1)
    {
        var rng = new Random(seed);
        var ids = Enumerable.Range(1, n).Select(i => i.ToString()).ToArray();
        var vectors = ids.Select(_ => Enumerable.Range(0, d).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()).ToArray();
        return ItemEmbeddings.Create(ids, vectors, new EmbeddingSettings { Model = "minilm", Pooling = "layers", MaxLength = 128, Dimension = d });
    }

    [Fact]
    public void Appended_vectors_keep_the_text_values_first_and_the_settings_survive_the_embeddings_file()
    {
        var text = Text(5, 3); // ids 1..5; id 5 has no record
        var features = MetadataFeatures.Of(Catalogue);
        var byId = Catalogue.ToDictionary(t => t.Id);
        var appended = features.AppendTo(text, byId);
        Assert.Equal(3 + features.Count, appended.Dimension);
        Assert.Equal(3, appended.Settings.TextDimension);
        var row = new float[features.Count];
        for (var r = 0; r < 5; r++)
        {
            Assert.Equal(text.Vector(r).ToArray(), appended.Vector(r)[..3].ToArray());
            features.Write(byId.GetValueOrDefault(text.Ids[r]), row);
            Assert.Equal(row, appended.Vector(r)[3..].ToArray());
        }
        Assert.Throws<ArgumentException>(() => features.AppendTo(appended, byId));

        var path = Path.Combine(Path.GetTempPath(), $"wals-metadata-{Guid.NewGuid():N}.wemb");
        try
        {
            EmbeddingFile.Write(appended, path);
            var read = EmbeddingFile.Read(path);
            Assert.Equal(appended.Vectors, read.Vectors);
            Assert.Equal(features, read.Settings.Metadata);
            Assert.Equal(3, read.Settings.TextDimension);
            Assert.Contains($"+ {features.Count} metadata features", read.Settings.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_encoder_check_ignores_the_metadata_features()
    {
        var plain = new EmbeddingSettings { Model = "minilm", Pooling = "layers", MaxLength = 128, Dimension = 3 };
        var features = MetadataFeatures.Of(Catalogue);
        var withFeatures = plain with { Dimension = 3 + features.Count, Metadata = features };
        Assert.True(withFeatures.SameEncoding(plain));
        Assert.False(withFeatures.SameEncoding(plain with { Dimension = 4 }));
        Assert.Equal(3, withFeatures.TextDimension);
    }

    [Theory]
    [InlineData("""{"model":"m","pooling":"mean","dimension":5,"metadata":{"genres":["A","A"],"first_decade":1990,"decades":1}}""", "not valid")]
    [InlineData("""{"model":"m","pooling":"mean","dimension":5,"metadata":{"genres":["A"],"first_decade":1990,"decades":-1}}""", "not valid")]
    [InlineData("""{"model":"m","pooling":"mean","dimension":3,"metadata":{"genres":["A"],"first_decade":1990,"decades":1}}""", "no room")]
    public void Bad_metadata_in_the_settings_is_rejected_by_name(string json, string reason)
    {
        var e = Assert.Throws<InvalidDataException>(() => EmbeddingSettings.FromJson(json, "x.wemb"));
        Assert.Contains("x.wemb", e.Message);
        Assert.Contains(reason, e.Message);
    }

    /// <summary>
    /// Planted data where the taste lives in the metadata only: each item has one of 4 genres and one of 4 decades, each
    /// user likes a random mix of them (t_u . [genre; decade] + noise, top 15 items), and the text vectors are noise.
    /// The projection of the text alone must then rank the held-out items about as random does; with the metadata
    /// features appended it must rank them far better.
    /// </summary>
    [Fact]
    public void Cold_start_uses_the_taste_that_only_the_metadata_carries()
    {
        const int users = 400, items = 300, perUser = 15;
        string[] genres = ["Comedy", "Drama", "Horror", "Western"];
        var rng = new Random(11);
        var genreOf = Enumerable.Range(0, items).Select(_ => rng.Next(4)).ToArray();
        var decadeOf = Enumerable.Range(0, items).Select(_ => rng.Next(4)).ToArray();
        var userIds = new IdMap(Enumerable.Range(0, users).Select(u => $"u{u}"));
        var itemIds = new IdMap(Enumerable.Range(0, items).Select(i => $"i{i}"));
        var (ui, ii) = (new List<int>(), new List<int>());
        for (var u = 0; u < users; u++)
        {
            var taste = Enumerable.Range(0, 8).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            foreach (var i in Enumerable.Range(0, items).OrderByDescending(i => taste[genreOf[i]] + taste[4 + decadeOf[i]] + 0.3 * (rng.NextDouble() - 0.5)).Take(perUser))
            {
                ui.Add(u);
                ii.Add(i);
            }
        }
        var table = new InteractionTable(userIds, itemIds, ui.ToArray(), ii.ToArray(), Enumerable.Repeat(1f, ui.Count).ToArray());
        var texts = Enumerable.Range(0, items).ToDictionary(i => $"i{i}", i => Item($"i{i}", $"Film {i} ({1960 + 10 * decadeOf[i] + i % 10})", [genres[genreOf[i]]]));
        var noise = ItemEmbeddings.Create(itemIds.Ids.ToArray(),
            Enumerable.Range(0, items).Select(_ => Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()).ToArray(),
            new EmbeddingSettings { Model = "planted", Pooling = "mean", MaxLength = 16, Dimension = 8 });
        var withMetadata = MetadataFeatures.Of(texts.Values).AppendTo(noise, texts);
        Assert.Equal(8 + 4 + 4 + 1, withMetadata.Dimension);

        var options = new ColdStartOptions { ColdFraction = 0.2, Seed = 42, Wals = new WalsOptions { Factors = 8, Iterations = 8, Threads = 1, Regularization = 0.1f }, Threads = 1 };
        var textOnly = ColdStartEvaluation.Run(table, noise, options);
        var report = ColdStartEvaluation.Run(table, withMetadata, options);
        Assert.True(textOnly.Projection.Recall20 < textOnly.Random.Recall20 + 0.1,
            $"noise for text: recall@20 {textOnly.Projection.Recall20:F3} vs random {textOnly.Random.Recall20:F3}");
        Assert.True(report.Projection.Recall20 > textOnly.Projection.Recall20 + 0.25,
            $"with metadata: recall@20 {report.Projection.Recall20:F3}, text alone {textOnly.Projection.Recall20:F3}");
    }
}
