using System.Diagnostics;
using WalsCluster.Core.Data;
using Xunit.Abstractions;

namespace WalsCluster.Core.Tests.Data;

public sealed class RealDatasetTests(ITestOutputHelper output)
{
    [Fact]
    public void MovieLens_ratings_load_with_the_documented_counts()
    {
        var path = TestDatasets.Find("movielens-latest-small/ratings.csv", output);
        if (path is null)
        {
            return;
        }
        var result = InteractionLoader.Load(path, LoadOptions.MovieLens);
        Assert.Equal(100_836, result.RowsRead);
        Assert.Equal(100_836, result.Table.Count);
        Assert.Equal(610, result.Table.Users.Count);
        Assert.Equal(9_724, result.Table.Items.Count);
        Assert.Equal(0, result.SkippedRows);
        Assert.NotNull(result.Table.Timestamps);
        // First row: 1,1,4.0,964982703
        Assert.Equal("1", result.Table.Users[result.Table.UserIndex[0]]);
        Assert.Equal(4.0f, result.Table.Values[0]);
        Assert.Equal(964_982_703L, result.Table.Timestamps![0]);
        Assert.All(result.Table.Values, v => Assert.InRange(v, 0.5f, 5f));
    }

    [Fact]
    public void MovieLens_ratings_of_four_and_above_are_kept_with_min_value()
    {
        var path = TestDatasets.Find("movielens-latest-small/ratings.csv", output);
        if (path is null)
        {
            return;
        }
        var all = InteractionLoader.Load(path, LoadOptions.MovieLens);
        var positives = InteractionLoader.Load(path, LoadOptions.MovieLens with { MinValue = 4 });
        var expected = all.Table.Values.Count(v => v >= 4);
        Assert.Equal(expected, positives.Table.Count);
        Assert.Equal(all.RowsRead - expected, positives.FilteredRows);
        output.WriteLine($"ratings >= 4: {expected} of {all.RowsRead}");
    }

    [Fact]
    public void MovieLens_movies_and_tags_give_titles_genres_and_tags()
    {
        var movies = TestDatasets.Find("movielens-latest-small/movies.csv", output);
        var tags = TestDatasets.Find("movielens-latest-small/tags.csv", output);
        if (movies is null || tags is null)
        {
            return;
        }
        var texts = ItemTexts.ReadMovieLens(movies, tags);
        Assert.Equal(9_742, texts.Values.Count(t => t.Title is not null));
        Assert.Equal("Toy Story (1995)", texts["1"].Title);
        Assert.Equal(["Adventure", "Animation", "Children", "Comedy", "Fantasy"], texts["1"].Genres);
        // A quoted title with a comma: 11,"American President, The (1995)",Comedy|Drama|Romance
        Assert.Equal("American President, The (1995)", texts["11"].Title);
        // tags.csv: 2,60756,funny / Highly quotable / will ferrell
        Assert.Contains("funny", texts["60756"].Tags);
        Assert.Contains("Highly quotable", texts["60756"].Tags);
        var tagged = texts.Values.Count(t => t.Tags.Count > 0);
        output.WriteLine($"movies with tags: {tagged}, distinct (movie, tag) pairs: {texts.Values.Sum(t => t.Tags.Count)}");
        Assert.InRange(tagged, 1_000, 2_000);
        Assert.Contains("Toy Story (1995). Genres: Adventure, Animation", texts["1"].ToEmbeddingText(), StringComparison.Ordinal);
    }

    [Fact]
    public void LastFm_user_artists_load_with_the_documented_counts()
    {
        var path = TestDatasets.Find("lastfm-hetrec2011-2k/user_artists.dat", output);
        if (path is null)
        {
            return;
        }
        var result = InteractionLoader.Load(path, LoadOptions.LastFm);
        Assert.Equal(92_834, result.RowsRead);
        Assert.Equal(92_834, result.Table.Count);
        Assert.Equal(1_892, result.Table.Users.Count);
        Assert.Equal(17_632, result.Table.Items.Count);
        // First row: 2 TAB 51 TAB 13883 (CR LF line ends).
        Assert.Equal("2", result.Table.Users[result.Table.UserIndex[0]]);
        Assert.Equal("51", result.Table.Items[result.Table.ItemIndex[0]]);
        Assert.Equal(13_883f, result.Table.Values[0]);
        Assert.All(result.Table.Values, v => Assert.True(v > 0));
    }

    [Fact]
    public void LastFm_artist_names_are_read_as_item_texts()
    {
        var path = TestDatasets.Find("lastfm-hetrec2011-2k/artists.dat", output);
        if (path is null)
        {
            return;
        }
        var artists = ItemTexts.ReadLastFmArtists(path);
        Assert.Equal("MALICE MIZER", artists["1"].Title);
        Assert.Equal(17_632, artists.Count);
        // Quotes in a tab-separated name are part of the name.
        Assert.Equal("\"Weird Al\" Yankovic", artists["1686"].Title);
        Assert.Equal("Royce da 5'9\"", artists["2906"].Title);
    }

    [Fact]
    public void Book_crossing_gzip_loads_with_the_documented_counts()
    {
        var path = TestDatasets.Find("book-crossing/bx_ratings.csv.gz", output);
        if (path is null)
        {
            return;
        }
        var watch = Stopwatch.StartNew();
        var result = InteractionLoader.Load(path, LoadOptions.BookCrossing);
        output.WriteLine($"Book-Crossing: {result.RowsRead} rows, {result.Table.Users.Count} users, {result.Table.Items.Count} items in {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(1_149_778, result.RowsRead);
        Assert.Equal(1_149_778, result.Table.Count);
        Assert.Equal(105_283, result.Table.Users.Count);
        Assert.Equal(340_544, result.Table.Items.Count);
        // Quoted isbns with commas in them are ids like any other: "130499",",.0330486187",6
        Assert.True(result.Table.Items.Contains(",.0330486187"));
        // Rating 0 = implicit; one row has 11.
        Assert.Equal(716_109, result.Table.Values.Count(v => v == 0));
        Assert.Equal(1, result.Table.Values.Count(v => v == 11));
    }

    [Fact]
    public void Synthetic_9_6m_gzip_loads_with_the_documented_counts()
    {
        var path = TestDatasets.Find("synthetic-9.6m/interactions.csv.gz", output);
        if (path is null)
        {
            return;
        }
        var progressCalls = 0;
        var watch = Stopwatch.StartNew();
        var result = InteractionLoader.Load(path, LoadOptions.Csv with { Progress = _ => progressCalls++ });
        watch.Stop();
        output.WriteLine($"synthetic-9.6m: {result.RowsRead} rows, {result.Table.Users.Count} users, {result.Table.Items.Count} items in {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(9_580_842, result.RowsRead);
        Assert.Equal(500_000, result.Table.Users.Count);
        Assert.InRange(result.Table.Items.Count, 90_000, 100_000);
        Assert.All(result.Table.Values, v => Assert.InRange(v, 1f, 19f));
        Assert.Equal(10, progressCalls); // 9 full millions and the end
    }
}
