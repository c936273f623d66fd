using WalsCluster.Core.Model;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Projection;

namespace WalsCluster.Embedding.Tests;

/// <summary>The text-only map that free-text queries are projected with when item vectors carry metadata features.</summary>
public sealed class QueryProjectionTests
{
    private const int Text = 12, Features = 4, K = 5, Items = 90;

    // Genres A, B, one decade and the tag count: 4 features after a 12-value text vector.
    private static readonly MetadataFeatures Metadata = new() { Genres = ["A", "B"], FirstDecade = 1990, Decades = 1 };

    private static (ItemEmbeddings WithFeatures, ItemEmbeddings TextOnly, float[] Factors, List<(int, int)> Pairs, List<int> Weights) Data(int seed)
    {
        var rng = new Random(seed);
        var ids = Enumerable.Range(0, Items).Select(i => $"i{i}").ToArray();
        var full = new float[Items][];
        for (var i = 0; i < Items; i++)
        {
            full[i] = Enumerable.Range(0, Text).Select(_ => (float)(rng.NextDouble() * 2 - 1))
                .Concat([rng.Next(2), rng.Next(2), 1, (float)Math.Log(1 + rng.Next(5))]).ToArray();
        }
        var factors = Enumerable.Range(0, Items * K).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var plain = new EmbeddingSettings { Model = "planted", Pooling = "mean", MaxLength = 16, Dimension = Text };
        var withFeatures = ItemEmbeddings.Create(ids, full, plain.WithMetadata(Metadata));
        var textOnly = ItemEmbeddings.Create(ids, full.Select(v => v[..Text]).ToArray(), plain);
        var pairs = Enumerable.Range(0, Items).Select(i => (i, i)).ToList();
        var weights = Enumerable.Range(0, Items).Select(i => 1 + i % 7).ToList();
        return (withFeatures, textOnly, factors, pairs, weights);
    }

    [Fact]
    public void Leading_sums_equal_the_sums_of_the_cut_vectors()
    {
        var (withFeatures, textOnly, factors, _, weights) = Data(1);
        var full = new ProjectionSums(Text + Features, K);
        var cut = new ProjectionSums(Text, K);
        for (var i = 0; i < Items; i++)
        {
            full.Add(withFeatures.Vector(i), factors.AsSpan(i * K, K), weights[i]);
            cut.Add(textOnly.Vector(i), factors.AsSpan(i * K, K), weights[i]);
        }
        var lead = full.Leading(Text);
        Assert.Equal((Text, K, cut.Count, cut.SumYY), (lead.D, lead.K, lead.Count, lead.SumYY));
        Assert.Equal(cut.SumE, lead.SumE);
        Assert.Equal(cut.SumY, lead.SumY);
        Assert.Equal(cut.EtE, lead.EtE);
        Assert.Equal(cut.EtY, lead.EtY);
        Assert.Throws<ArgumentOutOfRangeException>(() => full.Leading(Text + Features + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => full.Leading(0));
    }

    [Fact]
    public void With_metadata_features_the_query_map_is_the_ridge_of_the_text_part_alone()
    {
        var (withFeatures, textOnly, factors, pairs, weights) = Data(2);
        var fit = ProjectionTraining.Fit(factors, K, withFeatures, pairs, 0.2, seed: 5, weights);
        var reference = ProjectionTraining.Fit(factors, K, textOnly, pairs, 0.2, seed: 5, weights);
        Assert.NotNull(fit.QueryFit);
        Assert.Null(reference.QueryFit);
        Assert.Same(reference.Projection, reference.TextProjection);
        Assert.Equal(Text + Features, fit.Projection.D);
        var query = fit.TextProjection;
        Assert.Equal(Text, query.D);
        Assert.Equal(reference.Fit.Mu, query.Mu, 12);
        Assert.Equal(reference.Fit.Mu, fit.Info.QueryMu!.Value, 12);
        for (var i = 0; i < query.W.Length; i++)
        {
            Assert.Equal(reference.Projection.W[i], query.W[i], 1e-5f);
        }
        for (var c = 0; c < K; c++)
        {
            Assert.Equal(reference.Projection.Bias[c], query.Bias[c], 1e-5f);
        }
        // The full map uses the features: the two maps disagree on an item's vector.
        var item = fit.Projection.Apply(withFeatures.Vector(3));
        Assert.True(item.Zip(query.Apply(textOnly.Vector(3))).Max(t => Math.Abs(t.First - t.Second)) > 1e-3);
        Assert.Null(ProjectionTraining.Fit(factors, K, withFeatures, pairs, 0.2, seed: 5, weights, textQueries: false).QueryFit);
    }

    [Fact]
    public void The_model_file_keeps_the_query_map_and_text_queries_use_it()
    {
        var (withFeatures, textOnly, factors, pairs, weights) = Data(3);
        var fit = ProjectionTraining.Fit(factors, K, withFeatures, pairs, 0.2, seed: 5, weights);
        var section = new ProjectionSection(withFeatures.Settings, fit.Info, fit.Projection, fit.QueryFit!.Projection);
        var read = ProjectionSection.FromModelSection(section.ToModelSection(), "m.walsmodel");
        Assert.Equal(fit.Projection.W, read.Projection.W);
        Assert.NotNull(read.QueryProjection);
        Assert.Equal(fit.QueryFit.Projection.W, read.QueryProjection.W);
        Assert.Equal(fit.QueryFit.Projection.Bias, read.QueryProjection.Bias);
        Assert.Equal(fit.Info.QueryMu, read.Fit.QueryMu);
        Assert.Same(read.QueryProjection, read.ForTextQueries("m.walsmodel"));

        // Without features one map serves items and queries.
        var plainFit = ProjectionTraining.Fit(factors, K, textOnly, pairs, 0.2, seed: 5, weights);
        var plain = ProjectionSection.FromModelSection(new ProjectionSection(textOnly.Settings, plainFit.Info, plainFit.Projection).ToModelSection(), "p.walsmodel");
        Assert.Null(plain.QueryProjection);
        Assert.Null(plain.Fit.QueryMu);
        Assert.Same(plain.Projection, plain.ForTextQueries("p.walsmodel"));

        // A section with features but no query map (written before there were any) cannot answer a text query.
        var old = ProjectionSection.FromModelSection(new ProjectionSection(withFeatures.Settings, fit.Info, fit.Projection).ToModelSection(), "old.walsmodel");
        var e = Assert.Throws<ArgumentException>(() => old.ForTextQueries("old.walsmodel"));
        Assert.Contains("old.walsmodel", e.Message);
        Assert.Contains("--item-text", e.Message);
    }

    [Fact]
    public void A_query_map_of_the_wrong_shape_is_a_format_error_naming_the_file()
    {
        var (withFeatures, _, factors, pairs, weights) = Data(4);
        var fit = ProjectionTraining.Fit(factors, K, withFeatures, pairs, 0.2, seed: 5, weights);
        // The full map where the text-only one belongs: 16 inputs instead of 12.
        var wrong = new ProjectionSection(withFeatures.Settings, fit.Info, fit.Projection, fit.Projection).ToModelSection();
        var e = Assert.Throws<ModelFormatException>(() => ProjectionSection.FromModelSection(wrong, "m.walsmodel"));
        Assert.Contains("m.walsmodel", e.Message);
        Assert.Contains("query projection", e.Message);
        // A cut-off second map.
        var bytes = new ProjectionSection(withFeatures.Settings, fit.Info, fit.Projection, fit.QueryFit!.Projection).ToModelSection().Payload;
        var truncated = new ModelSection(ProjectionSection.Name, bytes[..^8]);
        Assert.Contains("m.walsmodel", Assert.Throws<ModelFormatException>(() => ProjectionSection.FromModelSection(truncated, "m.walsmodel")).Message);
    }
}
