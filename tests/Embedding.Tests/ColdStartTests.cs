using WalsCluster.Core.Data;
using WalsCluster.Core.Model;
using WalsCluster.Core.Sparse;
using WalsCluster.Core.Wals;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.Tests;

/// <summary>The projection fit on warm items, its model section, and the cold-start evaluation on planted data.</summary>
public sealed class ColdStartTests
{
    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>
    /// Planted data: users and items have latent vectors t_u, v_i in R^4; each user interacts with the 15 items of highest
    /// t_u . v_i + noise. An item's "text embedding" is A [v_i; z_i] + noise (z_i 8 dimensions of nuisance), so the text
    /// carries the item's taste; with <paramref name="informativeText"/> false it is pure noise.
    /// </summary>
    private static (InteractionTable Table, ItemEmbeddings Embeddings) Planted(bool informativeText, int seed = 3)
    {
        const int users = 400, items = 300, rank = 4, nuisance = 8, d = 16, perUser = 15;
        var rng = new Random(seed);
        var t = Enumerable.Range(0, users * rank).Select(_ => Gaussian(rng)).ToArray();
        var v = Enumerable.Range(0, items * rank).Select(_ => Gaussian(rng)).ToArray();
        var userIds = new IdMap(Enumerable.Range(0, users).Select(u => $"u{u}"));
        var itemIds = new IdMap(Enumerable.Range(0, items).Select(i => $"i{i}"));
        var ui = new List<int>();
        var ii = new List<int>();
        for (var u = 0; u < users; u++)
        {
            var scores = Enumerable.Range(0, items).Select(i => Enumerable.Range(0, rank).Sum(c => t[u * rank + c] * v[i * rank + c]) + 0.5 * Gaussian(rng)).ToArray();
            foreach (var i in Enumerable.Range(0, items).OrderByDescending(i => scores[i]).Take(perUser))
            {
                ui.Add(u);
                ii.Add(i);
            }
        }
        var table = new InteractionTable(userIds, itemIds, ui.ToArray(), ii.ToArray(), Enumerable.Repeat(1f, ui.Count).ToArray());
        var a = Enumerable.Range(0, d * (rank + nuisance)).Select(_ => Gaussian(rng)).ToArray();
        var vectors = new float[items][];
        for (var i = 0; i < items; i++)
        {
            var source = Enumerable.Range(0, rank).Select(c => informativeText ? v[i * rank + c] : Gaussian(rng))
                .Concat(Enumerable.Range(0, nuisance).Select(_ => Gaussian(rng))).ToArray();
            vectors[i] = Enumerable.Range(0, d).Select(r => (float)(Enumerable.Range(0, source.Length).Sum(c => a[r * source.Length + c] * source[c]) + 0.1 * Gaussian(rng))).ToArray();
        }
        var settings = new EmbeddingSettings { Model = "planted", Pooling = "mean", MaxLength = 16, Dimension = d };
        return (table, ItemEmbeddings.Create(itemIds.Ids.ToArray(), vectors, settings));
    }

    private static readonly WalsOptions SmallWals = new() { Factors = 8, Iterations = 8, Threads = 1, Regularization = 0.1f };

    [Fact]
    public void Cold_items_are_a_seeded_share_of_the_items_with_text()
    {
        var (table, _) = Planted(informativeText: true);
        var withText = Enumerable.Range(0, 200).Select(i => $"i{i}").ToHashSet();
        var a = ColdStartEvaluation.SplitItems(table, withText, 0.1, seed: 42);
        var b = ColdStartEvaluation.SplitItems(table, withText, 0.1, seed: 42);
        var c = ColdStartEvaluation.SplitItems(table, withText, 0.1, seed: 43);
        Assert.Equal(a.ColdItems, b.ColdItems);
        Assert.NotEqual(a.ColdItems, c.ColdItems);
        Assert.Equal(20, a.ColdItems.Length);
        Assert.Equal(200, a.Eligible);
        Assert.All(a.ColdItems, item => Assert.True(withText.Contains(table.Items[item]) && a.IsCold[item]));
        Assert.Equal(20, a.IsCold.Count(x => x));
    }

    [Fact]
    public void Text_projection_ranks_held_out_items_far_above_random_and_only_with_informative_text()
    {
        var (table, embeddings) = Planted(informativeText: true);
        var options = new ColdStartOptions { ColdFraction = 0.2, Seed = 42, Wals = SmallWals, Threads = 1 };
        var report = ColdStartEvaluation.Run(table, embeddings, options);

        var split = ColdStartEvaluation.SplitItems(table, embeddings.Ids.ToHashSet(), 0.2, 42);
        var warmRows = Enumerable.Range(0, table.Count).Count(e => !split.IsCold[table.ItemIndex[e]]);
        Assert.Equal(warmRows, report.TrainRows); // no interaction of a held-out item is trained on
        Assert.Equal(60, report.ColdItems);
        Assert.True(report.UsersEvaluated > 300, $"{report.UsersEvaluated} users evaluated");

        // Random ranks 20 of the 60 candidates: recall about 1/3.
        Assert.InRange(report.Random.Recall20, 0.25, 0.42);
        Assert.True(report.Projection.Recall20 > report.Random.Recall20 + 0.25,
            $"projection recall@20 {report.Projection.Recall20:F3} vs random {report.Random.Recall20:F3}");
        Assert.True(report.Projection.Ndcg10 > 2 * report.Random.Ndcg10, $"projection ndcg@10 {report.Projection.Ndcg10:F3} vs random {report.Random.Ndcg10:F3}");

        var (_, noise) = Planted(informativeText: false);
        var control = ColdStartEvaluation.Run(table, noise, options);
        Assert.True(control.Projection.Recall20 < report.Projection.Recall20 - 0.2,
            $"with noise for text: recall@20 {control.Projection.Recall20:F3}, with text {report.Projection.Recall20:F3}");
    }

    /// <summary>
    /// Popularity planted in the text: item i has popularity exp(g_i), each user samples 15 items in proportion to it, and
    /// the first of the item's 8 embedding dimensions is g_i (plus a little noise). The baseline that predicts popularity
    /// from text must then rank the held-out items almost as well as the oracle popularity and far above random; with
    /// noise for text it must not.
    /// </summary>
    [Fact]
    public void Popularity_predicted_from_text_follows_the_popularity_the_text_carries()
    {
        const int users = 400, items = 300, d = 8, perUser = 15;
        var rng = new Random(7);
        var g = Enumerable.Range(0, items).Select(_ => Gaussian(rng)).ToArray();
        var userIds = new IdMap(Enumerable.Range(0, users).Select(u => $"u{u}"));
        var itemIds = new IdMap(Enumerable.Range(0, items).Select(i => $"i{i}"));
        var (ui, ii) = (new List<int>(), new List<int>());
        for (var u = 0; u < users; u++)
        {
            // Weighted sampling without replacement: the items with the largest g_i + Gumbel noise.
            foreach (var i in Enumerable.Range(0, items).OrderByDescending(i => g[i] - Math.Log(-Math.Log(1 - rng.NextDouble()))).Take(perUser))
            {
                ui.Add(u);
                ii.Add(i);
            }
        }
        var table = new InteractionTable(userIds, itemIds, ui.ToArray(), ii.ToArray(), Enumerable.Repeat(1f, ui.Count).ToArray());
        var settings = new EmbeddingSettings { Model = "planted", Pooling = "mean", MaxLength = 16, Dimension = d };
        ItemEmbeddings Embeddings(bool informative) => ItemEmbeddings.Create(itemIds.Ids.ToArray(),
            Enumerable.Range(0, items).Select(i => Enumerable.Range(0, d).Select(c => (float)(c == 0 && informative ? g[i] + 0.1 * Gaussian(rng) : Gaussian(rng))).ToArray()).ToArray(), settings);
        var options = new ColdStartOptions { ColdFraction = 0.2, Seed = 42, Wals = SmallWals, Threads = 1 };

        var report = ColdStartEvaluation.Run(table, Embeddings(informative: true), options);
        Assert.True(report.TextPopularity.Recall20 > report.Popularity.Recall20 - 0.05,
            $"text popularity {report.TextPopularity.Recall20:F3} vs oracle popularity {report.Popularity.Recall20:F3}");
        Assert.True(report.TextPopularity.Recall20 > report.Random.Recall20 + 0.1,
            $"text popularity {report.TextPopularity.Recall20:F3} vs random {report.Random.Recall20:F3}");

        var control = ColdStartEvaluation.Run(table, Embeddings(informative: false), options);
        Assert.True(control.TextPopularity.Recall20 < control.Popularity.Recall20 - 0.1,
            $"with noise for text: text popularity {control.TextPopularity.Recall20:F3}, oracle popularity {control.Popularity.Recall20:F3}");
    }

    [Fact]
    public void Integer_weights_fit_exactly_as_repeated_items()
    {
        var (_, embeddings) = Planted(informativeText: true);
        var rng = new Random(5);
        const int k = 3;
        var factors = Enumerable.Range(0, embeddings.Count * k).Select(_ => (float)Gaussian(rng)).ToArray();
        var pairs = Enumerable.Range(0, embeddings.Count).Select(i => (i, i)).ToList();
        var weights = Enumerable.Range(0, embeddings.Count).Select(i => 1 + i % 3).ToList();
        var weighted = ProjectionTraining.Fit(factors, k, embeddings, pairs, 0.1, seed: 9, weights);

        // The same split by hand, each pair added weight times, fitted at the chosen mu.
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new Core.Synthetic.Xoshiro256StarStar(9).Shuffle(order.AsSpan());
        var all = new ProjectionSums(embeddings.Dimension, k);
        foreach (var j in order)
        {
            for (var w = 0; w < weights[j]; w++)
            {
                all.Add(embeddings.Vector(j), factors.AsSpan(j * k, k));
            }
        }
        var manual = RidgeProjection.Fit(all, weighted.Fit.Mu);
        Assert.Equal(manual.W.Length, weighted.Projection.W.Length);
        for (var i = 0; i < manual.W.Length; i++)
        {
            Assert.Equal(manual.W[i], weighted.Projection.W[i], 1e-4f);
        }
        Assert.Equal(30, weighted.Info.ValidationItems);
        Assert.Equal(270, weighted.Info.TrainItems);

        var unweighted = ProjectionTraining.Fit(factors, k, embeddings, pairs, 0.1, seed: 9);
        Assert.NotEqual(unweighted.Projection.W, weighted.Projection.W);
    }

    [Theory]
    [InlineData(ProjectionWeighting.None, 1000, 1)]
    [InlineData(ProjectionWeighting.LogCount, 0, 1)]
    [InlineData(ProjectionWeighting.LogCount, 1, 1)]
    [InlineData(ProjectionWeighting.LogCount, 2, 2)]
    [InlineData(ProjectionWeighting.LogCount, 7, 3)]
    [InlineData(ProjectionWeighting.LogCount, 8, 4)]
    [InlineData(ProjectionWeighting.LogCount, 1024, 11)]
    public void Log_count_weight_is_one_plus_floor_log2(ProjectionWeighting weighting, int interactions, int expected) =>
        Assert.Equal(expected, ProjectionTraining.Weight(weighting, interactions));

    [Fact]
    public void Attached_projection_adds_text_only_items_and_survives_the_model_file()
    {
        var (table, embeddings) = Planted(informativeText: true);
        // Train on the interactions of the first 250 items only; the other 50 have text but no interactions.
        var keep = Enumerable.Range(0, table.Count).Where(e => table.ItemIndex[e] < 250).ToArray();
        var items = new IdMap(Enumerable.Range(0, 250).Select(i => $"i{i}"));
        var matrix = CsrMatrix.FromCoordinates(table.Users.Count, 250, keep.Select(e => table.UserIndex[e]).ToArray(),
            keep.Select(e => table.ItemIndex[e]).ToArray(), keep.Select(_ => 1f).ToArray());
        var trained = new WalsTrainer(SmallWals).Train(matrix);
        var model = new FactorModel(table.Users, items, SmallWals.Factors, trained.UserFactors, trained.ItemFactors, SmallWals, new TrainingMetadata());
        var saved = new SavedModel(model, matrix, []);

        var fit = ProjectionTraining.FitOnModel(saved, embeddings, 0.1, seed: 1, ProjectionWeighting.LogCount);
        var (attached, section) = ProjectionTraining.Attach(saved, embeddings, fit);
        Assert.Equal(300, attached.Model.Items.Count);
        Assert.Equal(300, attached.Train.Columns);
        Assert.Equal(matrix.NonZeros, attached.Train.NonZeros);
        Assert.Equal(Enumerable.Range(250, 50).Select(i => $"i{i}"), section.Fit.ProjectedItems);
        // The trained items keep their factors; any of the 250 without an interaction gets its text's (as the next test checks).
        var counts = ProjectionTraining.ItemCounts(matrix);
        for (var i = 0; i < 250; i++)
        {
            Assert.Equal(counts[i] > 0 ? model.ItemVector(i).ToArray() : fit.Projection.Apply(embeddings.Vector(embeddings.Ids.ToList().IndexOf($"i{i}"))),
                attached.Model.ItemVector(i).ToArray());
        }

        var path = Path.Combine(Path.GetTempPath(), $"wals-coldstart-{Guid.NewGuid():N}.walsmodel");
        try
        {
            attached.Save(path);
            var loaded = SavedModel.Load(path);
            var read = ProjectionSection.Find(loaded, path);
            Assert.NotNull(read);
            Assert.Equal(fit.Projection.W, read.Projection.W);
            Assert.Equal(fit.Projection.Bias, read.Projection.Bias);
            Assert.Equal("planted", read.Embedding.Model);
            Assert.True(read.Embedding.SameEncoding(embeddings.Settings));
            Assert.Equal(section.Fit.ProjectedItems, read.Fit.ProjectedItems);
            var row = loaded.Model.Items.IndexOf("i270");
            Assert.Equal(read.Projection.Apply(embeddings.Vector(270)), loaded.Model.ItemVector(row).ToArray());

            // Attaching again replaces the section instead of adding a second one.
            var (again, _) = ProjectionTraining.Attach(loaded, embeddings, fit);
            Assert.Single(again.OtherSections, s => s.Name == ProjectionSection.Name);
            Assert.Equal(300, again.Model.Items.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Items_of_the_model_without_training_interactions_get_their_factors_from_text()
    {
        // Regression: items whose interactions were all in the test part (train --test / --test-fraction) kept the near-zero
        // factors training left them, where the docs (and the cluster's text-only items) give them W^T e + b.
        var (table, embeddings) = Planted(informativeText: true);
        var keep = Enumerable.Range(0, table.Count).Where(e => table.ItemIndex[e] < 280).ToArray();
        var matrix = CsrMatrix.FromCoordinates(table.Users.Count, 300, keep.Select(e => table.UserIndex[e]).ToArray(),
            keep.Select(e => table.ItemIndex[e]).ToArray(), keep.Select(_ => 1f).ToArray());
        var trained = new WalsTrainer(SmallWals).Train(matrix);
        var model = new FactorModel(table.Users, table.Items, SmallWals.Factors, trained.UserFactors, trained.ItemFactors, SmallWals, new TrainingMetadata());
        var saved = new SavedModel(model, matrix, []);
        var fit = ProjectionTraining.FitOnModel(saved, embeddings, 0.1, seed: 1, ProjectionWeighting.Count);
        var (attached, section) = ProjectionTraining.Attach(saved, embeddings, fit);
        Assert.Equal(300, attached.Model.Items.Count);
        Assert.Empty(section.Fit.ProjectedItems); // none added: they were in the model already
        var counts = ProjectionTraining.ItemCounts(matrix);
        Assert.All(Enumerable.Range(280, 20), i => Assert.Equal(0, counts[i]));
        for (var i = 0; i < 300; i++)
        {
            var expected = counts[i] > 0 ? model.ItemVector(i).ToArray() : fit.Projection.Apply(embeddings.Vector(embeddings.Ids.ToList().IndexOf($"i{i}")));
            Assert.Equal(expected, attached.Model.ItemVector(i).ToArray());
        }
        Assert.True(attached.Model.ItemVector(290).ToArray().Sum(v => v * v) > 1e-3, "a projected row is not near 0");
    }

    [Fact]
    public void Corrupt_projection_section_names_the_model_file()
    {
        var section = new ModelSection(ProjectionSection.Name, [1, 0, 0]);
        var e = Assert.Throws<ModelFormatException>(() => ProjectionSection.FromModelSection(section, "m.walsmodel"));
        Assert.Contains("m.walsmodel", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Too_few_warm_items_with_text_is_a_clear_error()
    {
        var (_, embeddings) = Planted(informativeText: true);
        var e = Assert.Throws<ArgumentException>(() => ProjectionTraining.Fit(new float[4], 2, embeddings, [(0, 0), (1, 1)]));
        Assert.Contains("item-text ids", e.Message);
    }
}
