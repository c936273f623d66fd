using System.Diagnostics;
using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Splits;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Jobs;

/// <summary>What <c>wals train</c> is asked to do.</summary>
public sealed record TrainRequest
{
    /// <summary>The interactions file.</summary>
    public required string Input { get; init; }

    public LoadOptions Load { get; init; } = new();

    public WalsOptions Wals { get; init; } = new();

    /// <summary>Hold out this fraction of each user's interactions (random, seeded) and store it beside the model.</summary>
    public double? TestFraction { get; init; }

    /// <summary>A separate test file (same format as the input); its users and items join the model's id maps so that
    /// the model has the shape of the whole data set, as when another tool trains on a pre-made split.</summary>
    public string? TestPath { get; init; }

    /// <summary>Seed of the random holdout.</summary>
    public ulong SplitSeed { get; init; } = 42;

    /// <summary>Where to write the model file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Applied to the trained model before it is written: may add sections or items (the cold-start projection
    /// of <c>wals train --item-text</c> does both). Null writes the model as trained.</summary>
    public Func<SavedModel, SavedModel>? BeforeSave { get; init; }
}

/// <summary>What a training job did.</summary>
public sealed record TrainSummary(
    int Users,
    int Items,
    long NonZeros,
    long TrainRows,
    long TestRows,
    double LoadSeconds,
    double TrainSeconds,
    double MedianSecondsPerIteration,
    double FinalLoss,
    IReadOnlyList<IterationReport> History,
    string ModelPath,
    string? TestSplitPath,
    LoadResult InputLoad);

/// <summary>
/// Load, split, train, save: the single-process training job behind <c>wals train</c>. Nothing is written unless
/// training succeeds; the model file is replaced atomically.
/// </summary>
public static class TrainingJob
{
    public static TrainSummary Run(TrainRequest request, IProgress<IterationReport>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        CheckSplitOptions(request.TestFraction, request.TestPath);
        request.Wals.Validate();
        var watch = Stopwatch.StartNew();
        var loaded = InteractionLoader.Load(request.Input, request.Load);
        ReportLoad(loaded, log);
        var (train, test) = Split(loaded.Table, request.Load, request.TestFraction, request.TestPath, request.SplitSeed, log);
        var loadSeconds = watch.Elapsed.TotalSeconds;

        var matrix = train.ToUserItemMatrix();
        log?.Invoke($"training on {matrix.Rows} users x {matrix.Columns} items, {matrix.NonZeros} interactions, factors {request.Wals.Factors}, {request.Wals.EffectiveThreads} threads");
        var trainWatch = Stopwatch.StartNew();
        var trained = new WalsTrainer(request.Wals).Train(matrix, progress, cancellationToken);
        var trainSeconds = trainWatch.Elapsed.TotalSeconds;

        // The test part (a holdout, or the --test file in whatever format it came) goes beside the model as a split file,
        // which 'wals evaluate' reads without knowing the input's format.
        string? testPath = test is null ? null : TestSplitPath(request.ModelPath);
        var seconds = trained.History.Select(h => h.Seconds).Order().ToArray();
        var median = seconds.Length == 0 ? 0 : seconds[seconds.Length / 2];
        var model = new FactorModel(train.Users, train.Items, request.Wals.Factors, trained.UserFactors, trained.ItemFactors, request.Wals,
            new TrainingMetadata
            {
                IterationsCompleted = trained.History.Count,
                TotalSeconds = trainSeconds,
                NonZeros = matrix.NonZeros,
                FinalLoss = trained.FinalLoss,
                Source = Path.GetFullPath(request.Input),
                TestSplitPath = testPath,
            });
        var saved = new SavedModel(model, matrix, []);
        if (request.BeforeSave is { } finish)
        {
            saved = finish(saved);
        }
        Save(saved, request.ModelPath, test);
        return new TrainSummary(matrix.Rows, matrix.Columns, matrix.NonZeros, train.Count, test?.Count ?? 0, loadSeconds, trainSeconds,
            median, trained.FinalLoss, trained.History, request.ModelPath, testPath, loaded);
    }

    /// <summary>Throws when both a test fraction and a test file are given, or the fraction is outside (0, 1).</summary>
    public static void CheckSplitOptions(double? testFraction, string? testPath)
    {
        if (testFraction is not null && testPath is not null)
        {
            throw new ArgumentException("Give either a test fraction or a test file, not both.");
        }
        if (testFraction is { } f && !(f > 0 && f < 1))
        {
            throw new ArgumentException($"Option 'test-fraction' = {f} is invalid: it must be between 0 and 1 (exclusive).");
        }
    }

    /// <summary>
    /// The training and test parts of <paramref name="table"/> as <c>wals train</c> makes them (locally and on a cluster):
    /// a test file read with the table's id maps (its users and items join them), or a seeded per-user holdout of
    /// <paramref name="testFraction"/>, or no test part.
    /// </summary>
    public static (InteractionTable Train, InteractionTable? Test) Split(InteractionTable table, LoadOptions load, double? testFraction, string? testPath, ulong seed, Action<string>? log)
    {
        CheckSplitOptions(testFraction, testPath);
        if (testPath is not null)
        {
            var testLoad = InteractionLoader.Load(testPath, load, table.Users, table.Items);
            ReportLoad(testLoad, log);
            return (table, testLoad.Table);
        }
        if (testFraction is { } fraction)
        {
            var split = Splitter.RandomHoldout(table, fraction, seed);
            log?.Invoke($"split: {split.Train.Count} training rows, {split.Test.Count} test rows (fraction {fraction}, seed {seed})");
            return (split.Train, split.Test);
        }
        return (table, null);
    }

    /// <summary>Where a held-out part is written beside the model: <c>MODEL.test.csv</c>.</summary>
    public static string TestSplitPath(string modelPath) => Path.GetFullPath(modelPath + ".test.csv");

    /// <summary>
    /// Writes the model and, when <paramref name="test"/> is given, its test part beside it (<see cref="TestSplitPath"/>).
    /// The test part goes to a temporary file first and is moved into place only once the model is saved (itself
    /// atomically), so a run that fails changes neither the model already there nor the split it is evaluated on.
    /// </summary>
    public static void Save(SavedModel saved, string modelPath, InteractionTable? test)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
        string? temporary = null;
        try
        {
            if (test is not null)
            {
                temporary = TestSplitPath(modelPath) + ".tmp-" + Environment.ProcessId;
                SplitFiles.Write(test, temporary);
            }
            saved.Save(modelPath);
            if (temporary is not null)
            {
                File.Move(temporary, TestSplitPath(modelPath), overwrite: true);
                temporary = null;
            }
        }
        finally
        {
            if (temporary is not null && File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private static void ReportLoad(LoadResult load, Action<string>? log)
    {
        if (log is null)
        {
            return;
        }
        log($"read {load.RowsRead} rows from {load.Table.Users.Count} users and {load.Table.Items.Count} items ({load.Encoding})");
        if (load.FilteredRows > 0)
        {
            log($"dropped {load.FilteredRows} rows below the minimum value");
        }
        if (load.SkippedRows > 0)
        {
            log($"skipped {load.SkippedRows} bad rows; first: {string.Join("; ", load.FirstBadRows.Select(b => b.Reason))}");
        }
        if (load.UnknownUserRows + load.UnknownItemRows > 0)
        {
            log($"{load.UnknownUserRows} rows with unknown users and {load.UnknownItemRows} with unknown items");
        }
    }
}
