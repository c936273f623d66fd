using System.Text;
using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// The single-process command line with metadata features, end to end on a small MovieLens folder written here:
/// <c>wals embed --metadata-features</c> writes vectors with the features appended (as it does by default for a
/// MovieLens folder, and not with <c>false</c>), <c>wals train --item-text</c> fits
/// the projection on them (and the text-only map of free-text queries) and <c>wals recommend --text</c> answers a
/// free-text query with that map; a source without fields gets none by default, and asking for them there is refused
/// before anything is embedded.
/// </summary>
public sealed class MetadataCliTests(ITestOutputHelper output)
{
    private static readonly string[] Genres = ["Comedy", "Drama", "Horror"];

    [Fact]
    public async Task Embed_train_and_text_query_with_metadata_features()
    {
        var folder = Directory.CreateTempSubdirectory("wals-metadata-cli-").FullName;
        try
        {
            // 30 movies over three decades and three genres; each user rates the movies of one decade.
            var movies = new StringBuilder("movieId,title,genres\n");
            for (var m = 1; m <= 30; m++)
            {
                movies.Append($"{m},\"Movie {m}, the story ({1970 + 10 * (m % 3) + m % 10})\",{Genres[m / 10 % 3]}\n");
            }
            await File.WriteAllTextAsync(Path.Combine(folder, "movies.csv"), movies.ToString());
            await File.WriteAllTextAsync(Path.Combine(folder, "tags.csv"), "userId,movieId,tag,timestamp\n1,1,funny,1\n2,1,classic,2\n1,2,dark,3\n");
            var ratings = new StringBuilder("userId,movieId,rating,timestamp\n");
            for (var u = 1; u <= 40; u++)
            {
                for (var m = 1; m <= 30; m++)
                {
                    if (m % 3 == u % 3)
                    {
                        ratings.Append($"{u},{m},4.0,{u * 100 + m}\n");
                    }
                }
            }
            await File.WriteAllTextAsync(Path.Combine(folder, "ratings.csv"), ratings.ToString());
            var source = $"movielens:{folder}";
            var embeddings = Path.Combine(folder, "items.wemb");

            var embedded = WalsProcess.LastJson(await Wals($"embed --items \"{source}\" --metadata-features --threads 1 --out \"{embeddings}\" --json"));
            // 3 genres, the 1970s to the 1990s, and the tag count.
            Assert.Equal(3 + 3 + 1, embedded["metadata_features"]!.GetValue<int>());
            Assert.Equal(384 + 7, embedded["dimension"]!.GetValue<int>());
            Assert.Equal(30, embedded["texts"]!.GetValue<int>());
            // A movielens:DIR source gets them by default, and 'false' leaves them out.
            var byDefault = WalsProcess.LastJson(await Wals($"embed --items \"{source}\" --threads 1 --out \"{Path.Combine(folder, "d.wemb")}\" --json"));
            Assert.Equal(7, byDefault["metadata_features"]!.GetValue<int>());
            var without = WalsProcess.LastJson(await Wals($"embed --items \"{source}\" --metadata-features false --threads 1 --out \"{Path.Combine(folder, "n.wemb")}\" --json"));
            Assert.Equal(0, without["metadata_features"]!.GetValue<int>());
            Assert.Equal(384, without["dimension"]!.GetValue<int>());

            var model = Path.Combine(folder, "m.walsmodel");
            var trained = WalsProcess.LastJson(await Wals($"train --input \"{Path.Combine(folder, "ratings.csv")}\" --format movielens --item-text \"{embeddings}\" --factors 4 --iterations 4 --threads 1 --model \"{model}\" --json"));
            Assert.Equal(7, trained["projection"]!["metadata_features"]!.GetValue<int>());
            Assert.Equal(384 + 7, trained["projection"]!["dimension"]!.GetValue<int>());
            Assert.True(trained["projection"]!["query_mu"]!.GetValue<double>() > 0);
            var answer = WalsProcess.LastJson(await Wals($"recommend --model \"{model}\" --text \"a funny comedy\" --k 5 --embedding-threads 1 --json"));
            var items = answer["items"]!.AsArray();
            Assert.Equal(5, items.Count);
            Assert.All(items, i => Assert.InRange(int.Parse(i!["item"]!.GetValue<string>()), 1, 30));
            // An embeddings file that has the features cannot be used without them (the option was ignored before).
            var (offExit, _, offError) = await WalsProcess.ExecuteAsync($"train --input \"{Path.Combine(folder, "ratings.csv")}\" --format movielens --item-text \"{embeddings}\" " +
                $"--embedding-metadata-features false --factors 4 --iterations 1 --threads 1 --model \"{model}.off\"");
            Assert.Equal(2, offExit);
            Assert.Contains("carries 7 metadata features", offError);
            var (blankExit, _, blankError) = await WalsProcess.ExecuteAsync($"recommend --model \"{model}\" --text \"  \"");
            Assert.NotEqual(0, blankExit);
            Assert.Contains("Option '--text' is empty", blankError);

            // Metadata needs fields: an id,text file has none, so it gets none by default, and asking for them is refused
            // before any embedding.
            var texts = Path.Combine(folder, "texts.csv");
            await File.WriteAllTextAsync(texts, "id,text\n1,a film\n");
            var plain = WalsProcess.LastJson(await Wals($"embed --items \"{texts}\" --threads 1 --out \"{Path.Combine(folder, "p.wemb")}\" --json"));
            Assert.Equal(0, plain["metadata_features"]!.GetValue<int>());
            var (exitCode, _, stderr) = await WalsProcess.ExecuteAsync($"embed --items \"{texts}\" --metadata-features --out \"{Path.Combine(folder, "x.wemb")}\"");
            Assert.NotEqual(0, exitCode);
            Assert.Contains("Metadata features need a movielens:DIR item source", stderr);
            Assert.DoesNotContain("embedded", stderr);
            Assert.False(File.Exists(Path.Combine(folder, "x.wemb")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private Task<string> Wals(string arguments) => WalsProcess.RunAsync(arguments, output.WriteLine);
}
