using Akka.Actor;
using Akka.Configuration;
using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Core.Model;
using WalsCluster.Core.Ranking;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;
using WalsCluster.Messages;

namespace WalsCluster.Actors.Tests.Embedding;

/// <summary>
/// One in-process node (roles trainer, query, embedder; the embedding pool over a fake hashing encoder) and a client:
/// trains a small table with item texts through the cluster once, then each test checks one result against the
/// single-process reference built from the same factors and vectors.
/// </summary>
public class ColdStartCluster : IAsyncLifetime
{
    public const int Dimension = 12;
    public const double ValidationFraction = 0.25;

    public HashingEncoder Encoder { get; } = new(Dimension);
    public WalsOptions Options { get; } = new WalsOptions { Factors = 6, Iterations = 3, Solver = WalsSolver.Cholesky, Threads = 1 }.Validate();
    public InteractionTable Table { get; private set; } = null!;
    public IReadOnlyList<ItemTextRecord> Texts { get; private set; } = null!;
    public ActorSystem Node { get; private set; } = null!;
    public WalsClient Client { get; private set; } = null!;
    public ClusterTrainingResult Trained { get; private set; } = null!;
    public SavedModel Local { get; private set; } = null!;

    private static readonly Config Overlay = ConfigurationFactory.ParseString("wals.cluster { user-shards = 2, item-shards = 3 }");

    public async Task InitializeAsync()
    {
        Table = RandomTables.Create(seed: 5, rows: 900, users: 70, items: 60, maxValue: 6);
        // Texts for 50 of the trained items (10 trained items have none) and for 12 items without interactions.
        Texts = Enumerable.Range(0, 50).Select(n => new ItemTextRecord(Table.Items[n], $"text of {Table.Items[n]}"))
            .Concat(Enumerable.Range(0, 12).Select(n => new ItemTextRecord($"cold{n}", $"a new item number {n}")))
            .ToList();

        var port = WalsSystem.FreeLoopbackPort();
        var roles = new[] { WalsSystem.TrainerRole, WalsSystem.QueryRole, WalsSystem.EmbedderRole };
        Node = ActorSystem.Create(WalsSystem.SystemName, WalsSystem.Config(new NodeAddress("127.0.0.1", port, [], roles), Overlay));
        WalsSystem.Start(Node, WalsSettings.FromConfig(Node.Settings.Config), roles, Encoder.Create);
        Client = await WalsClient.ConnectAsync($"127.0.0.1:{port}", TimeSpan.FromSeconds(30), Overlay);
        Trained = await Client.TrainAsync(Table, Options, itemText: Input()).WaitAsync(TimeSpan.FromSeconds(120));
        Local = WalsClient.ToSavedModel(Table, Options, Trained, "test");
    }

    /// <summary>The item texts of the run.</summary>
    protected virtual ItemTextInput Input() => new(Texts, ValidationFraction);

    /// <summary>The vector the cluster's items carry for <paramref name="record"/>: the encoder's (plus the metadata features, when the run has them).</summary>
    public virtual float[] VectorOf(ItemTextRecord record) => Encoder.VectorOf(record.Text);

    public async Task DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync();
        }
        if (Node is not null)
        {
            await CoordinatedShutdown.Get(Node).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        }
    }
}

public sealed class ColdStartClusterTests(ColdStartCluster cluster) : IClassFixture<ColdStartCluster>
{
    private const float Tolerance = 1e-4f;

    /// <summary>
    /// The single-process fit on the same warm items: every embedded trained item, held out by the same hash, each one
    /// <paramref name="copies"/>[item] times when given (integer weights are exactly repeated rows).
    /// </summary>
    private ProjectionFit LocalFit(int[]? copies = null) => LocalFit(cluster, copies);

    /// <summary><see cref="LocalFit(int[])"/> for any of the fixtures (their vectors by <see cref="ColdStartCluster.VectorOf"/>).</summary>
    internal static ProjectionFit LocalFit(ColdStartCluster cluster, int[]? copies = null)
    {
        var k = cluster.Options.Factors;
        var embeddings = new List<float[]>();
        var factors = new List<float[]>();
        var held = new List<bool>();
        foreach (var record in cluster.Texts)
        {
            var item = cluster.Table.Items.IndexOf(record.Id);
            if (item < 0)
            {
                continue;
            }
            for (var copy = 0; copy < (copies?[item] ?? 1); copy++)
            {
                embeddings.Add(cluster.VectorOf(record));
                factors.Add(cluster.Trained.ItemFactors.AsSpan(item * k, k).ToArray());
                held.Add(ProjectionSplit.IsValidation(record.Id, ColdStartCluster.ValidationFraction));
            }
        }
        Assert.Contains(true, held);
        return ProjectionFitter.Fit(embeddings, factors, held);
    }

    [Fact]
    public void The_cluster_fitted_projection_equals_the_local_fit_on_the_same_warm_items()
    {
        var projection = cluster.Trained.Projection!;
        var local = LocalFit();
        var fitted = projection.Projection;
        Assert.Equal(local.Mu, fitted.Mu, 1e-9 * local.Mu);
        Assert.Equal(local.Mu, projection.Fit.Mu, 1e-9 * local.Mu);
        Assert.Equal(local.Projection.W.Length, fitted.W.Length);
        Assert.True(local.Projection.W.Zip(fitted.W).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        Assert.True(local.Projection.Bias.Zip(fitted.Bias).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        Assert.Equal(local.Candidates.First(c => c.Mu == local.Mu).ValidationMse, projection.Fit.ValidationMse, 1e-6);
        Assert.Equal(50, projection.Fit.TrainItems + projection.Fit.ValidationItems);
        Assert.Equal(12, projection.Fit.ColdItems);
        Assert.Equal(ColdStartCluster.Dimension, projection.Encoder.Dimension);
        Assert.Equal(62, projection.Pipeline.ShardItems.Sum());
    }

    [Fact]
    public async Task A_count_weighted_refit_equals_the_local_fit_with_each_item_repeated_n_i_times()
    {
        var projection = cluster.Trained.Projection!;
        // n_i = the item's training interactions (distinct users: repeated rows are merged into one entry).
        var local = LocalFit(ProjectionTraining.ItemCounts(cluster.Table.ToUserItemMatrix()));
        var coordinator = cluster.Client.Actors.Coordinator;
        var request = new ProjectionRequest(ColdStartCluster.ValidationFraction, (byte)ProjectionWeighting.Count, projection.Pipeline.ShardItems);
        var reply = await coordinator.Ask<IWalsMessage>(new FitProjection(cluster.Trained.Run, request), TimeSpan.FromSeconds(60));
        try
        {
            var fitted = Assert.IsType<ProjectionFitted>(reply);
            var w = RidgeProjection.FromBytes(fitted.Projection);
            Assert.Equal(local.Mu, fitted.Mu, 1e-9 * local.Mu);
            Assert.True(local.Projection.W.Zip(w.W).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
            Assert.True(local.Projection.Bias.Zip(w.Bias).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
            // Not the unweighted fit: the weights matter on this data (at the least the bias, a weighted mean of the y_i).
            // Not the unweighted fit: the weights change the sums, the validation errors and so the chosen mu (1690 against
            // 128 on this data; the counts are fairly even here, so W and b themselves move only by about 6e-5).
            Assert.True(Math.Abs(fitted.Mu - projection.Projection.Mu) > 0.1 * projection.Projection.Mu, $"mu {fitted.Mu} vs unweighted {projection.Projection.Mu}");
            Assert.True(projection.Projection.W.Zip(w.W).Concat(projection.Projection.Bias.Zip(w.Bias)).Max(p => Math.Abs(p.First - p.Second)) > 1e-6);
        }
        finally
        {
            // Give the shards back the run's own projection, which the other tests compare with.
            var original = new ProjectionRequest(ColdStartCluster.ValidationFraction, (byte)ProjectionWeighting.None, projection.Pipeline.ShardItems);
            Assert.IsType<ProjectionFitted>(await coordinator.Ask<IWalsMessage>(new FitProjection(cluster.Trained.Run, original), TimeSpan.FromSeconds(60)));
        }
    }

    [Fact]
    public async Task Cold_items_get_the_projected_factors_and_appear_in_recommendations_as_in_the_local_model()
    {
        var projection = cluster.Trained.Projection!;
        var k = cluster.Options.Factors;
        Assert.Equal(Enumerable.Range(0, 12).Select(n => $"cold{n}"), projection.ColdIds);
        for (var c = 0; c < 12; c++)
        {
            var expected = projection.Projection.Apply(cluster.Encoder.VectorOf($"a new item number {c}"));
            Assert.True(expected.Zip(projection.ColdFactors.AsSpan(c * k, k).ToArray()).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        }
        var model = cluster.Local.Model;
        Assert.Equal(cluster.Table.Items.Count + 12, model.Items.Count);
        var ranker = new FactorRanker(model);
        var everything = model.Items.Count;
        var coldSeen = 0;
        foreach (var user in new[] { 0, 7, 33 })
        {
            var id = cluster.Table.Users[user];
            var reply = await cluster.Client.AskAsync(new Recommend(id, everything));
            Assert.Null(reply.Failure);
            Assert.Empty(reply.MissingShards);
            var local = ranker.Recommend(user, everything, cluster.Local.Train, new RecommendOptions { ExcludeTrainingItems = true });
            Assert.Equal(local.Select(s => model.Items[s.Item]), reply.Items.Select(r => r.Id));
            coldSeen += reply.Items.Count(r => r.Id.StartsWith("cold", StringComparison.Ordinal));
            var top = await cluster.Client.AskAsync(new Recommend(id, 10));
            Assert.Equal(local.Take(10).Select(s => model.Items[s.Item]), top.Items.Select(r => r.Id));
        }
        Assert.Equal(3 * 12, coldSeen);
        var similar = await cluster.Client.AskAsync(new SimilarItems("cold3", 5));
        Assert.Null(similar.Failure);
        Assert.Equal(ranker.SimilarItems(model.Items.IndexOf("cold3"), 5).Select(s => model.Items[s.Item]), similar.Items.Select(r => r.Id));
    }

    [Fact]
    public async Task A_text_query_returns_the_items_the_local_model_returns_for_the_same_text()
    {
        var section = ProjectionSection.Find(cluster.Local, "cluster model")!;
        Assert.Equal(Enumerable.Range(0, 12).Select(n => $"cold{n}"), section.Fit.ProjectedItems);
        Assert.Null(section.QueryProjection);
        var ranker = new FactorRanker(cluster.Local.Model);
        var foldIn = new FoldIn(cluster.Local.Model);
        foreach (var text in new[] { "a new item number 4", $"text of {cluster.Table.Items[3]}", "something else entirely" })
        {
            var local = ranker.Recommend(foldIn.QueryVector(section.ForTextQueries("cluster model").Apply(cluster.Encoder.VectorOf(text))), 10);
            var reply = await cluster.Client.AskAsync(new RecommendForText(text, 10));
            Assert.Null(reply.Failure);
            Assert.Equal(local.Select(s => cluster.Local.Model.Items[s.Item]), reply.Items.Select(r => r.Id));
        }
        // The cold item's own text scores it x . q, q = W^T e + b its projected factors and x = (w0 G + lambda_1 I)^-1 q
        // with G over the trained and the cold items, as the local model computes it.
        var all = await cluster.Client.AskAsync(new RecommendForText("a new item number 4", cluster.Local.Model.Items.Count));
        var own = section.Projection.Apply(cluster.Encoder.VectorOf("a new item number 4"));
        var expected = foldIn.QueryVector(own).Zip(own).Sum(t => (double)t.First * t.Second);
        Assert.Equal(expected, all.Items.Single(i => i.Id == "cold4").Score, 1e-5 * Math.Abs(expected));
    }

    [Fact]
    public async Task A_fold_in_may_name_cold_items_and_equals_the_fold_in_on_the_model_file()
    {
        var model = cluster.Local.Model;
        var trained = cluster.Table.Items[5];
        // cold3 given twice: one interaction with the values summed, as the local fold-in counts it.
        var reply = await cluster.Client.AskAsync(new RecommendForItems(["cold3", trained, "cold3"], [2f, 3f, 1f], 10));
        Assert.Null(reply.Failure);
        var given = new[] { (model.Items.IndexOf("cold3"), 2f), (model.Items.IndexOf(trained), 3f), (model.Items.IndexOf("cold3"), 1f) };
        var x = new FoldIn(model).Solve(given);
        var local = new FactorRanker(model).Recommend(x, 10, given.Select(g => g.Item1).Distinct().Order().ToArray());
        Assert.Equal(local.Select(s => model.Items[s.Item]), reply.Items.Select(r => r.Id));
        Assert.DoesNotContain(reply.Items, r => r.Id == "cold3" || r.Id == trained);
        for (var j = 0; j < local.Length; j++)
        {
            Assert.Equal(local[j].Score, reply.Items[j].Score, 1e-4f * Math.Abs(local[j].Score));
        }

        var unknown = await cluster.Client.AskAsync(new RecommendForItems(["nope", "cold1", "gone"], [1f, 1f, 1f], 5));
        Assert.Equal("Items 'gone', 'nope' are not in the model (neither trained nor a cold item with projected factors).", unknown.Failure);
        Assert.Empty(unknown.Items);
    }

    [Fact]
    public async Task The_item_shards_fold_in_Gram_covers_their_cold_items_as_the_model_file_does()
    {
        var k = cluster.Options.Factors;
        var model = cluster.Local.Model;
        var settings = cluster.Client.Settings;
        var terms = await Task.WhenAll(Enumerable.Range(0, settings.ItemShards).Select(s =>
            cluster.Client.Actors.ShardRegion.Ask<FoldInTerms>(new GetFoldInTerms(Side.Items, s, [], []), TimeSpan.FromSeconds(30))));
        Assert.All(terms, t => Assert.Null(t.Failure));
        Assert.Equal(12, terms.Sum(t => t.ColdItems));
        var gram = new double[PackedSymmetric.Length(k)];
        foreach (var t in terms)
        {
            PackedSymmetric.AddInto(gram, t.PartialGram);
        }
        // The saved model's items: the 60 trained ones and the 12 cold ones appended.
        var expected = new double[k * k];
        MatrixKernels.AddGram(model.ItemFactors, model.Items.Count, k, expected, 1);
        var trainedOnly = new double[k * k];
        MatrixKernels.AddGram(model.ItemFactors, cluster.Table.Items.Count, k, trainedOnly, 1);
        var unpacked = PackedSymmetric.Unpack(gram, k);
        var scale = expected.Max(Math.Abs);
        // The Gram kernel accumulates its tiles in float: equal to about 1e-7 of the largest entry.
        Assert.True(expected.Zip(unpacked).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5 * scale);
        Assert.True(trainedOnly.Zip(unpacked).Max(p => Math.Abs(p.First - p.Second)) > 1e-2 * scale, "the cold rows are in the Gram");
    }

    [Fact]
    public void The_model_file_carries_the_projection_and_the_cold_items()
    {
        var path = Path.Combine(Path.GetTempPath(), $"wals-cluster-projection-{Guid.NewGuid():N}.walsmodel");
        try
        {
            cluster.Local.Save(path);
            var loaded = SavedModel.Load(path);
            var section = ProjectionSection.Find(loaded, path)!;
            Assert.Equal(cluster.Trained.Projection!.Fit.Mu, section.Projection.Mu);
            Assert.Equal(ColdStartCluster.Dimension, section.Embedding.Dimension);
            Assert.Equal("hashing", section.Embedding.Model);
            Assert.Equal(ColdStartCluster.ValidationFraction, section.Fit.ValidationFraction);
            Assert.Equal(cluster.Local.Model.ItemFactors, loaded.Model.ItemFactors);
            Assert.Equal(cluster.Local.Model.Items.Count, loaded.Train.Columns);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>The same node and table, the run's item texts carrying metadata features (genre, decade, tag count) that the
/// client appends to each vector; 8 of the items have no fields and so zeros there.</summary>
public sealed class MetadataColdStartCluster : ColdStartCluster
{
    private static readonly string[] Genres = ["Comedy", "Drama", "Horror", "Western"];

    public MetadataFeatures Metadata { get; private set; } = null!;
    public IReadOnlyDictionary<string, ItemText> Fields { get; private set; } = null!;

    protected override ItemTextInput Input()
    {
        Fields = Texts.Select((record, n) => (record, n)).Where(p => p.n % 8 != 3)
            .ToDictionary(p => p.record.Id, p => new ItemText(p.record.Id, $"Item {p.n} ({1950 + 7 * p.n % 60})", [Genres[p.n % 4]], Enumerable.Repeat("tag", p.n % 3).ToArray()));
        Metadata = MetadataFeatures.Of(Fields.Values);
        return base.Input() with { Metadata = Metadata, Fields = Fields };
    }

    public override float[] VectorOf(ItemTextRecord record) => [.. Encoder.VectorOf(record.Text), .. Metadata.FeaturesOf(Fields.GetValueOrDefault(record.Id))];
}

public sealed class MetadataColdStartClusterTests(MetadataColdStartCluster cluster) : IClassFixture<MetadataColdStartCluster>
{
    private const float Tolerance = 1e-4f;

    [Fact]
    public void The_projection_is_fitted_on_the_vectors_with_the_features_appended_and_gives_cold_items_theirs()
    {
        var projection = cluster.Trained.Projection!;
        var count = cluster.Metadata.Count;
        Assert.Equal(4 + cluster.Metadata.Decades + 1, count);
        Assert.Equal(count, projection.Fit.MetadataFeatures);
        Assert.Equal(ColdStartCluster.Dimension, projection.Pipeline.Dimension);
        Assert.Equal(ColdStartCluster.Dimension + count, projection.Projection.D);
        Assert.Equal(cluster.Metadata, projection.Encoder.Metadata);
        Assert.Equal(ColdStartCluster.Dimension, projection.Encoder.TextDimension);

        var local = ColdStartClusterTests.LocalFit(cluster);
        Assert.Equal(local.Mu, projection.Fit.Mu, 1e-9 * local.Mu);
        Assert.True(local.Projection.W.Zip(projection.Projection.W).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        Assert.True(local.Projection.Bias.Zip(projection.Projection.Bias).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        var k = cluster.Options.Factors;
        for (var c = 0; c < 12; c++)
        {
            var expected = projection.Projection.Apply(cluster.VectorOf(new ItemTextRecord($"cold{c}", $"a new item number {c}")));
            Assert.True(expected.Zip(projection.ColdFactors.AsSpan(c * k, k).ToArray()).Max(p => Math.Abs(p.First - p.Second)) <= Tolerance);
        }
    }

    [Fact]
    public async Task A_text_query_is_projected_with_the_text_only_map_on_the_router_as_in_the_model_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"wals-cluster-metadata-{Guid.NewGuid():N}.walsmodel");
        try
        {
            cluster.Local.Save(path);
            var loaded = SavedModel.Load(path);
            var section = ProjectionSection.Find(loaded, path)!;
            Assert.Equal(cluster.Metadata, section.Embedding.Metadata);
            Assert.Equal(ColdStartCluster.Dimension + cluster.Metadata.Count, section.Embedding.Dimension);
            Assert.NotNull(section.QueryProjection);
            Assert.Equal(ColdStartCluster.Dimension, section.QueryProjection.D);
            Assert.Equal(section.QueryProjection.Mu, section.Fit.QueryMu);
            var ranker = new FactorRanker(loaded.Model);
            var foldIn = new FoldIn(loaded.Model);
            foreach (var text in new[] { "a new item number 4", "something else entirely" })
            {
                var local = ranker.Recommend(foldIn.QueryVector(section.ForTextQueries(path).Apply(cluster.Encoder.VectorOf(text))), 10);
                var reply = await cluster.Client.AskAsync(new RecommendForText(text, 10));
                Assert.Null(reply.Failure);
                Assert.Equal(local.Select(s => loaded.Model.Items[s.Item]), reply.Items.Select(r => r.Id));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
