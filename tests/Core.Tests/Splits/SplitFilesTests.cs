using WalsCluster.Core.Data;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Synthetic;
using WalsCluster.Core.Tests.Data;
using Xunit.Abstractions;

namespace WalsCluster.Core.Tests.Splits;

public sealed class SplitFilesTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("split")]
    [InlineData("split-gz")]
    public void A_split_written_to_csv_reads_back_identically_into_the_same_id_maps(string name)
    {
        var users = new IdMap(["u1", "user, with comma", "q\"uote"]);
        var items = new IdMap(["a", "b", "c"]);
        var table = new InteractionTable(users, items, [0, 0, 1, 2, 2, 1], [0, 1, 2, 0, 2, 0], [1f, 2.5f, 0.1f, 19f, 1e-7f, 3f]);
        var split = Splitter.RandomHoldout(table, 0.5, seed: 2);
        var folder = Path.Combine(_temp.Path, name);
        if (name.EndsWith("gz", StringComparison.Ordinal))
        {
            Directory.CreateDirectory(folder);
            SplitFiles.Write(split.Train, Path.Combine(folder, "train.csv.gz"));
            SplitFiles.Write(split.Test, Path.Combine(folder, "test.csv.gz"));
        }
        else
        {
            SplitFiles.WritePair(split, folder);
        }
        var suffix = name.EndsWith("gz", StringComparison.Ordinal) ? ".csv.gz" : ".csv";
        var train = SplitFiles.Read(Path.Combine(folder, "train" + suffix), users, items);
        var test = SplitFiles.Read(Path.Combine(folder, "test" + suffix), users, items);
        Assert.Equal(split.Train.UserIndex, train.Table.UserIndex);
        Assert.Equal(split.Train.ItemIndex, train.Table.ItemIndex);
        Assert.Equal(split.Train.Values, train.Table.Values);
        Assert.Equal(split.Test.UserIndex, test.Table.UserIndex);
        Assert.Equal(split.Test.ItemIndex, test.Table.ItemIndex);
        Assert.Equal(split.Test.Values, test.Table.Values);
        Assert.Equal(3, users.Count);
        Assert.Equal(3, items.Count);
    }

    [Fact]
    public void A_split_file_starts_with_the_header_and_uses_external_ids()
    {
        var users = new IdMap(["7"]);
        var items = new IdMap(["0345"]);
        var path = _temp.File("t.csv");
        SplitFiles.Write(new InteractionTable(users, items, [0], [0], [2.5f]), path);
        Assert.Equal("user,item,value\n7,0345,2.5\n", File.ReadAllText(path));
    }

    [Fact]
    public void Reading_a_test_file_counts_ids_the_train_maps_do_not_know()
    {
        var train = _temp.Write("train.csv", "user,item,value\na,x,1\nb,y,2\n");
        var test = _temp.Write("test.csv", "user,item,value\na,y,1\nnew,x,1\nb,unseen,1\nb,x,3\n");
        var pair = SplitFiles.ReadPair(_temp.Path);
        Assert.Equal(2, pair.Split.Train.Count);
        Assert.Equal(2, pair.Split.Test.Count);
        Assert.Equal(1, pair.TestLoad.UnknownUserRows);
        Assert.Equal(1, pair.TestLoad.UnknownItemRows);
        Assert.Equal(4, pair.TestLoad.RowsRead);
        Assert.Equal(2, pair.Split.Train.Users.Count);
        Assert.Same(pair.Split.Train.Items, pair.Split.Test.Items);
        Assert.Equal(["test.csv line 3, field 'user': unknown user id 'new'", "test.csv line 4, field 'item': unknown item id 'unseen'"], pair.TestLoad.FirstUnknownIdRows.Select(r => r.Reason));
        Assert.True(File.Exists(train) && File.Exists(test));
    }

    [Fact]
    public void The_premade_lastfm_split_reads_with_original_ids_and_matches_user_artists()
    {
        var folder = TestDatasets.Find("splits/lastfm-implicit-80-20-seed42", output);
        var raw = TestDatasets.Find("lastfm-hetrec2011-2k/user_artists.dat", output);
        if (folder is null || raw is null)
        {
            return;
        }
        var (split, trainLoad, testLoad) = SplitFiles.ReadIndexed(folder);
        Assert.Equal(74_385, split.Train.Count);
        Assert.Equal(18_449, split.Test.Count);
        Assert.Equal(0, trainLoad.UnknownUserRows + trainLoad.UnknownItemRows + testLoad.UnknownUserRows + testLoad.UnknownItemRows);
        Assert.Equal(1_892, split.Train.Users.Count);
        Assert.Equal(17_632, split.Train.Items.Count);
        // users.csv: index 0 is userID 2; train.csv row 1 is 0,45,13883.0, i.e. user 2 played artist items.csv[45] 13883 times.
        Assert.Equal("2", split.Train.Users[0]);
        Assert.Equal(0, split.Train.UserIndex[0]);
        Assert.Equal(45, split.Train.ItemIndex[0]);
        Assert.Equal(13_883f, split.Train.Values[0]);
        Assert.Equal("51", split.Train.Items[45]);

        // Together the two halves are exactly user_artists.dat, in original ids.
        var all = InteractionLoader.Load(raw, LoadOptions.LastFm).Table;
        static IEnumerable<(string, string, float)> Keyed(InteractionTable t) =>
            Enumerable.Range(0, t.Count).Select(e => (t.Users[t.UserIndex[e]], t.Items[t.ItemIndex[e]], t.Values[e]));
        var expected = Keyed(all).OrderBy(x => x).ToArray();
        var actual = Keyed(split.Train).Concat(Keyed(split.Test)).OrderBy(x => x).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_synthetic_split_round_trips_through_files_exactly()
    {
        var table = new SyntheticData(new SyntheticOptions { Users = 200, Items = 100, Seed = 5 }).ToTable();
        var split = Splitter.LeaveKOut(table, 1, seed: 8);
        SplitFiles.WritePair(split, _temp.Path);
        var back = SplitFiles.Read(_temp.File("test.csv"), table.Users, table.Items);
        Assert.Equal(split.Test.UserIndex, back.Table.UserIndex);
        Assert.Equal(split.Test.ItemIndex, back.Table.ItemIndex);
        Assert.Equal(split.Test.Values, back.Table.Values);
        Assert.Equal(0, back.Load.UnknownUserRows + back.Load.UnknownItemRows);
    }
}
