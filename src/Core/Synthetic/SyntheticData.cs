using System.Globalization;
using System.IO.Compression;
using System.Text;
using MathNet.Numerics;
using WalsCluster.Core.Data;

namespace WalsCluster.Core.Synthetic;

/// <summary>
/// Planted implicit-feedback data as described by <see cref="SyntheticOptions"/>. The item side (popularity,
/// tastes, alias tables) is built up front, O(I); users are generated one at a time from their own random stream
/// (<see cref="Xoshiro256StarStar.ForStream"/>(seed, u + 1)), so any user can be generated alone, the CSV writer
/// streams any number of rows in constant memory, and the same options always give the same rows.
/// User ids are "0".."U-1" and item ids "0".."I-1" (dense index = id).
/// </summary>
public sealed class SyntheticData
{
    private static readonly string[][] Themes =
    [
        ["saxophone", "trumpet", "swing", "bebop", "smoky", "improvisation"],
        ["guitar", "distortion", "heavy", "riff", "thrash", "headbanging"],
        ["symphony", "violin", "orchestra", "sonata", "baroque", "concerto"],
        ["synthesizer", "techno", "bass", "rave", "beat", "trance"],
        ["acoustic", "ballad", "banjo", "fiddle", "storytelling", "rural"],
        ["rap", "rhyme", "turntable", "sample", "flow", "street"],
        ["galaxy", "rocket", "astronaut", "planet", "orbit", "nebula"],
        ["recipe", "kitchen", "spice", "bake", "chef", "flavor"],
        ["football", "stadium", "goal", "team", "championship", "coach"],
        ["love", "wedding", "heart", "kiss", "passion", "couple"],
        ["ghost", "haunted", "blood", "monster", "scream", "nightmare"],
        ["empire", "war", "ancient", "king", "medieval", "battle"],
        ["forest", "river", "mountain", "wildlife", "bird", "ocean"],
        ["computer", "software", "robot", "algorithm", "network", "code"],
        ["funny", "joke", "laugh", "parody", "silly", "prank"],
        ["detective", "murder", "police", "heist", "mystery", "gangster"],
    ];

    private static readonly string[] CommonWords = ["classic", "new", "collection", "edition", "best", "live", "volume", "special"];
    private static readonly string[] Syllables = ["ka", "lo", "mi", "ran", "te", "vo", "zu", "shi", "pe", "dor", "ni", "qua"];

    private readonly double[] _popularity;
    private readonly int[] _itemTaste;
    private readonly AliasTable _byPopularity;
    private readonly AliasTable?[] _byTaste;
    private readonly string[][] _tasteWords;

    public SyntheticData(SyntheticOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        var random = Xoshiro256StarStar.ForStream(options.Seed, 0);
        var items = options.Items;

        // p_i = (1 / rank_i^a) / sum, with ranks 1..I assigned to items in random order.
        var ranks = Enumerable.Range(1, items).ToArray();
        random.Shuffle(ranks.AsSpan());
        _popularity = new double[items];
        var total = 0.0;
        for (var i = 0; i < items; i++)
        {
            _popularity[i] = 1.0 / Math.Pow(ranks[i], options.PopularityExponent);
            total += _popularity[i];
        }
        for (var i = 0; i < items; i++)
        {
            _popularity[i] /= total;
        }
        _itemTaste = new int[items];
        for (var i = 0; i < items; i++)
        {
            _itemTaste[i] = random.NextInt(options.Tastes);
        }
        _byPopularity = new AliasTable(_popularity);
        _byTaste = new AliasTable?[options.Tastes];
        for (var k = 0; k < options.Tastes; k++)
        {
            var members = Enumerable.Range(0, items).Where(i => _itemTaste[i] == k).ToArray();
            _byTaste[k] = members.Length == 0 ? null : new AliasTable(members.Select(i => _popularity[i]).ToArray(), members);
        }
        _tasteWords = new string[options.Tastes][];
        for (var k = 0; k < options.Tastes; k++)
        {
            _tasteWords[k] = k < Themes.Length ? Themes[k] : MadeUpWords(k);
        }
    }

    public SyntheticOptions Options { get; }

    /// <summary>The taste t_i of item <paramref name="item"/>.</summary>
    public int ItemTaste(int item) => _itemTaste[item];

    /// <summary>The normalised popularity p_i of item <paramref name="item"/> (the p_i sum to 1).</summary>
    public double Popularity(int item) => _popularity[item];

    /// <summary>The taste t_u of user <paramref name="user"/>.</summary>
    public int UserTaste(int user) => UserRandom(user).NextInt(Options.Tastes);

    /// <summary>The words of taste <paramref name="taste"/> that item texts of that taste are made of.</summary>
    public IReadOnlyList<string> TasteWords(int taste) => _tasteWords[taste];

    /// <summary>
    /// A short text for item <paramref name="item"/>: <see cref="SyntheticOptions.TasteWordsPerItem"/> words of the
    /// item's taste and one common word, e.g. "saxophone smoky swing live", so that a text embedding of items of one
    /// taste clusters and a cold-start projection has something to learn.
    /// </summary>
    public string ItemText(int item)
    {
        var random = Xoshiro256StarStar.ForStream(Options.Seed ^ 0x7E57UL, (ulong)item);
        var words = _tasteWords[_itemTaste[item]];
        var text = new StringBuilder();
        for (var w = 0; w < Options.TasteWordsPerItem; w++)
        {
            text.Append(words[random.NextInt(words.Length)]).Append(' ');
        }
        text.Append(CommonWords[random.NextInt(CommonWords.Length)]);
        return text.ToString();
    }

    /// <summary>
    /// Generates user <paramref name="user"/>'s distinct items (ascending) and their counts into the lists (cleared
    /// first). Returns the number of entries.
    /// </summary>
    public int GenerateUser(int user, List<int> items, List<int> values)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(user);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(user, Options.Users);
        items.Clear();
        values.Clear();
        var random = UserRandom(user);
        var taste = random.NextInt(Options.Tastes);
        var draws = Math.Max(1, Poisson(random, Options.MeanItemsPerUser));
        var fromTaste = (int)(draws * Options.TasteFraction);
        var tasteTable = _byTaste[taste] ?? _byPopularity;
        for (var d = 0; d < draws; d++)
        {
            items.Add((d < fromTaste ? tasteTable : _byPopularity).Sample(random));
        }
        items.Sort();
        var distinct = 0;
        for (var j = 0; j < items.Count; j++)
        {
            if (j == 0 || items[j] != items[distinct - 1])
            {
                items[distinct++] = items[j];
            }
        }
        items.RemoveRange(distinct, items.Count - distinct);
        for (var j = 0; j < distinct; j++)
        {
            values.Add(1 + random.NextInt(Options.MaxValue));
        }
        return distinct;
    }

    /// <summary>All users' entries in memory, user-major, items ascending within a user (for tests and small runs).</summary>
    public InteractionTable ToTable()
    {
        var users = new IdMap(Enumerable.Range(0, Options.Users).Select(u => u.ToString(CultureInfo.InvariantCulture)));
        var itemMap = new IdMap(Enumerable.Range(0, Options.Items).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        var userIndex = new List<int>();
        var itemIndex = new List<int>();
        var values = new List<float>();
        var items = new List<int>();
        var counts = new List<int>();
        for (var u = 0; u < Options.Users; u++)
        {
            GenerateUser(u, items, counts);
            for (var j = 0; j < items.Count; j++)
            {
                userIndex.Add(u);
                itemIndex.Add(items[j]);
                values.Add(counts[j]);
            }
        }
        return new InteractionTable(users, itemMap, [.. userIndex], [.. itemIndex], [.. values]);
    }

    /// <summary>
    /// Streams all users as <c>user,item,value</c> CSV with a header to <paramref name="path"/> (gzip when the name
    /// ends in <c>.gz</c>), holding one user at a time. <paramref name="progress"/> gets the rows written after each
    /// 1,000,000 rows and at the end. Returns the number of rows written.
    /// </summary>
    public long WriteCsv(string path, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.Fastest)
            : file;
        return WriteCsv(stream, progress);
    }

    /// <summary>As <see cref="WriteCsv(string, Action{long})"/>, to a stream (left open).</summary>
    public long WriteCsv(Stream stream, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new byte[1 << 16];
        var used = Encoding.ASCII.GetBytes("user,item,value\n", buffer);
        var items = new List<int>();
        var counts = new List<int>();
        long rows = 0;
        var nextReport = 1_000_000L;
        for (var u = 0; u < Options.Users; u++)
        {
            GenerateUser(u, items, counts);
            for (var j = 0; j < items.Count; j++)
            {
                // At most 3 * 11 + 3 bytes a line.
                if (buffer.Length - used < 40)
                {
                    stream.Write(buffer, 0, used);
                    used = 0;
                }
                var span = buffer.AsSpan(used);
                u.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
                span[written++] = (byte)',';
                items[j].TryFormat(span[written..], out var w2, default, CultureInfo.InvariantCulture);
                written += w2;
                span[written++] = (byte)',';
                counts[j].TryFormat(span[written..], out var w3, default, CultureInfo.InvariantCulture);
                written += w3;
                span[written++] = (byte)'\n';
                used += written;
            }
            rows += items.Count;
            if (progress is not null && rows >= nextReport)
            {
                progress(rows);
                nextReport += 1_000_000;
            }
        }
        stream.Write(buffer, 0, used);
        stream.Flush();
        progress?.Invoke(rows);
        return rows;
    }

    private Xoshiro256StarStar UserRandom(int user) => Xoshiro256StarStar.ForStream(Options.Seed, (ulong)user + 1);

    /// <summary>
    /// Poisson(<paramref name="mean"/>): Knuth's product of uniforms for mean &lt; 30, otherwise Hormann's
    /// transformed rejection with squeeze (PTRS, 1993), as numpy does.
    /// </summary>
    internal static int Poisson(Xoshiro256StarStar random, double mean)
    {
        if (mean < 30)
        {
            var limit = Math.Exp(-mean);
            var product = random.NextDouble();
            var k = 0;
            while (product > limit)
            {
                k++;
                product *= random.NextDouble();
            }
            return k;
        }
        var slam = Math.Sqrt(mean);
        var logMean = Math.Log(mean);
        var b = 0.931 + 2.53 * slam;
        var a = -0.059 + 0.02483 * b;
        var invAlpha = 1.1239 + 1.1328 / (b - 3.4);
        var vr = 0.9277 - 3.6224 / (b - 2);
        while (true)
        {
            var u = random.NextDouble() - 0.5;
            var v = random.NextDouble();
            var us = 0.5 - Math.Abs(u);
            var k = Math.Floor((2 * a / us + b) * u + mean + 0.43);
            if (us >= 0.07 && v <= vr)
            {
                return (int)k;
            }
            if (k < 0 || (us < 0.013 && v > us))
            {
                continue;
            }
            if (Math.Log(v) + Math.Log(invAlpha) - Math.Log(a / (us * us) + b) <= -mean + k * logMean - SpecialFunctions.GammaLn(k + 1))
            {
                return (int)k;
            }
        }
    }

    private static string[] MadeUpWords(int taste)
    {
        var random = Xoshiro256StarStar.ForStream(0xC0FFEEUL, (ulong)taste);
        var words = new string[6];
        for (var w = 0; w < words.Length; w++)
        {
            words[w] = string.Concat(Enumerable.Range(0, 3).Select(_ => Syllables[random.NextInt(Syllables.Length)]));
        }
        return words;
    }
}
