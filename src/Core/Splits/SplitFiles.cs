using System.Globalization;
using System.IO.Compression;
using System.Text;
using WalsCluster.Core.Data;

namespace WalsCluster.Core.Splits;

/// <summary>The result of reading a test (or train) file into existing id maps.</summary>
/// <param name="Table">The rows whose ids were known, sharing the given maps.</param>
/// <param name="Load">The full load report: rows read, and rows dropped for unknown user / item ids.</param>
public sealed record SplitFileRead(InteractionTable Table, LoadResult Load);

/// <summary>
/// Writes and reads splits as <c>user,item,value</c> CSV with a header and external ids as strings, so that another
/// tool can be trained and evaluated on exactly the same split. A path ending in <c>.gz</c> is written gzip-compressed.
/// </summary>
public static class SplitFiles
{
    /// <summary>The header line of a split file.</summary>
    public const string Header = "user,item,value";

    /// <summary>Writes <paramref name="table"/> (one line per entry, values in shortest round-trip form).</summary>
    public static void Write(InteractionTable table, string path)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.Fastest)
            : file;
        using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16);
        writer.NewLine = "\n";
        writer.WriteLine(Header);
        for (var e = 0; e < table.Count; e++)
        {
            writer.Write(Quote(table.Users[table.UserIndex[e]]));
            writer.Write(',');
            writer.Write(Quote(table.Items[table.ItemIndex[e]]));
            writer.Write(',');
            writer.WriteLine(table.Values[e].ToString("R", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Writes <c>train.csv</c> and <c>test.csv</c> into <paramref name="folder"/> (created when missing).</summary>
    public static void WritePair(TrainTestSplit split, string folder)
    {
        ArgumentNullException.ThrowIfNull(split);
        Directory.CreateDirectory(folder);
        Write(split.Train, Path.Combine(folder, "train.csv"));
        Write(split.Test, Path.Combine(folder, "test.csv"));
    }

    /// <summary>
    /// Reads a split file into the GIVEN id maps, which are not changed: rows with an id the maps do not know are
    /// dropped and counted (<see cref="LoadResult.UnknownUserRows"/>, <see cref="LoadResult.UnknownItemRows"/>,
    /// first few in <see cref="LoadResult.FirstUnknownIdRows"/>). A file with only a header gives an empty table.
    /// </summary>
    public static SplitFileRead Read(string path, IdMap users, IdMap items, LoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(items);
        var load = InteractionLoader.Load(path, (options ?? LoadOptions.Csv) with { UnknownIds = UnknownIdPolicy.Skip, AllowNoRows = true }, users, items);
        return new SplitFileRead(load.Table, load);
    }

    /// <summary>
    /// Reads <c>train.csv</c> (which defines the id maps, in first-seen order) and <c>test.csv</c> (mapped into them,
    /// unknown ids counted in the second result) from <paramref name="folder"/>.
    /// </summary>
    public static (TrainTestSplit Split, LoadResult TrainLoad, LoadResult TestLoad) ReadPair(string folder, LoadOptions? options = null)
    {
        var train = InteractionLoader.Load(Path.Combine(folder, "train.csv"), options ?? LoadOptions.Csv);
        var test = Read(Path.Combine(folder, "test.csv"), train.Table.Users, train.Table.Items, options);
        return (new TrainTestSplit(train.Table, test.Table), train, test.Load);
    }

    /// <summary>
    /// Reads a split made by another tool whose <c>train.csv</c> / <c>test.csv</c> hold dense 0-based indices, with
    /// <c>users.csv</c> / <c>items.csv</c> (<c>index,original_id</c>) mapping them back, such as
    /// <c>splits/lastfm-implicit-80-20-seed42</c> (made by the <c>implicit</c> library). The tables' id maps hold the
    /// ORIGINAL ids, and index i of a map is the other tool's index i, so results can be compared row by row.
    /// </summary>
    public static (TrainTestSplit Split, LoadResult TrainLoad, LoadResult TestLoad) ReadIndexed(string folder)
    {
        var users = ReadIndexMap(Path.Combine(folder, "users.csv"));
        var items = ReadIndexMap(Path.Combine(folder, "items.csv"));
        var userIndices = new IdMap(Enumerable.Range(0, users.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        var itemIndices = new IdMap(Enumerable.Range(0, items.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        var train = Read(Path.Combine(folder, "train.csv"), userIndices, itemIndices);
        var test = Read(Path.Combine(folder, "test.csv"), userIndices, itemIndices);
        return (new TrainTestSplit(WithMaps(train.Table, users, items), WithMaps(test.Table, users, items)), train.Load, test.Load);
    }

    private static InteractionTable WithMaps(InteractionTable table, IdMap users, IdMap items) =>
        new(users, items, table.UserIndex, table.ItemIndex, table.Values, table.Timestamps);

    /// <summary>Reads <c>index,original_id</c> rows; index must run 0, 1, 2, ... in order.</summary>
    private static IdMap ReadIndexMap(string path) =>
        DelimitedReader.ReadFile(path, ',', TextEncodingMode.Auto, reader =>
        {
            if (!reader.Read())
            {
                throw new DataFormatException($"{reader.FileName}: the file is empty (no header line)");
            }
            reader.FieldNames = [reader.GetString(0), reader.FieldCount > 1 ? reader.GetString(1) : "1"];
            var map = new IdMap();
            while (reader.Read())
            {
                if (reader.FieldCount < 2)
                {
                    throw reader.Error(reader.FieldCount, $"missing (the row has {reader.FieldCount} fields, 2 are needed)");
                }
                if (reader.GetInt64(0) != map.Count)
                {
                    throw reader.Error(0, $"expected index {map.Count}, found '{reader.Show(0)}'");
                }
                var id = reader.GetString(1);
                if (!map.TryAdd(id, out _))
                {
                    throw reader.Error(1, $"duplicate id '{id}'");
                }
            }
            return map;
        });

    private static string Quote(string id) =>
        id.AsSpan().IndexOfAny(",\"\r\n") < 0 && id.Length > 0 && id.Trim().Length == id.Length
            ? id
            : "\"" + id.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
