using WalsCluster.Core.Data;
using WalsCluster.Core.Metrics;
using WalsCluster.Core.Model;
using WalsCluster.Core.Ranking;

namespace WalsCluster.Core.Jobs;

/// <summary>The model's metrics beside the popularity baseline's, on the same test interactions.</summary>
public sealed record EvaluationSummary(MetricsReport Model, MetricsReport Popularity, string TestPath, long TestRows, long UnknownUserRows, long UnknownItemRows);

/// <summary>Evaluates a saved model on a test file (or the split stored by training), behind <c>wals evaluate</c>.</summary>
public static class EvaluationJob
{
    public static EvaluationSummary Run(SavedModel saved, string? testPath, int k, MetricDefinitions definitions, int threads = 0, LoadOptions? load = null)
    {
        var path = testPath ?? saved.Model.Metadata.TestSplitPath
            ?? throw new ArgumentException("The model has no stored test split: pass --test PATH, or train with --test-fraction.");
        var options = (load ?? new LoadOptions { Format = DataFormat.Csv, HasHeader = true, Delimiter = ',' }) with { UnknownIds = UnknownIdPolicy.Skip };
        var loaded = InteractionLoader.Load(path, options, saved.Model.Users, saved.Model.Items);
        var test = loaded.Table.ToUserItemMatrix();
        if (test.NonZeros == 0)
        {
            throw new ArgumentException($"{Path.GetFileName(path)}: no test row has a user and an item the model knows ({loaded.RowsRead} rows read, " +
                $"{loaded.UnknownUserRows} with unknown users, {loaded.UnknownItemRows} with unknown items), so there is nothing to evaluate.");
        }
        var ranker = new FactorRanker(saved.Model);
        var model = RankingMetrics.Evaluate(ranker, saved.Train, test, k, definitions, threads);
        var popularity = RankingMetrics.Evaluate(new PopularityRecommender(saved.Train), saved.Train, test, k, definitions, threads);
        return new EvaluationSummary(model, popularity, path, loaded.RowsRead, loaded.UnknownUserRows, loaded.UnknownItemRows);
    }
}
