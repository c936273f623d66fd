using Xunit.Abstractions;

namespace WalsCluster.Cluster.Tests;

/// <summary>
/// Finds shared/datasets: walking up from the test binaries, a folder that contains shared/datasets, or a sibling
/// ../shared/datasets of a folder that holds WalsCluster.sln. When it is absent a test fails with a clear message,
/// unless WALS_ALLOW_MISSING_DATASETS=1, when it returns early and says so in its output.
/// </summary>
internal static class TestDatasets
{
    private static readonly Lazy<string?> Root = new(Locate);

    public static string? Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var inside = Path.Combine(dir.FullName, "shared", "datasets");
            if (Directory.Exists(inside))
            {
                return inside;
            }
            if (File.Exists(Path.Combine(dir.FullName, "WalsCluster.sln")) && dir.Parent is { } parent)
            {
                var sibling = Path.Combine(parent.FullName, "shared", "datasets");
                if (Directory.Exists(sibling))
                {
                    return sibling;
                }
            }
        }
        return null;
    }

    /// <summary>
    /// The full path of <paramref name="relative"/> under shared/datasets, or null (after writing why to
    /// <paramref name="output"/>) when datasets are missing and WALS_ALLOW_MISSING_DATASETS=1. Fails the test otherwise.
    /// </summary>
    public static string? Find(string relative, ITestOutputHelper output)
    {
        var root = Root.Value;
        var path = root is null ? null : Path.Combine(root, relative);
        if (path is not null && (File.Exists(path) || Directory.Exists(path)))
        {
            return path;
        }
        var why = root is null
            ? $"shared/datasets was not found above {AppContext.BaseDirectory} nor beside the repository root"
            : $"{path} does not exist";
        if (Environment.GetEnvironmentVariable("WALS_ALLOW_MISSING_DATASETS") == "1")
        {
            output.WriteLine($"SKIPPED: {why} (WALS_ALLOW_MISSING_DATASETS=1).");
            return null;
        }
        Assert.Fail($"{why}. Real-data tests need it; set WALS_ALLOW_MISSING_DATASETS=1 to skip them.");
        return null;
    }
}


