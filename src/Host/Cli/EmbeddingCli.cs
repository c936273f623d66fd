using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using WalsCluster.Core.Data;
using WalsCluster.Embedding;
using WalsCluster.Embedding.ColdStart;
using WalsCluster.Embedding.Models;

namespace WalsCluster.Host.Cli;

/// <summary>
/// The encoder options of the verbs that embed text. <c>wals embed</c> spells them <c>--model</c>, <c>--device</c>, ...;
/// the verbs that also have a model file (train, evaluate, recommend) spell them <c>--embedding-model</c>, <c>--embedding-device</c>, ...
/// </summary>
internal sealed class EmbeddingOptions
{
    public EmbeddingOptions(string prefix)
    {
        Model = new Option<string>($"--{prefix}model") { Description = "Encoder: 'minilm' (all-MiniLM-L6-v2, built in) or a model folder (model.onnx, config.json, vocab.txt or vocab.json + merges.txt).", DefaultValueFactory = _ => ModelCatalog.MiniLm };
        Device = new Option<string>($"--{prefix}device") { Description = "cpu or cuda:N (needs the -p:WalsGpu=true build and CUDA; otherwise falls back to cpu with a warning).", DefaultValueFactory = _ => "cpu" };
        Batch = new Option<int>($"--{prefix}batch") { Description = "Texts per ONNX Runtime run (padded to the longest in the batch).", DefaultValueFactory = _ => 32 };
        MaxLength = new Option<int>($"--{prefix}max-length") { Description = "Tokens per text, special tokens included (capped at the model's limit).", DefaultValueFactory = _ => 128 };
        Pooling = new Option<string>($"--{prefix}pooling") { Description = "layers (masked mean of the mean of the top --{prefix}layers hidden states), cls, mean (last layer) or pooler.", DefaultValueFactory = _ => "layers" };
        Layers = new Option<int>($"--{prefix}layers") { Description = "N, the hidden states mixed by 'layers' pooling.", DefaultValueFactory = _ => 4 };
        Threads = new Option<int>($"--{prefix}threads") { Description = "ONNX Runtime intra-op threads; 0 = one per core.", DefaultValueFactory = _ => 0 };
        Metadata = new Option<bool?>($"--{prefix}metadata-features")
        {
            Description = "Append structured features to each item's vector: one indicator per genre, one per decade of the title's (YYYY), " +
                "and log(1 + tags); text queries use a second map fitted on the text part alone. Default: on for a movielens:DIR source " +
                $"(the only one with those fields), off otherwise; '--{prefix}metadata-features false' leaves them out.",
        };
    }

    public Option<string> Model { get; }
    public Option<string> Device { get; }
    public Option<int> Batch { get; }
    public Option<int> MaxLength { get; }
    public Option<string> Pooling { get; }
    public Option<int> Layers { get; }
    public Option<int> Threads { get; }
    public Option<bool?> Metadata { get; }

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The options given on the command line (not defaulted), by name.</summary>
    public IReadOnlyList<string> Given(ParseResult result) =>
        All.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();

    private Option[] All => [Model, Device, Batch, MaxLength, Pooling, Layers, Threads, Metadata];

    public EncoderRequest Read(ParseResult result)
    {
        var batch = result.GetValue(Batch);
        if (batch < 1)
        {
            throw new ArgumentException($"Option '{Batch.Name.TrimStart('-')}' = {batch} is invalid: it must be >= 1.");
        }
        var maxLength = result.GetValue(MaxLength);
        if (maxLength < 2)
        {
            throw new ArgumentException($"Option '{MaxLength.Name.TrimStart('-')}' = {maxLength} is invalid: it must be >= 2.");
        }
        var threads = result.GetValue(Threads);
        if (threads < 0)
        {
            throw new ArgumentException($"Option '{Threads.Name.TrimStart('-')}' = {threads} is invalid: it must be >= 0.");
        }
        var layers = result.GetValue(Layers);
        if (layers < 1)
        {
            throw new ArgumentException($"Option '{Layers.Name.TrimStart('-')}' = {layers} is invalid: it must be >= 1.");
        }
        PoolingMode mode;
        try
        {
            mode = PoolingOptions.ParseMode(result.GetValue(Pooling)!);
            ExecutionDevice.Parse(result.GetValue(Device)!);
        }
        catch (FormatException e)
        {
            throw new ArgumentException(e.Message, e);
        }
        return new EncoderRequest(result.GetValue(Model)!, batch, new EncoderOptions
        {
            Device = result.GetValue(Device)!,
            IntraOpThreads = threads,
            MaxLength = maxLength,
            Pooling = new PoolingOptions { Mode = mode, LayerCount = layers },
        }, result.GetValue(Metadata));
    }
}

/// <summary>Which encoder to run and how; <paramref name="MetadataFeatures"/>: append
/// <see cref="WalsCluster.Embedding.ColdStart.MetadataFeatures"/> (null: when the source is <c>movielens:DIR</c>).</summary>
internal sealed record EncoderRequest(string Model, int BatchSize, EncoderOptions Options, bool? MetadataFeatures = null)
{
    /// <summary>Whether vectors embedded from <paramref name="source"/> get the features.</summary>
    public bool MetadataFor(string source) => MetadataFeatures ?? EmbeddingRunner.IsMovieLens(source);
}

/// <summary>Runs encoders for the CLI: creation with the fallback warning, progress with texts/s.</summary>
internal static class EmbeddingRunner
{
    /// <summary>Loads the model (catalogue name or folder) and creates the encoder; a CUDA fallback prints its warning.</summary>
    public static TextEncoder CreateEncoder(string model, EncoderOptions options, bool json)
    {
        EncoderModel loaded;
        var path = string.Equals(model, ModelCatalog.MiniLm, StringComparison.OrdinalIgnoreCase) ? model : Path.GetFullPath(model);
        loaded = ModelCatalog.Load(path);
        TextEncoder encoder;
        try
        {
            encoder = TextEncoder.Create(loaded, options);
        }
        catch (NotSupportedException e)
        {
            throw new ArgumentException(e.Message, e);
        }
        if (encoder.Info.Warning is { } warning)
        {
            Console.Error.WriteLine($"warning: {warning}");
        }
        Output.Note(json, $"encoder {EmbeddingSettings.From(encoder.Info)} on {encoder.Info.Device}, {(options.IntraOpThreads == 0 ? "all cores" : $"{options.IntraOpThreads} threads")}");
        return encoder;
    }

    /// <summary>Embeds <paramref name="records"/> in batches with a progress display (a bar on an interactive terminal,
    /// else a line every 5 s on stderr) and returns the vectors with the settings that made them.</summary>
    public static (ItemEmbeddings Embeddings, double Seconds) Embed(IReadOnlyList<ItemTextRecord> records, EncoderRequest request, bool json)
    {
        using var encoder = CreateEncoder(request.Model, request.Options, json);
        return Embed(encoder, records, request.BatchSize, json);
    }

    public static (ItemEmbeddings Embeddings, double Seconds) Embed(TextEncoder encoder, IReadOnlyList<ItemTextRecord> records, int batchSize, bool json)
    {
        var texts = records.Select(r => r.Text).ToArray();
        var watch = Stopwatch.StartNew();
        float[][] vectors;
        if (!json && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            vectors = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("embedding", maxValue: Math.Max(1, texts.Length));
                    vectors = encoder.EmbedAll(texts, batchSize, new Progress(done =>
                    {
                        task.Value = done;
                        task.Description = $"embedding {done:N0}/{texts.Length:N0} ({done / Math.Max(watch.Elapsed.TotalSeconds, 1e-9):F0} texts/s)";
                    }));
                });
        }
        else
        {
            var last = TimeSpan.Zero;
            vectors = encoder.EmbedAll(texts, batchSize, new Progress(done =>
            {
                if (watch.Elapsed - last >= TimeSpan.FromSeconds(5) && done < texts.Length)
                {
                    last = watch.Elapsed;
                    Console.Error.WriteLine($"embedded {done:N0}/{texts.Length:N0} texts ({done / watch.Elapsed.TotalSeconds:F0} texts/s)");
                }
            }));
        }
        var seconds = watch.Elapsed.TotalSeconds;
        Output.Note(json, $"embedded {texts.Length:N0} texts in {seconds:F1} s ({texts.Length / Math.Max(seconds, 1e-9):F1} texts/s) on {encoder.Info.Device}");
        return (ItemEmbeddings.Create(records.Select(r => r.Id).ToArray(), vectors, EmbeddingSettings.From(encoder.Info)), seconds);
    }

    /// <summary>
    /// Item vectors from <paramref name="source"/>: an embeddings file written by <c>wals embed</c> (recognised by its
    /// header; used as it is) or an item-text source (id,text CSV, JSONL, <c>movielens:DIR</c>) embedded now.
    /// <paramref name="keep"/> picks the records to embed (null: all).
    /// </summary>
    public static ItemEmbeddings Load(string source, EncoderRequest request, bool json, Func<string, bool>? keep = null)
    {
        if (EmbeddingFile.IsEmbeddingFile(source))
        {
            var embeddings = EmbeddingFile.Read(source);
            if (request.MetadataFeatures == true && embeddings.Settings.Metadata is null)
            {
                throw new ArgumentException($"The embeddings file {source} has no metadata features; make it with 'wals embed --metadata-features', or embed movielens:DIR here.");
            }
            if (request.MetadataFeatures == false && embeddings.Settings.Metadata is { } metadata)
            {
                throw new ArgumentException($"The embeddings file {source} carries {metadata.Count} metadata features; make it with 'wals embed --metadata-features false', " +
                    "or leave the option out.");
            }
            Output.Note(json, $"read {embeddings.Count:N0} item vectors from {source} ({embeddings.Settings}); the embedding options are not used");
            return embeddings;
        }
        CheckMetadataSource(source, request.MetadataFeatures);
        var records = ItemTextFile.Read(source);
        var kept = keep is null ? records : records.Where(r => keep(r.Id)).ToList();
        Output.Note(json, $"read {records.Count:N0} item texts from {source}" + (kept.Count == records.Count ? "" : $"; embedding the {kept.Count:N0} needed"));
        return WithMetadata(Embed(kept, request, json).Embeddings, source, request, json);
    }

    /// <summary>A <c>movielens:DIR</c> source: the one with genres, years and tags, so the metadata features' default.</summary>
    public static bool IsMovieLens(string source) => source.StartsWith(ItemTextFile.MovieLensPrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses, before anything is embedded, an explicit request for metadata features from a source that has none.</summary>
    public static void CheckMetadataSource(string source, bool? metadataFeatures)
    {
        if (metadataFeatures == true && !IsMovieLens(source))
        {
            throw new ArgumentException($"Metadata features need a {ItemTextFile.MovieLensPrefix}DIR item source (genres, the title's year and tags); '{source}' has ids and texts only.");
        }
    }

    /// <summary>
    /// <paramref name="embeddings"/> with the metadata features of <paramref name="source"/> appended when the request asks
    /// for them (<c>movielens:DIR</c> only: the other sources have an id and a text, no fields), else as they are. The
    /// callers refuse other sources first (<see cref="CheckMetadataSource"/>), before anything is embedded.
    /// </summary>
    public static ItemEmbeddings WithMetadata(ItemEmbeddings embeddings, string source, EncoderRequest request, bool json)
    {
        if (!request.MetadataFor(source))
        {
            return embeddings;
        }
        var items = MovieLensFields(source);
        var features = MetadataFeatures.Of(items.Values);
        Output.Note(json, Describe(features));
        return features.AppendTo(embeddings, items);
    }

    /// <summary>The title, genres and tags of every movie of a <c>movielens:DIR</c> source, by id.</summary>
    public static IReadOnlyDictionary<string, ItemText> MovieLensFields(string source)
    {
        var directory = source[ItemTextFile.MovieLensPrefix.Length..];
        var tags = Path.Combine(directory, "tags.csv");
        return ItemTexts.ReadMovieLens(Path.Combine(directory, "movies.csv"), File.Exists(tags) ? tags : null);
    }

    /// <summary>One line on a vocabulary of metadata features.</summary>
    public static string Describe(MetadataFeatures features) =>
        $"metadata features: {features.Genres.Count} genres, {features.Decades} decades from the {features.FirstDecade}s, log(1 + tags): {features.Count} values appended to each vector";

    private sealed class Progress(Action<int> action) : IProgress<int>
    {
        public void Report(int value) => action(value);
    }
}
