namespace WalsCluster.Core.Data;

/// <summary>The built-in input formats; each fixes the defaults of <see cref="LoadOptions"/>.</summary>
public enum DataFormat
{
    /// <summary>Generic delimited text: ',' and a header by default, columns user 0, item 1, value 2.</summary>
    Csv,

    /// <summary>MovieLens <c>ratings.csv</c>: userId,movieId,rating,timestamp with a header.</summary>
    MovieLens,

    /// <summary>Last.fm HetRec 2011 <c>user_artists.dat</c>: userID TAB artistID TAB weight with a header, CR LF.</summary>
    LastFm,

    /// <summary>Book-Crossing <c>bx_ratings.csv(.gz)</c>: "user_id","isbn","rating", quoted, with a header.</summary>
    BookCrossing,
}

/// <summary>What to do with a row whose user or item id is not in the id maps given to the loader.</summary>
public enum UnknownIdPolicy
{
    /// <summary>Add the id to the map (the default; with no maps given every id is new).</summary>
    Add,

    /// <summary>Leave the maps as they are; drop the row and count it in <see cref="LoadResult.UnknownUserRows"/> / <see cref="LoadResult.UnknownItemRows"/>.</summary>
    Skip,
}

/// <summary>
/// 0-based column indices of the fields the loader uses. A null <see cref="Value"/> means every row has value 1
/// (pure implicit feedback); a null <see cref="Timestamp"/> means the table has no timestamps.
/// </summary>
public sealed record ColumnMap(int User, int Item, int? Value, int? Timestamp = null)
{
    /// <summary>user 0, item 1, value 2, no timestamp.</summary>
    public static ColumnMap UserItemValue { get; } = new(0, 1, 2);

    /// <summary>user 0, item 1, value 1 for every row.</summary>
    public static ColumnMap UserItem { get; } = new(0, 1, null);

    /// <summary>The number of fields a row needs to hold every used column.</summary>
    public int RequiredFields => Math.Max(Math.Max(User, Item), Math.Max(Value ?? -1, Timestamp ?? -1)) + 1;

    internal void Validate()
    {
        if (User < 0 || Item < 0 || Value < 0 || Timestamp < 0)
        {
            throw new ArgumentException($"Column indices are 0-based and cannot be negative: {this}.");
        }
        if (User == Item)
        {
            throw new ArgumentException($"The user and item columns must differ: {this}.");
        }
    }
}

/// <summary>Progress of a long load, reported every <see cref="LoadOptions.ProgressEveryRows"/> rows and at the end.</summary>
/// <param name="RowsRead">Data rows read so far (bad and filtered rows included).</param>
/// <param name="BytesRead">Bytes of the file read so far (compressed bytes for gzip).</param>
/// <param name="TotalBytes">The file's size in bytes.</param>
public readonly record struct LoadProgress(long RowsRead, long BytesRead, long? TotalBytes);

/// <summary>
/// How <see cref="InteractionLoader"/> reads a file. Every property left null takes the default of
/// <see cref="Format"/>; see docs/data-formats.md for the table of defaults.
/// </summary>
public sealed record LoadOptions
{
    /// <summary>The input format, which sets the defaults of the other options.</summary>
    public DataFormat Format { get; init; } = DataFormat.Csv;

    /// <summary>The field delimiter (one ASCII character); null for the format's (',' or TAB for Last.fm).</summary>
    public char? Delimiter { get; init; }

    /// <summary>Whether the first non-blank line is a header; null for the format's (true for all built-in formats).</summary>
    public bool? HasHeader { get; init; }

    /// <summary>Whether fields may be quoted ("a,b", "" for a quote); null for the format's (off for Last.fm's tab-separated
    /// files, where a quote is an ordinary character; on otherwise).</summary>
    public bool? Quoting { get; init; }

    /// <summary>Which columns hold user, item, value and timestamp; null for the format's.</summary>
    public ColumnMap? Columns { get; init; }

    /// <summary>Rows whose value is below this are dropped and counted in <see cref="LoadResult.FilteredRows"/>
    /// (e.g. 4 to keep MovieLens ratings &gt;= 4 as positives). Null keeps every row.</summary>
    public double? MinValue { get; init; }

    /// <summary>Skip bad rows (too few fields, bad numbers, bad quotes) instead of throwing; they are counted in
    /// <see cref="LoadResult.SkippedRows"/> and the first few are listed in <see cref="LoadResult.FirstBadRows"/>.</summary>
    public bool SkipBadRows { get; init; }

    /// <summary>How text fields (ids) are decoded.</summary>
    public TextEncodingMode Encoding { get; init; } = TextEncodingMode.Auto;

    /// <summary>What to do with ids that are not in the id maps passed to the loader.</summary>
    public UnknownIdPolicy UnknownIds { get; init; } = UnknownIdPolicy.Add;

    /// <summary>Accept a file with a header and no data rows (an empty table) instead of throwing.</summary>
    public bool AllowNoRows { get; init; }

    /// <summary>Called with the progress every <see cref="ProgressEveryRows"/> rows and once at the end.</summary>
    public Action<LoadProgress>? Progress { get; init; }

    /// <summary>How often <see cref="Progress"/> is called, in rows.</summary>
    public int ProgressEveryRows { get; init; } = 1_000_000;

    /// <summary>How many bad (or unknown-id) rows are listed in the result.</summary>
    public int MaxReportedBadRows { get; init; } = 5;

    /// <summary>MovieLens <c>ratings.csv</c>.</summary>
    public static LoadOptions MovieLens { get; } = new() { Format = DataFormat.MovieLens };

    /// <summary>Last.fm <c>user_artists.dat</c>.</summary>
    public static LoadOptions LastFm { get; } = new() { Format = DataFormat.LastFm };

    /// <summary>Book-Crossing <c>bx_ratings.csv.gz</c>.</summary>
    public static LoadOptions BookCrossing { get; } = new() { Format = DataFormat.BookCrossing };

    /// <summary>Generic <c>user,item,value</c> CSV with a header.</summary>
    public static LoadOptions Csv { get; } = new();

    internal char ResolvedDelimiter => Delimiter ?? (Format == DataFormat.LastFm ? '\t' : ',');

    internal bool ResolvedQuoting => Quoting ?? Format != DataFormat.LastFm;

    internal bool ResolvedHasHeader => HasHeader ?? true;

    internal ColumnMap ResolvedColumns => Columns ?? (Format == DataFormat.MovieLens ? new ColumnMap(0, 1, 2, 3) : ColumnMap.UserItemValue);
}

/// <summary>One row the loader could not use.</summary>
/// <param name="File">The file name.</param>
/// <param name="Line">The 1-based line number.</param>
/// <param name="Reason">The full message, as <see cref="DataFormatException"/> would give it.</param>
public sealed record BadRow(string File, long Line, string Reason);

/// <summary>What a load produced.</summary>
public sealed record LoadResult
{
    /// <summary>The interactions kept, one entry per kept row (duplicates are NOT merged here; they are summed by
    /// <see cref="InteractionTable.ToUserItemMatrix"/>).</summary>
    public required InteractionTable Table { get; init; }

    /// <summary>Data rows read from the file (header and blank lines excluded; bad, filtered and unknown-id rows included).</summary>
    public long RowsRead { get; init; }

    /// <summary>Bad rows skipped because of <see cref="LoadOptions.SkipBadRows"/>.</summary>
    public long SkippedRows { get; init; }

    /// <summary>The first bad rows (at most <see cref="LoadOptions.MaxReportedBadRows"/>).</summary>
    public IReadOnlyList<BadRow> FirstBadRows { get; init; } = [];

    /// <summary>Rows dropped because their value was below <see cref="LoadOptions.MinValue"/>.</summary>
    public long FilteredRows { get; init; }

    /// <summary>Rows dropped because the user id was unknown (with <see cref="UnknownIdPolicy.Skip"/>).</summary>
    public long UnknownUserRows { get; init; }

    /// <summary>Rows dropped because the item id was unknown (and the user known), with <see cref="UnknownIdPolicy.Skip"/>.</summary>
    public long UnknownItemRows { get; init; }

    /// <summary>The first rows with unknown ids (at most <see cref="LoadOptions.MaxReportedBadRows"/>).</summary>
    public IReadOnlyList<BadRow> FirstUnknownIdRows { get; init; } = [];

    /// <summary>The text encoding the file was read with (<see cref="TextEncodingMode.Auto"/> when it was pure ASCII).</summary>
    public TextEncodingMode Encoding { get; init; }
}
