using WalsCluster.Core.Data;

namespace WalsCluster.Core.Tests.Data;

public sealed class LoaderErrorTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private DataFormatException LoadFails(string name, string text, LoadOptions? options = null)
    {
        var path = _temp.Write(name, text);
        return Assert.Throws<DataFormatException>(() => InteractionLoader.Load(path, options ?? LoadOptions.MovieLens));
    }

    [Fact]
    public void A_missing_file_names_the_file()
    {
        var path = _temp.File("nowhere.csv");
        var error = Assert.Throws<DataFormatException>(() => InteractionLoader.Load(path));
        Assert.StartsWith("nowhere.csv: file not found", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_file_is_an_error()
    {
        var error = LoadFails("empty.csv", "");
        Assert.Equal("empty.csv: the file is empty (no header line)", error.Message);
    }

    [Fact]
    public void A_file_of_blank_lines_without_header_is_an_error()
    {
        var error = LoadFails("blank.csv", "\r\n\n  \n", LoadOptions.Csv with { HasHeader = false });
        Assert.Equal("blank.csv: the file is empty", error.Message);
    }

    [Fact]
    public void A_header_without_rows_is_an_error_unless_allowed()
    {
        var error = LoadFails("header.csv", "userId,movieId,rating,timestamp\n");
        Assert.Equal("header.csv: the file has a header line but no data rows", error.Message);
        var path = _temp.File("header.csv");
        var result = InteractionLoader.Load(path, LoadOptions.MovieLens with { AllowNoRows = true });
        Assert.Equal(0, result.Table.Count);
    }

    [Fact]
    public void A_short_row_names_the_line_and_the_missing_field()
    {
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3\n");
        Assert.Equal("ratings.csv line 3, field 'rating': missing (the row has 2 fields, 4 are needed)", error.Message);
        Assert.Equal(3, error.Line);
        Assert.Equal("rating", error.Field);
        Assert.Equal("ratings.csv", error.File);
    }

    [Fact]
    public void A_non_numeric_value_names_the_line_and_field()
    {
        var lines = string.Concat(Enumerable.Range(1, 15).Select(i => $"1,{i},4.0,964982703\n"));
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n" + lines + "1,99,abc,964982703\n");
        Assert.Equal("ratings.csv line 17, field 'rating': 'abc' is not a number", error.Message);
    }

    [Fact]
    public void A_nan_value_is_an_error()
    {
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n1,1,NaN,964982703\n");
        Assert.Equal("ratings.csv line 2, field 'rating': 'NaN' is not a finite number", error.Message);
    }

    [Theory]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e999")]
    public void An_infinite_value_is_an_error(string text)
    {
        var error = LoadFails("ratings.csv", $"userId,movieId,rating,timestamp\n1,1,{text},964982703\n");
        Assert.Equal($"ratings.csv line 2, field 'rating': '{text}' is not a finite number", error.Message);
    }

    [Fact]
    public void A_value_beyond_the_float_range_is_an_error()
    {
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n1,1,1e300,964982703\n");
        Assert.Equal("ratings.csv line 2, field 'rating': '1e300' is out of the range of a float", error.Message);
    }

    [Fact]
    public void A_non_integer_timestamp_is_an_error()
    {
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,yesterday\n");
        Assert.Equal("ratings.csv line 2, field 'timestamp': 'yesterday' is not an integer", error.Message);
    }

    [Fact]
    public void An_unterminated_quote_names_the_line_and_field()
    {
        var error = LoadFails("bx.csv", "\"user_id\",\"isbn\",\"rating\"\n\"2\",\"0195153448\",0\n\"7\",\"0345,0\n\"8\",\"1\",3\n", LoadOptions.BookCrossing);
        Assert.Equal("bx.csv line 3, field 'isbn': unterminated quote", error.Message);
    }

    [Fact]
    public void Text_after_a_closing_quote_is_an_error()
    {
        var error = LoadFails("bx.csv", "user_id,isbn,rating\n\"7\"x,\"0345\",0\n", LoadOptions.BookCrossing);
        Assert.Equal("bx.csv line 2, field 'user_id': text after a closing quote", error.Message);
    }

    [Fact]
    public void An_empty_id_is_an_error()
    {
        var error = LoadFails("ratings.csv", "userId,movieId,rating,timestamp\n1,,4,1\n");
        Assert.Equal("ratings.csv line 2, field 'movieId': the item id is empty", error.Message);
    }

    [Fact]
    public void Without_a_header_fields_are_named_by_index()
    {
        var error = LoadFails("plain.csv", "1,2,3\n1,2,x\n", LoadOptions.Csv with { HasHeader = false });
        Assert.Equal("plain.csv line 2, field '2': 'x' is not a number", error.Message);
    }

    [Fact]
    public void Skip_bad_rows_counts_every_kind_of_bad_row_and_reports_the_first_five()
    {
        var text =
            "userId,movieId,rating,timestamp\n" +
            "1,1,4.0,10\n" +          // 2 good
            "1,2\n" +                 // 3 short
            "1,3,abc,10\n" +          // 4 non-numeric
            "1,4,NaN,10\n" +          // 5 NaN
            "2,5,3.5,20\n" +          // 6 good
            "1,5,Infinity,10\n" +     // 7 infinite
            "1,\"6,4,10\n" +          // 8 unterminated quote
            "1,7,4,soon\n" +          // 9 bad timestamp
            "3,1,2.0,30\n";           // 10 good
        var path = _temp.Write("ratings.csv", text);
        var result = InteractionLoader.Load(path, LoadOptions.MovieLens with { SkipBadRows = true });
        Assert.Equal(9, result.RowsRead);
        Assert.Equal(6, result.SkippedRows);
        Assert.Equal(3, result.Table.Count);
        Assert.Equal([4f, 3.5f, 2f], result.Table.Values);
        Assert.Equal([3L, 4, 5, 7, 8], result.FirstBadRows.Select(b => b.Line));
        Assert.All(result.FirstBadRows, b => Assert.Equal("ratings.csv", b.File));
        Assert.Equal("ratings.csv line 4, field 'rating': 'abc' is not a number", result.FirstBadRows[1].Reason);
        Assert.Equal("ratings.csv line 8, field 'movieId': unterminated quote", result.FirstBadRows[4].Reason);
    }
}
