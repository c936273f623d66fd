using System.IO.Compression;
using WalsCluster.Core.Data;
using WalsCluster.Core.Synthetic;
using WalsCluster.Core.Tests.Data;

namespace WalsCluster.Core.Tests.Synthetic;

public sealed class SyntheticDataTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly SyntheticOptions Small = new() { Users = 2_000, Items = 1_000, Tastes = 8, MeanItemsPerUser = 20, Seed = 7 };

    [Fact]
    public void The_same_seed_gives_the_same_data_and_another_seed_other_data()
    {
        var a = new SyntheticData(Small).ToTable();
        var b = new SyntheticData(Small).ToTable();
        var c = new SyntheticData(Small with { Seed = 8 }).ToTable();
        Assert.Equal(a.UserIndex, b.UserIndex);
        Assert.Equal(a.ItemIndex, b.ItemIndex);
        Assert.Equal(a.Values, b.Values);
        Assert.NotEqual(a.ItemIndex, c.ItemIndex);
    }

    [Fact]
    public void Item_popularity_follows_the_power_law()
    {
        var data = new SyntheticData(Small with { Users = 20_000, TasteFraction = 0 });
        var table = data.ToTable();
        var counts = new int[Small.Items];
        foreach (var i in table.ItemIndex)
        {
            counts[i]++;
        }
        var sorted = counts.OrderByDescending(c => c).ToArray();
        // p ~ 1/rank^0.8: the top 1% of items get far more than 1% of the entries, the top item ~ 100^0.8 = 40x the 100th.
        var top10 = sorted.Take(10).Sum() / (double)table.Count;
        Assert.InRange(top10, 0.08, 0.20);
        Assert.InRange(sorted[0] / (double)sorted[99], 15, 80);
        // The log-log slope between ranks 10 and 100 is close to -0.8 (duplicates merged per user flatten the head a bit).
        var slope = Math.Log(sorted[99] / (double)sorted[9]) / Math.Log(10);
        Assert.InRange(slope, -0.95, -0.55);
        // The generator's own popularity agrees with the counts.
        var mostPopular = Array.IndexOf(counts, sorted[0]);
        Assert.Equal(Enumerable.Range(0, Small.Items).MaxBy(data.Popularity), mostPopular);
    }

    [Fact]
    public void Users_mostly_choose_items_of_their_taste()
    {
        // Many items, so that repeated draws (merged per user) are rare and the shares are those of the draws.
        var data = new SyntheticData(Small with { Items = 50_000 });
        var table = data.ToTable();
        var sameTaste = Enumerable.Range(0, table.Count).Count(e => data.ItemTaste(table.ItemIndex[e]) == data.UserTaste(table.UserIndex[e]));
        // 70% of draws from the taste plus 30% * ~1/8 by chance.
        Assert.InRange(sameTaste / (double)table.Count, 0.70, 0.80);
    }

    [Fact]
    public void Users_draw_about_the_poisson_mean_and_values_are_counts_up_to_19()
    {
        var table = new SyntheticData(Small with { Items = 50_000 }).ToTable();
        var perUser = table.Count / (double)Small.Users;
        // E[max(1, Poisson(20))] = 20, less the few repeated draws that are merged.
        Assert.InRange(perUser, 18.8, 20.2);
        Assert.All(table.Values, v => Assert.True(v is >= 1 and <= 19 && v == MathF.Round(v)));
        Assert.Equal(Small.Users, table.UserIndex.Distinct().Count());
        // No duplicate (user, item) pairs.
        Assert.Equal(table.Count, Enumerable.Range(0, table.Count).Select(e => ((long)table.UserIndex[e] << 32) | (uint)table.ItemIndex[e]).Distinct().Count());
    }

    [Theory]
    [InlineData(3.0)]
    [InlineData(50.0)]
    [InlineData(400.0)]
    public void Poisson_draws_have_the_right_mean_and_variance(double mean)
    {
        var random = new Xoshiro256StarStar(99);
        var draws = Enumerable.Range(0, 40_000).Select(_ => (double)SyntheticData.Poisson(random, mean)).ToArray();
        var m = draws.Average();
        var v = draws.Select(d => (d - m) * (d - m)).Sum() / (draws.Length - 1);
        Assert.InRange(m, mean * 0.98, mean * 1.02);
        Assert.InRange(v, mean * 0.93, mean * 1.07);
    }

    [Fact]
    public void Alias_sampling_matches_the_weights()
    {
        var table = new AliasTable([1.0, 2.0, 0.0, 5.0], [10, 20, 30, 40]);
        var random = new Xoshiro256StarStar(4);
        var counts = new Dictionary<int, int> { [10] = 0, [20] = 0, [30] = 0, [40] = 0 };
        for (var n = 0; n < 80_000; n++)
        {
            counts[table.Sample(random)]++;
        }
        Assert.Equal(0, counts[30]);
        Assert.InRange(counts[10], 9_400, 10_600);
        Assert.InRange(counts[20], 19_200, 20_800);
        Assert.InRange(counts[40], 49_000, 51_000);
    }

    [Fact]
    public void The_streamed_csv_equals_the_in_memory_table_and_loads_back()
    {
        var data = new SyntheticData(Small);
        var table = data.ToTable();
        var path = _temp.File("synthetic.csv.gz");
        var rows = data.WriteCsv(path);
        Assert.Equal(table.Count, rows);
        using (var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
        using (var text = new StreamReader(gz))
        {
            Assert.Equal("user,item,value", text.ReadLine());
        }
        var loaded = InteractionLoader.Load(path).Table;
        Assert.Equal(table.Count, loaded.Count);
        for (var e = 0; e < table.Count; e++)
        {
            Assert.Equal(table.Users[table.UserIndex[e]], loaded.Users[loaded.UserIndex[e]]);
            Assert.Equal(table.Items[table.ItemIndex[e]], loaded.Items[loaded.ItemIndex[e]]);
            Assert.Equal(table.Values[e], loaded.Values[e]);
        }
    }

    [Fact]
    public void Item_texts_use_the_words_of_the_items_taste()
    {
        var data = new SyntheticData(Small with { Tastes = 20 });
        for (var item = 0; item < 50; item++)
        {
            var words = data.ItemText(item).Split(' ');
            Assert.Equal(Small.TasteWordsPerItem + 1, words.Length);
            Assert.All(words.Take(Small.TasteWordsPerItem), w => Assert.Contains(w, data.TasteWords(data.ItemTaste(item))));
        }
        Assert.Equal(data.ItemText(3), new SyntheticData(Small with { Tastes = 20 }).ItemText(3));
        Assert.NotEqual(data.TasteWords(0), data.TasteWords(1));
        Assert.Equal(6, data.TasteWords(19).Count);
    }
}
