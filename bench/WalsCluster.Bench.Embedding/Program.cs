using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using WalsCluster.Core.Data;
using WalsCluster.Core.LinearAlgebra;
using WalsCluster.Embedding;
using WalsCluster.Embedding.Bench;
using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Synthetic;

namespace WalsCluster.Bench.Embedding;

/// <summary>
/// Embedding throughput: texts per second of an encoder at a batch size and max length, beside the floating-point work
/// per text and the machine's measured float GEMM peak. Usage (all optional):
/// <code>
/// dotnet run -c Release --project bench/WalsCluster.Bench.Embedding -- [--texts FILE] [--column title] [--limit N]
///     [--model minilm|DIR|synthetic-base] [--device cpu|cuda:0] [--threads 2] [--batch 32] [--max-length 128]
///     [--gemm-threads T] [--order length|input|both] [--json]
/// </code>
/// <c>--order</c>: batches of texts of similar token counts (length, what <c>wals embed</c> does) or of consecutive texts
/// (input); both measures the two in one run, input first, and prints a report for each (the last is the length one).
/// FLOPs per text of a BERT-style encoder with L layers, hidden H, FFN 4H and sequence length s:
/// L (24 s H^2 + 4 s^2 H): per layer Q, K, V and output projections 4 x 2 s H^2, the FFN 2 x 2 s H (4H), attention scores
/// and the weighted sum of values 2 x 2 s^2 H (embeddings, layer norms, softmax and pooling are left out). Reported for
/// s = the text's own token count and for s = its batch's padded length (what the runtime really computes).
/// <c>text-queries --model M</c> measures free-text queries instead (<see cref="TextQueries"/>).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "text-queries")
        {
            return TextQueries.Run(Args.Parse(args[1..]));
        }
        var options = Args.Parse(args);
        var textsPath = options.Get("texts", Path.Combine("..", "shared", "datasets", "goodbooks-10k", "books.csv"));
        var column = options.Get("column", "title");
        var limit = int.Parse(options.Get("limit", "0"), CultureInfo.InvariantCulture);
        var modelName = options.Get("model", ModelCatalog.MiniLm);
        var device = options.Get("device", "cpu");
        var threads = int.Parse(options.Get("threads", "2"), CultureInfo.InvariantCulture);
        var batch = int.Parse(options.Get("batch", "32"), CultureInfo.InvariantCulture);
        var maxLength = int.Parse(options.Get("max-length", "128"), CultureInfo.InvariantCulture);
        var gemmThreads = int.Parse(options.Get("gemm-threads", threads > 0 ? threads.ToString(CultureInfo.InvariantCulture) : Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var json = options.Has("json");
        var orderOption = options.Get("order", "length");
        BatchOrder[] orders = orderOption switch
        {
            "length" => [BatchOrder.ByLength],
            "input" => [BatchOrder.Input],
            "both" => [BatchOrder.Input, BatchOrder.ByLength],
            _ => throw new ArgumentException($"Option 'order' = {orderOption} is invalid: use length, input or both."),
        };

        var loadBefore = LoadAverage();
        var texts = ReadColumn(textsPath, column);
        if (limit > 0 && texts.Count > limit)
        {
            texts = texts.Take(limit).ToList();
        }
        Console.Error.WriteLine($"{texts.Count:N0} texts from {textsPath} (column '{column}'); load average {loadBefore}");

        string? temporary = null;
        EncoderModel model;
        if (modelName == "synthetic-base")
        {
            temporary = Path.Combine(Path.GetTempPath(), "wals-synthetic-roberta-base-" + Environment.ProcessId);
            Console.Error.WriteLine($"building a roberta-base-sized model with random weights in {temporary} ...");
            SyntheticRoberta.WriteModelFolder(temporary, SyntheticRoberta.RandomWeights(RobertaShape.Base, seed: 1, scale: 0.02f), ByteLevelBpeVocabulary.Tiny);
            model = ModelCatalog.Load(temporary);
        }
        else
        {
            model = ModelCatalog.Load(modelName);
        }

        try
        {
            using var encoder = TextEncoder.Create(model, new EncoderOptions
            {
                Device = device,
                IntraOpThreads = threads,
                MaxLength = maxLength,
                Pooling = new PoolingOptions { Mode = PoolingMode.Layers, LayerCount = 4 },
            });
            if (encoder.Info.Warning is { } warning)
            {
                Console.Error.WriteLine($"warning: {warning}");
            }
            var layers = encoder.Info.HiddenStates - 1;
            var hidden = encoder.Info.Dimension;
            Console.Error.WriteLine($"encoder {modelName} on {encoder.Info.Device}: {layers} layers, hidden {hidden}, max length {encoder.Info.MaxLength}, {threads} intra-op threads, batch {batch}");

            var lengths = texts.Select(t => encoder.Tokenizer.EncodeIds(t, encoder.Info.MaxLength).Count).ToArray();
            Console.Error.WriteLine("measuring float GEMM peak (MatrixKernels.MultiplyInPlace, 8192 x H times H x H) ...");
            var gemm1 = GemmGflops(hidden, 1);
            var gemmN = gemmThreads > 1 ? GemmGflops(hidden, gemmThreads) : gemm1;
            foreach (var order in orders)
            {
                // The batches EmbedAll forms for this order, and the work they really cost (padded) beside the texts' own.
                var sequence = TextEncoder.BatchSequence(lengths, batch, order);
                double flopsOwn = 0, flopsPadded = 0, paddedTokens = 0;
                for (var start = 0; start < sequence.Length; start += batch)
                {
                    var end = Math.Min(sequence.Length, start + batch);
                    var padded = 0;
                    for (var i = start; i < end; i++)
                    {
                        padded = Math.Max(padded, lengths[sequence[i]]);
                    }
                    for (var i = start; i < end; i++)
                    {
                        flopsOwn += Flops(layers, hidden, lengths[sequence[i]]);
                        flopsPadded += Flops(layers, hidden, padded);
                        paddedTokens += padded;
                    }
                }
                flopsOwn /= lengths.Length;
                flopsPadded /= lengths.Length;

                var loadBeforeRun = LoadAverage();
                var result = Throughput.Measure(encoder, texts, batch, warmupBatches: 2, order);
                var loadAfter = LoadAverage();
                var achieved = flopsPadded * result.TextsPerSecond / 1e9;
                var report = new Dictionary<string, object?>
                {
                    ["model"] = modelName,
                    ["device"] = encoder.Info.Device,
                    ["requested_device"] = device,
                    ["layers"] = layers,
                    ["hidden"] = hidden,
                    ["texts"] = result.Texts,
                    ["batch"] = batch,
                    ["order"] = order == BatchOrder.ByLength ? "length" : "input",
                    ["max_length"] = encoder.Info.MaxLength,
                    ["intra_op_threads"] = threads,
                    ["seconds"] = result.Seconds,
                    ["texts_per_second"] = result.TextsPerSecond,
                    ["mean_tokens"] = lengths.Average(),
                    ["mean_padded_tokens"] = paddedTokens / lengths.Length,
                    ["gflop_per_text_own_length"] = flopsOwn / 1e9,
                    ["gflop_per_text_padded"] = flopsPadded / 1e9,
                    ["achieved_gflops"] = achieved,
                    ["gemm_gflops_1_thread"] = gemm1,
                    [$"gemm_gflops_{gemmThreads}_threads"] = gemmN,
                    ["share_of_gemm_peak"] = achieved / gemmN,
                    ["load_average_before"] = loadBeforeRun,
                    ["load_average_after"] = loadAfter,
                    ["processors"] = Environment.ProcessorCount,
                };
                if (json)
                {
                    Console.WriteLine(JsonSerializer.Serialize(report));
                }
                else
                {
                    foreach (var (key, value) in report)
                    {
                        Console.WriteLine($"{key,-28} {(value is double d ? d.ToString("G5", CultureInfo.InvariantCulture) : value)}");
                    }
                    Console.WriteLine();
                }
            }
            return 0;
        }
        finally
        {
            if (temporary is not null)
            {
                Directory.Delete(temporary, recursive: true);
            }
        }
    }

    /// <summary>L (24 s H^2 + 4 s^2 H).</summary>
    private static double Flops(int layers, int hidden, int s) => layers * (24.0 * s * hidden * hidden + 4.0 * s * s * hidden);

    /// <summary>Best of 5 runs of a (8192 x H) = a * m (H x H): 2 * 8192 * H^2 flops each.</summary>
    private static double GemmGflops(int k, int threads)
    {
        const int rows = 8192;
        var rng = new Random(1);
        var a = Enumerable.Range(0, rows * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var m = Enumerable.Range(0, k * k).Select(_ => (float)(rng.NextDouble() - 0.5) / k).ToArray();
        MatrixKernels.MultiplyInPlace(a, rows, k, m, threads);
        var best = double.MaxValue;
        for (var run = 0; run < 5; run++)
        {
            var watch = Stopwatch.StartNew();
            MatrixKernels.MultiplyInPlace(a, rows, k, m, threads);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * rows * k * (double)k / best / 1e9;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>The column named <paramref name="column"/> of a CSV with a header (goodbooks books.csv: 'title').</summary>
    private static List<string> ReadColumn(string path, string column) =>
        DelimitedReader.ReadFile(path, ',', TextEncodingMode.Auto, reader =>
        {
            if (!reader.Read())
            {
                throw new DataFormatException($"{reader.FileName}: empty file");
            }
            var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetString).ToArray();
            var index = Array.IndexOf(names, column);
            if (index < 0)
            {
                throw new DataFormatException($"{reader.FileName}: no column '{column}' (columns: {string.Join(", ", names)})");
            }
            reader.FieldNames = names;
            var texts = new List<string>();
            while (reader.Read())
            {
                if (reader.FieldCount <= index)
                {
                    throw reader.Error(index, "missing");
                }
                texts.Add(reader.GetString(index));
            }
            return texts;
        });

    internal sealed class Args
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public static Args Parse(string[] args)
        {
            var parsed = new Args();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"Unexpected argument '{args[i]}'.");
                }
                var name = args[i][2..];
                parsed._values[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
            }
            return parsed;
        }

        public string Get(string name, string fallback) => _values.TryGetValue(name, out var value) ? value : fallback;

        public bool Has(string name) => _values.ContainsKey(name);
    }
}
