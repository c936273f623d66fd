using System.IO.Compression;
using System.Text;
using WalsCluster.Core.Data;

namespace WalsCluster.Core.Tests.Data;

public sealed class LoaderFormatTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }
        return memory.ToArray();
    }

    [Fact]
    public void Crlf_line_ends_and_tabs_read_like_lastfm()
    {
        var path = _temp.Write("user_artists.dat", "userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n3\t51\t5\r\n");
        var result = InteractionLoader.Load(path, LoadOptions.LastFm);
        Assert.Equal(3, result.Table.Count);
        Assert.Equal(["2", "3"], result.Table.Users.Ids);
        Assert.Equal(["51", "52"], result.Table.Items.Ids);
        Assert.Equal([13883f, 11690f, 5f], result.Table.Values);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_skipped()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("user,item,value\nzoë,café,2\n")).ToArray();
        var path = _temp.Write("bom.csv", bytes);
        var result = InteractionLoader.Load(path);
        Assert.Equal("zoë", result.Table.Users[0]);
        Assert.Equal("café", result.Table.Items[0]);
        Assert.Equal(TextEncodingMode.Utf8, result.Encoding);
    }

    [Fact]
    public void Latin1_text_is_detected_and_decoded()
    {
        var path = _temp.Write("latin1.csv", Encoding.Latin1.GetBytes("user,item,value\nzoë,café,2\nbob,naïve,1\n"));
        var result = InteractionLoader.Load(path);
        Assert.Equal(["zoë", "bob"], result.Table.Users.Ids);
        Assert.Equal(["café", "naïve"], result.Table.Items.Ids);
        Assert.Equal(TextEncodingMode.Latin1, result.Encoding);
    }

    [Fact]
    public void A_file_that_turns_out_latin1_after_utf8_text_is_read_again_as_latin1()
    {
        // "Ã©" in Latin-1 is C3 A9, which is also valid UTF-8 for "é": only the later byte E9 proves Latin-1.
        var bytes = Encoding.Latin1.GetBytes("user,item,value\nAÃ©,x,1\nzoë,y,2\n");
        var path = _temp.Write("mixed.csv", bytes);
        var result = InteractionLoader.Load(path);
        Assert.Equal(["AÃ©", "zoë"], result.Table.Users.Ids);
        Assert.Equal(TextEncodingMode.Latin1, result.Encoding);
    }

    [Fact]
    public void Utf8_text_is_detected_as_utf8()
    {
        var path = _temp.Write("utf8.csv", "user,item,value\nzoë,日本,2\n");
        var result = InteractionLoader.Load(path);
        Assert.Equal("日本", result.Table.Items[0]);
        Assert.Equal(TextEncodingMode.Utf8, result.Encoding);
    }

    [Fact]
    public void Gzip_is_detected_by_extension_and_by_magic_bytes()
    {
        var bytes = Gzip(Encoding.UTF8.GetBytes("user,item,value\na,x,1\nb,y,2\n"));
        var byName = InteractionLoader.Load(_temp.Write("data.csv.gz", bytes));
        var byMagic = InteractionLoader.Load(_temp.Write("data.bin", bytes));
        Assert.Equal([1f, 2f], byName.Table.Values);
        Assert.Equal([1f, 2f], byMagic.Table.Values);
        Assert.Equal(["a", "b"], byMagic.Table.Users.Ids);
    }

    [Fact]
    public void A_cut_off_gzip_is_an_error_and_several_members_still_read()
    {
        // Regression: GZipStream ends quietly at a cut, so a partly copied file loaded as fewer rows (its last row cut too).
        var text = new StringBuilder("user,item,value\n");
        for (var r = 0; r < 20_000; r++)
        {
            text.Append($"u{r % 97},i{r % 89},{r + 1}\n");
        }
        var whole = Gzip(Encoding.UTF8.GetBytes(text.ToString()));
        Assert.Equal(20_000, InteractionLoader.Load(_temp.Write("whole.csv.gz", whole)).RowsRead);
        foreach (var cut in new[] { whole.Length / 3, whole.Length - 6 })
        {
            var e = Assert.Throws<DataFormatException>(() => InteractionLoader.Load(_temp.Write($"cut{cut}.csv.gz", whole[..cut])));
            Assert.Contains($"cut{cut}.csv.gz", e.Message);
            Assert.Contains("cut off", e.Message);
        }
        // Two members (cat a.gz b.gz): the trailer's size is the last member's alone, and the data is longer.
        var two = Gzip(Encoding.UTF8.GetBytes("user,item,value\na,x,1\nb,y,2\n")).Concat(Gzip("c,z,3\n"u8.ToArray())).ToArray();
        Assert.Equal([1f, 2f, 3f], InteractionLoader.Load(_temp.Write("two.csv.gz", two)).Table.Values);
        // Not gzip at all under a .gz name: the file is named.
        var bad = Assert.Throws<DataFormatException>(() => InteractionLoader.Load(_temp.Write("plain.csv.gz", "user,item,value\na,x,1\n")));
        Assert.Contains("plain.csv.gz", bad.Message);
        Assert.Contains("gzip", bad.Message);
    }

    [Fact]
    public void Quoted_fields_keep_commas_and_doubled_quotes()
    {
        var path = _temp.Write("bx.csv", "\"user_id\",\"isbn\",\"rating\"\n\"104960\",\"1,488/1,421)\",0\n\"7\",\"say \"\"hi\"\"\",\"5\"\n");
        var result = InteractionLoader.Load(path, LoadOptions.BookCrossing);
        Assert.Equal(["1,488/1,421)", "say \"hi\""], result.Table.Items.Ids);
        Assert.Equal([0f, 5f], result.Table.Values);
    }

    [Fact]
    public void Chosen_columns_and_delimiter_are_used_and_a_missing_value_column_means_one()
    {
        var path = _temp.Write("events.txt", "ts;item;user\n100;x;u1\n200;y;u2\n");
        var implicitOnly = InteractionLoader.Load(path, LoadOptions.Csv with { Delimiter = ';', Columns = new ColumnMap(User: 2, Item: 1, Value: null, Timestamp: 0) });
        Assert.Equal(["u1", "u2"], implicitOnly.Table.Users.Ids);
        Assert.Equal(["x", "y"], implicitOnly.Table.Items.Ids);
        Assert.Equal([1f, 1f], implicitOnly.Table.Values);
        Assert.Equal([100L, 200L], implicitOnly.Table.Timestamps!);
    }

    [Fact]
    public void Without_a_header_the_first_line_is_data()
    {
        var path = _temp.Write("plain.csv", "a,x,3\nb,y,4\n");
        var result = InteractionLoader.Load(path, LoadOptions.Csv with { HasHeader = false });
        Assert.Equal([3f, 4f], result.Table.Values);
    }

    [Fact]
    public void Duplicate_pairs_stay_separate_entries_and_are_summed_in_the_matrix()
    {
        var path = _temp.Write("dup.csv", "user,item,value\na,x,1\na,x,2.5\nb,x,1\n");
        var result = InteractionLoader.Load(path);
        Assert.Equal(3, result.Table.Count);
        var matrix = result.Table.ToUserItemMatrix();
        Assert.Equal(3.5f, matrix.Get(0, 0));
        Assert.Equal(2, matrix.NonZeros);
    }

    [Fact]
    public void A_last_line_without_line_end_and_blank_lines_are_handled()
    {
        var path = _temp.Write("tail.csv", "user,item,value\r\n\r\na,x,1\r\n\r\nb,y,2");
        var result = InteractionLoader.Load(path, LoadOptions.Csv with { SkipBadRows = false });
        Assert.Equal([1f, 2f], result.Table.Values);
        Assert.Equal(2, result.RowsRead);
    }

    [Fact]
    public void Line_numbers_count_blank_lines()
    {
        var path = _temp.Write("gaps.csv", "user,item,value\n\na,x,1\n\n\nb,y,zz\n");
        var error = Assert.Throws<DataFormatException>(() => InteractionLoader.Load(path));
        Assert.Equal(6, error.Line);
    }

    [Fact]
    public void Lines_longer_than_the_read_buffer_are_read_whole()
    {
        var longId = new string('q', 3_000_000);
        var path = _temp.Write("long.csv", $"user,item,value\na,{longId},1\nb,y,2\n");
        var result = InteractionLoader.Load(path);
        Assert.Equal(longId, result.Table.Items[0]);
        Assert.Equal(2, result.Table.Count);
    }

    [Fact]
    public void Progress_is_reported_every_n_rows_and_at_the_end()
    {
        var text = "user,item,value\n" + string.Concat(Enumerable.Range(0, 25).Select(i => $"u{i % 3},i{i},1\n"));
        var path = _temp.Write("progress.csv", text);
        var reports = new List<LoadProgress>();
        InteractionLoader.Load(path, LoadOptions.Csv with { Progress = reports.Add, ProgressEveryRows = 10 });
        Assert.Equal([10L, 20L, 25L], reports.Select(r => r.RowsRead));
        Assert.Equal(new FileInfo(path).Length, reports[^1].BytesRead);
        Assert.Equal(new FileInfo(path).Length, reports[^1].TotalBytes);
    }

    [Fact]
    public void Given_id_maps_with_skip_count_unknown_ids_and_stay_unchanged()
    {
        var users = new IdMap(["a", "b"]);
        var items = new IdMap(["x"]);
        var path = _temp.Write("test.csv", "user,item,value\na,x,1\nc,x,1\nb,z,1\nb,x,2\n");
        var result = InteractionLoader.Load(path, LoadOptions.Csv with { UnknownIds = UnknownIdPolicy.Skip }, users, items);
        Assert.Equal(2, result.Table.Count);
        Assert.Equal(1, result.UnknownUserRows);
        Assert.Equal(1, result.UnknownItemRows);
        Assert.Equal(2, users.Count);
        Assert.Equal(1, items.Count);
        Assert.Same(users, result.Table.Users);
        Assert.Equal("test.csv line 3, field 'user': unknown user id 'c'", result.FirstUnknownIdRows[0].Reason);
    }

    [Fact]
    public void The_reader_parses_numbers_from_bytes_and_names_fields_by_header()
    {
        using var reader = new DelimitedReader(new MemoryStream(Encoding.UTF8.GetBytes("a|b\n1.5|x\n")), "mem.txt", '|');
        Assert.True(reader.Read());
        reader.FieldNames = [reader.GetString(0), reader.GetString(1)];
        Assert.True(reader.Read());
        Assert.Equal(1.5, reader.GetDouble(0));
        var error = Assert.Throws<DataFormatException>(() => reader.GetDouble(1));
        Assert.Equal("mem.txt line 2, field 'b': 'x' is not a number", error.Message);
        Assert.False(reader.Read());
    }

    [Fact]
    public void Lastfm_files_treat_quotes_as_ordinary_characters()
    {
        var path = _temp.Write("user_artists.dat", "userID\tartistID\tweight\r\n\"2\t\"Weird Al\" Yankovic\t7\r\n");
        var result = InteractionLoader.Load(path, LoadOptions.LastFm);
        Assert.Equal("\"2", result.Table.Users[0]);
        Assert.Equal("\"Weird Al\" Yankovic", result.Table.Items[0]);
        var quoted = Assert.Throws<DataFormatException>(() => InteractionLoader.Load(path, LoadOptions.LastFm with { Quoting = true }));
        Assert.Equal("user_artists.dat line 2, field 'userID': text after a closing quote", quoted.Message);
    }
}
