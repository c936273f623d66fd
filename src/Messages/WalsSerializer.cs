using Akka.Actor;
using Akka.Serialization;

namespace WalsCluster.Messages;

/// <summary>
/// The binary serializer of every <see cref="IWalsMessage"/>: a short constant manifest per type and a payload of
/// little-endian primitives; int and float arrays (factor blocks, Gram matrices) are copied as raw bytes, so a
/// factor block of n rows x k costs 4 n (k + 1) bytes plus a header. Bound in HOCON by <see cref="Hocon"/>.
/// </summary>
public sealed class WalsSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer id (above 100, the range Akka leaves to applications).</summary>
    public const int SerializerId = 4117;

    /// <summary>HOCON that registers this serializer and binds <see cref="IWalsMessage"/> to it.</summary>
    public const string Hocon = """
        akka.actor {
          serializers.wals = "WalsCluster.Messages.WalsSerializer, WalsCluster.Messages"
          serialization-bindings { "WalsCluster.Messages.IWalsMessage, WalsCluster.Messages" = wals }
          serialization-identifiers { "WalsCluster.Messages.WalsSerializer, WalsCluster.Messages" = 4117 }
        }
        """;

    private const string StartTrainingRunManifest = "st";
    private const string PrepareRunManifest = "pr";
    private const string RunPreparedManifest = "pd";
    private const string BeginHalfStepManifest = "bh";
    private const string PublishFactorsManifest = "pf";
    private const string FactorsPublishedManifest = "fp";
    private const string FactorBlockManifest = "fb";
    private const string HalfStepCompletedManifest = "hc";
    private const string TrainingProgressManifest = "tp";
    private const string TrainingCompletedManifest = "tc";
    private const string TrainingFailedManifest = "tf";
    private const string GetShardFactorsManifest = "gf";
    private const string ShardFactorsManifest = "sf";
    private const string GetShardStatusManifest = "gs";
    private const string ShardStatusManifest = "ss";
    private const string GetClusterLayoutManifest = "gl";
    private const string ClusterLayoutManifest = "cl";
    private const string ReserveTrainingRunManifest = "qr";
    private const string TrainingRunReservedManifest = "qd";
    private const string ReleaseTrainingRunManifest = "ql";
    private const string InteractionBatchManifest = "ib";
    private const string InteractionBatchAcceptedManifest = "ia";
    private const string RecommendManifest = "rc";
    private const string SimilarItemsManifest = "si";
    private const string RecommendForItemsManifest = "ri";
    private const string RecommendationsManifest = "rs";
    private const string GetRowVectorManifest = "gv";
    private const string RowVectorManifest = "rv";
    private const string ShardTopKManifest = "tk";
    private const string GetFoldInTermsManifest = "gi";
    private const string FoldInTermsManifest = "fi";
    private const string EmbedTextsManifest = "et";
    private const string TextsEmbeddedManifest = "te";
    private const string EmbeddingRejectedManifest = "er";
    private const string GetEncoderSettingsManifest = "ge";
    private const string EncoderSettingsReportManifest = "es";
    private const string ItemEmbeddingBatchManifest = "eb";
    private const string ItemEmbeddingsAcceptedManifest = "ea";
    private const string FitProjectionManifest = "fj";
    private const string GetProjectionSumsManifest = "gp";
    private const string ProjectionSumsReportManifest = "ps";
    private const string ApplyProjectionManifest = "ap";
    private const string ProjectionAppliedManifest = "pa";
    private const string ProjectionFittedManifest = "pj";
    private const string ProjectionFailedManifest = "px";
    private const string GetProjectionManifest = "gj";
    private const string RecommendForTextManifest = "rt";
    private const string RankShardItemsManifest = "rk";
    private const string GetColdItemVectorManifest = "cv";
    private const string GetColdItemsManifest = "gc";
    private const string ColdItemFactorsManifest = "cf";

    public WalsSerializer(ExtendedActorSystem system) : base(system)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("WalsSerializer copies arrays as little-endian bytes and needs a little-endian machine.");
        }
    }

    public override int Identifier => SerializerId;

    /// <summary>
    /// The exact serialized size of a <see cref="FactorBlock"/> of <paramref name="rows"/> rows of <paramref name="k"/>
    /// factors for run <paramref name="run"/>: 4 (k + 1) bytes per row plus a header of 37 bytes and the UTF-8 run id.
    /// </summary>
    public static long FactorBlockSize(string run, int rows, int k) => FactorBlockBytes(run, rows, (long)rows * k);

    // run (length + UTF-8), iteration, side, shard, source, part, parts, offset, rows (length + int32s), values (length + float32s).
    private static long FactorBlockBytes(string run, int rows, long values) =>
        4 + System.Text.Encoding.UTF8.GetByteCount(run) + 4 + 1 + 4 * 5 + 4 + 4L * rows + 4 + 4 * values;

    public override string Manifest(object o) => o switch
    {
        StartTrainingRun => StartTrainingRunManifest,
        PrepareRun => PrepareRunManifest,
        RunPrepared => RunPreparedManifest,
        BeginHalfStep => BeginHalfStepManifest,
        PublishFactors => PublishFactorsManifest,
        FactorsPublished => FactorsPublishedManifest,
        FactorBlock => FactorBlockManifest,
        HalfStepCompleted => HalfStepCompletedManifest,
        TrainingProgress => TrainingProgressManifest,
        TrainingCompleted => TrainingCompletedManifest,
        TrainingFailed => TrainingFailedManifest,
        GetShardFactors => GetShardFactorsManifest,
        ShardFactors => ShardFactorsManifest,
        GetShardStatus => GetShardStatusManifest,
        ShardStatus => ShardStatusManifest,
        GetClusterLayout => GetClusterLayoutManifest,
        ClusterLayout => ClusterLayoutManifest,
        ReserveTrainingRun => ReserveTrainingRunManifest,
        TrainingRunReserved => TrainingRunReservedManifest,
        ReleaseTrainingRun => ReleaseTrainingRunManifest,
        InteractionBatch => InteractionBatchManifest,
        InteractionBatchAccepted => InteractionBatchAcceptedManifest,
        Recommend => RecommendManifest,
        SimilarItems => SimilarItemsManifest,
        RecommendForItems => RecommendForItemsManifest,
        Recommendations => RecommendationsManifest,
        GetRowVector => GetRowVectorManifest,
        RowVector => RowVectorManifest,
        ShardTopK => ShardTopKManifest,
        GetFoldInTerms => GetFoldInTermsManifest,
        FoldInTerms => FoldInTermsManifest,
        EmbedTexts => EmbedTextsManifest,
        TextsEmbedded => TextsEmbeddedManifest,
        EmbeddingRejected => EmbeddingRejectedManifest,
        GetEncoderSettings => GetEncoderSettingsManifest,
        EncoderSettingsReport => EncoderSettingsReportManifest,
        ItemEmbeddingBatch => ItemEmbeddingBatchManifest,
        ItemEmbeddingsAccepted => ItemEmbeddingsAcceptedManifest,
        FitProjection => FitProjectionManifest,
        GetProjectionSums => GetProjectionSumsManifest,
        ProjectionSumsReport => ProjectionSumsReportManifest,
        ApplyProjection => ApplyProjectionManifest,
        ProjectionApplied => ProjectionAppliedManifest,
        ProjectionFitted => ProjectionFittedManifest,
        ProjectionFailed => ProjectionFailedManifest,
        GetProjection => GetProjectionManifest,
        RecommendForText => RecommendForTextManifest,
        RankShardItems => RankShardItemsManifest,
        GetColdItemVector => GetColdItemVectorManifest,
        GetColdItems => GetColdItemsManifest,
        ColdItemFactors => ColdItemFactorsManifest,
        _ => throw new ArgumentException($"WalsSerializer cannot serialize {o.GetType().FullName}.", nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        var w = new WireWriter(obj switch
        {
            FactorBlock b => checked((int)FactorBlockBytes(b.Run, b.Rows.Length, b.Values.Length)),
            ShardFactors f => 64 + (f.Rows.Length + f.Values.Length) * 4,
            InteractionBatch b => 64 + b.EntryRows.Length * 16 + b.RowGlobals.Length * 24,
            ItemEmbeddingBatch b => 64 + b.Vectors.Length * 4 + b.Ids.Length * 24,
            TextsEmbedded t => 64 + t.Vectors.Sum(v => 4 + v.Length * 4) + t.Ids.Length * 24,
            ProjectionSumsReport p => 64 + p.Sums.Length,
            ApplyProjection p => 64 + p.Projection.Length,
            ProjectionFitted p => 128 + p.Projection.Length + (p.QueryProjection?.Length ?? 0),
            ColdItemFactors c => 64 + (c.Globals.Length + c.Values.Length) * 4 + c.Ids.Length * 24,
            _ => 256,
        });
        switch (obj)
        {
            case StartTrainingRun m:
                w.String(m.Run); Write(w, m.Parameters); w.Int(m.Users); w.Int(m.Items);
                w.Ints(m.UserShardRows); w.Ints(m.UserShardEntries); w.Ints(m.ItemShardRows); w.Ints(m.ItemShardEntries);
                w.Bool(m.Projection is not null);
                if (m.Projection is not null)
                {
                    Write(w, m.Projection);
                }
                break;
            case PrepareRun m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); Write(w, m.Parameters); w.Int(m.Users); w.Int(m.Items);
                w.Int(m.UserShards); w.Int(m.ItemShards); w.Int(m.ExpectedRows); w.Int(m.ExpectedEntries);
                break;
            case RunPrepared m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Rows); w.Long(m.Entries); w.Doubles(m.PartialGram);
                w.Double(m.Regularization); w.String(m.Failure);
                break;
            case BeginHalfStep m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.FixedCount); w.Doubles(m.Gram); w.Bool(m.EvaluateOnly);
                w.Floats(m.Rotation); w.Floats(m.Eigenvalues);
                break;
            case PublishFactors m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Solving); w.Byte((byte)m.Side); w.Int(m.Shard); w.Ints(m.Targets); w.Floats(m.Rotation);
                break;
            case FactorsPublished m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Solving); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Blocks); w.Long(m.Rows); w.Long(m.Bytes);
                break;
            case FactorBlock m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.SourceShard); w.Int(m.Part); w.Int(m.Parts);
                w.Int(m.Offset); w.Ints(m.Rows); w.Floats(m.Values);
                break;
            case HalfStepCompleted m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Rows); w.Doubles(m.PartialGram);
                w.Double(m.ObservedLoss); w.Double(m.ImplicitLoss); w.Double(m.RegularizationBefore); w.Double(m.RegularizationAfter); w.Double(m.Seconds);
                w.String(m.Failure); w.Double(m.LossAfter);
                break;
            case TrainingProgress m:
                w.String(m.Run); w.Int(m.Iteration); w.Byte((byte)m.Side); w.Int(m.Shards); w.Double(m.Seconds); w.Double(m.SlowestShardSeconds);
                w.Long(m.FactorBytes); w.Int(m.Resends); w.Double(m.LossAfterPreviousIteration); w.Double(m.LossAfterIteration);
                break;
            case TrainingCompleted m:
                w.String(m.Run); w.Int(m.Iterations); w.Double(m.InitialLoss); w.Doubles(m.Losses); w.Double(m.Seconds);
                break;
            case TrainingFailed m:
                w.String(m.Run); w.String(m.Reason);
                break;
            case GetShardFactors m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Offset); w.Int(m.MaxRows);
                break;
            case ShardFactors m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.TotalRows); w.Int(m.Offset); w.Ints(m.Rows); w.Floats(m.Values); w.String(m.Failure);
                break;
            case GetShardStatus m:
                w.Byte((byte)m.Side); w.Int(m.Shard);
                break;
            case ShardStatus m:
                w.Byte((byte)m.Side); w.Int(m.Shard); w.String(m.Address); w.String(m.Run); w.Int(m.Rows); w.Long(m.Entries); w.Int(m.LastIteration); w.String(m.Phase);
                break;
            case GetClusterLayout:
                break;
            case ClusterLayout m:
                w.Int(m.UserShards); w.Int(m.ItemShards); w.String(m.CompletedRun); w.String(m.ActiveRun);
                w.Int(m.IngestBatchEntries); w.Int(m.IngestParallelism); w.Long(m.IngestAskTimeoutMs); w.Int(m.IngestAttempts); w.Int(m.GatherRows);
                break;
            case ReserveTrainingRun m:
                w.String(m.Run);
                break;
            case TrainingRunReserved m:
                w.String(m.Run); w.String(m.Failure);
                break;
            case ReleaseTrainingRun m:
                w.String(m.Run);
                break;
            case InteractionBatch m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Sequence); w.Ints(m.RowGlobals); w.Strings(m.RowIds);
                w.Ints(m.EntryRows); w.Ints(m.EntryColumns); w.Ints(m.EntryColumnShards); w.Floats(m.Values);
                break;
            case InteractionBatchAccepted m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Sequence); w.Long(m.Entries); w.Bool(m.Duplicate);
                break;
            case Recommend m:
                w.String(m.User); w.Int(m.K); w.Bool(m.IncludeSeen);
                break;
            case SimilarItems m:
                w.String(m.Item); w.Int(m.K);
                break;
            case RecommendForItems m:
                w.Strings(m.Items); w.Floats(m.Values); w.Int(m.K); w.Bool(m.IncludeSeen);
                break;
            case Recommendations m:
                w.String(m.Query);
                w.Int(m.Items.Length);
                foreach (var item in m.Items)
                {
                    w.String(item.Id); w.Int(item.Index); w.Float(item.Score);
                }
                w.Ints(m.MissingShards); w.String(m.Failure);
                break;
            case GetRowVector m:
                w.Byte((byte)m.Side); w.Int(m.Shard); w.String(m.Id);
                break;
            case RowVector m:
                w.String(m.Id); w.Int(m.Global); w.Floats(m.Vector); w.Ints(m.Interactions); w.String(m.Failure);
                break;
            case ShardTopK m:
                w.Int(m.Shard); w.Ints(m.Items); w.Strings(m.Ids); w.Floats(m.Scores); w.String(m.Failure);
                break;
            case GetFoldInTerms m:
                w.Byte((byte)m.Side); w.Int(m.Shard); w.Strings(m.Items); w.Floats(m.Values);
                break;
            case FoldInTerms m:
                w.Int(m.Shard); w.Doubles(m.PartialGram); w.Doubles(m.LowRank); w.Doubles(m.B); w.Ints(m.Found);
                w.Float(m.UnobservedWeight); w.Float(m.Regularization); w.Float(m.RegularizationExponent); w.Int(m.ItemCount); w.String(m.Failure);
                w.Int(m.ColdItems); w.Strings(m.Unknown ?? []);
                break;
            case EmbedTexts m:
                w.Strings(m.Ids); w.Strings(m.Texts);
                break;
            case TextsEmbedded m:
                w.Strings(m.Ids);
                w.Int(m.Vectors.Length);
                foreach (var vector in m.Vectors)
                {
                    w.Floats(vector);
                }
                break;
            case EmbeddingRejected m:
                w.String(m.Reason);
                break;
            case GetEncoderSettings:
            case GetProjection:
                break;
            case EncoderSettingsReport m:
                w.String(m.SettingsJson); w.String(m.Failure);
                break;
            case ItemEmbeddingBatch m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Sequence); w.Int(m.ItemShards); w.Strings(m.Ids); w.Ints(m.Globals);
                w.Int(m.Dimension); w.Floats(m.Vectors);
                break;
            case ItemEmbeddingsAccepted m:
                w.String(m.Run); w.Int(m.Shard); w.Int(m.Sequence); w.Int(m.Items); w.Bool(m.Duplicate); w.String(m.Failure);
                break;
            case FitProjection m:
                w.String(m.Run); Write(w, m.Request);
                break;
            case GetProjectionSums m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Bool(m.Validation); w.Double(m.ValidationFraction); w.Byte(m.Weighting); w.Int(m.ExpectedEmbeddings);
                break;
            case ProjectionSumsReport m:
                w.String(m.Run); w.Int(m.Shard); w.Bool(m.Validation); w.Bytes(m.Sums); w.Int(m.WarmItems); w.Int(m.ColdItems); w.String(m.Failure);
                break;
            case ApplyProjection m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Bytes(m.Projection);
                break;
            case ProjectionApplied m:
                w.String(m.Run); w.Int(m.Shard); w.Int(m.ColdItems); w.String(m.Failure);
                break;
            case ProjectionFitted m:
                w.String(m.Run); w.Double(m.Mu); w.Double(m.ValidationMse); w.Double(m.ValidationMeanSquare); w.Int(m.TrainItems); w.Int(m.ValidationItems);
                w.Int(m.ColdItems); w.Doubles(m.MuCandidates); w.Doubles(m.ValidationErrors); w.Bytes(m.Projection); w.Double(m.Seconds); w.Int(m.MetadataFeatures);
                w.Bytes(m.QueryProjection ?? []);
                break;
            case ProjectionFailed m:
                w.String(m.Run); w.String(m.Reason);
                break;
            case RecommendForText m:
                w.String(m.Text); w.Int(m.K);
                break;
            case RankShardItems m:
                w.Byte((byte)m.Side); w.Int(m.Shard); w.Floats(m.Query); w.Int(m.K); w.Bool(m.Cosine); w.Ints(m.Exclude);
                break;
            case GetColdItemVector m:
                w.Byte((byte)m.Side); w.Int(m.Shard); w.String(m.Id);
                break;
            case GetColdItems m:
                w.String(m.Run); w.Byte((byte)m.Side); w.Int(m.Shard); w.Int(m.Offset); w.Int(m.MaxRows);
                break;
            case ColdItemFactors m:
                w.String(m.Run); w.Int(m.Shard); w.Int(m.TotalRows); w.Int(m.Offset); w.Strings(m.Ids); w.Ints(m.Globals); w.Floats(m.Values); w.String(m.Failure);
                break;
            default:
                throw new ArgumentException($"WalsSerializer cannot serialize {obj.GetType().FullName}.", nameof(obj));
        }
        return w.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var r = new WireReader(bytes);
        object message = manifest switch
        {
            StartTrainingRunManifest => new StartTrainingRun(r.String(), ReadParameters(ref r), r.Int(), r.Int(), r.Ints(), r.Ints(), r.Ints(), r.Ints(),
                r.Bool() ? ReadProjectionRequest(ref r) : null),
            PrepareRunManifest => new PrepareRun(r.String(), (Side)r.Byte(), r.Int(), ReadParameters(ref r), r.Int(), r.Int(), r.Int(), r.Int(), r.Int(), r.Int()),
            RunPreparedManifest => new RunPrepared(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Long(), r.Doubles(), r.Double(), r.NullableString()),
            BeginHalfStepManifest => new BeginHalfStep(r.String(), r.Int(), (Side)r.Byte(), r.Int(), r.Int(), r.Doubles(), r.Bool(), r.Floats(), r.Floats()),
            PublishFactorsManifest => new PublishFactors(r.String(), r.Int(), (Side)r.Byte(), (Side)r.Byte(), r.Int(), r.Ints(), r.Floats()),
            FactorsPublishedManifest => new FactorsPublished(r.String(), r.Int(), (Side)r.Byte(), (Side)r.Byte(), r.Int(), r.Int(), r.Long(), r.Long()),
            FactorBlockManifest => new FactorBlock(r.String(), r.Int(), (Side)r.Byte(), r.Int(), r.Int(), r.Int(), r.Int(), r.Int(), r.Ints(), r.PooledFloats()),
            HalfStepCompletedManifest => new HalfStepCompleted(r.String(), r.Int(), (Side)r.Byte(), r.Int(), r.Int(), r.Doubles(),
                r.Double(), r.Double(), r.Double(), r.Double(), r.Double(), r.NullableString(), r.Double()),
            TrainingProgressManifest => new TrainingProgress(r.String(), r.Int(), (Side)r.Byte(), r.Int(), r.Double(), r.Double(), r.Long(), r.Int(), r.Double(), r.Double()),
            TrainingCompletedManifest => new TrainingCompleted(r.String(), r.Int(), r.Double(), r.Doubles(), r.Double()),
            TrainingFailedManifest => new TrainingFailed(r.String(), r.String()),
            GetShardFactorsManifest => new GetShardFactors(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Int()),
            ShardFactorsManifest => new ShardFactors(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Int(), r.Ints(), r.Floats(), r.NullableString()),
            GetShardStatusManifest => new GetShardStatus((Side)r.Byte(), r.Int()),
            ShardStatusManifest => new ShardStatus((Side)r.Byte(), r.Int(), r.String(), r.NullableString(), r.Int(), r.Long(), r.Int(), r.String()),
            GetClusterLayoutManifest => GetClusterLayout.Instance,
            ClusterLayoutManifest => new ClusterLayout(r.Int(), r.Int(), r.NullableString(), r.NullableString(), r.Int(), r.Int(), r.Long(), r.Int(), r.Int()),
            ReserveTrainingRunManifest => new ReserveTrainingRun(r.String()),
            TrainingRunReservedManifest => new TrainingRunReserved(r.String(), r.NullableString()),
            ReleaseTrainingRunManifest => new ReleaseTrainingRun(r.String()),
            InteractionBatchManifest => new InteractionBatch(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Ints(), r.Strings(), r.Ints(), r.Ints(), r.Ints(), r.Floats()),
            InteractionBatchAcceptedManifest => new InteractionBatchAccepted(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Long(), r.Bool()),
            RecommendManifest => new Recommend(r.String(), r.Int(), r.Bool()),
            SimilarItemsManifest => new SimilarItems(r.String(), r.Int()),
            RecommendForItemsManifest => new RecommendForItems(r.Strings(), r.Floats(), r.Int(), r.Bool()),
            RecommendationsManifest => ReadRecommendations(ref r),
            GetRowVectorManifest => new GetRowVector((Side)r.Byte(), r.Int(), r.String()),
            RowVectorManifest => new RowVector(r.String(), r.Int(), r.Floats(), r.Ints(), r.NullableString()),
            ShardTopKManifest => new ShardTopK(r.Int(), r.Ints(), r.Strings(), r.Floats(), r.NullableString()),
            GetFoldInTermsManifest => new GetFoldInTerms((Side)r.Byte(), r.Int(), r.Strings(), r.Floats()),
            FoldInTermsManifest => new FoldInTerms(r.Int(), r.Doubles(), r.Doubles(), r.Doubles(), r.Ints(), r.Float(), r.Float(), r.Float(), r.Int(), r.NullableString(), r.Int(),
                r.Strings() is { Length: > 0 } unknown ? unknown : null),
            EmbedTextsManifest => new EmbedTexts(r.Strings(), r.Strings()),
            TextsEmbeddedManifest => ReadTextsEmbedded(ref r),
            EmbeddingRejectedManifest => new EmbeddingRejected(r.String()),
            GetEncoderSettingsManifest => GetEncoderSettings.Instance,
            EncoderSettingsReportManifest => new EncoderSettingsReport(r.String(), r.NullableString()),
            ItemEmbeddingBatchManifest => new ItemEmbeddingBatch(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Int(), r.Strings(), r.Ints(), r.Int(), r.Floats()),
            ItemEmbeddingsAcceptedManifest => new ItemEmbeddingsAccepted(r.String(), r.Int(), r.Int(), r.Int(), r.Bool(), r.NullableString()),
            FitProjectionManifest => new FitProjection(r.String(), ReadProjectionRequest(ref r)),
            GetProjectionSumsManifest => new GetProjectionSums(r.String(), (Side)r.Byte(), r.Int(), r.Bool(), r.Double(), r.Byte(), r.Int()),
            ProjectionSumsReportManifest => new ProjectionSumsReport(r.String(), r.Int(), r.Bool(), r.Bytes(), r.Int(), r.Int(), r.NullableString()),
            ApplyProjectionManifest => new ApplyProjection(r.String(), (Side)r.Byte(), r.Int(), r.Bytes()),
            ProjectionAppliedManifest => new ProjectionApplied(r.String(), r.Int(), r.Int(), r.NullableString()),
            ProjectionFittedManifest => new ProjectionFitted(r.String(), r.Double(), r.Double(), r.Double(), r.Int(), r.Int(), r.Int(), r.Doubles(), r.Doubles(), r.Bytes(), r.Double(), r.Int(),
                r.Bytes() is { Length: > 0 } query ? query : null),
            ProjectionFailedManifest => new ProjectionFailed(r.String(), r.String()),
            GetProjectionManifest => GetProjection.Instance,
            RecommendForTextManifest => new RecommendForText(r.String(), r.Int()),
            RankShardItemsManifest => new RankShardItems((Side)r.Byte(), r.Int(), r.Floats(), r.Int(), r.Bool(), r.Ints()),
            GetColdItemVectorManifest => new GetColdItemVector((Side)r.Byte(), r.Int(), r.String()),
            GetColdItemsManifest => new GetColdItems(r.String(), (Side)r.Byte(), r.Int(), r.Int(), r.Int()),
            ColdItemFactorsManifest => new ColdItemFactors(r.String(), r.Int(), r.Int(), r.Int(), r.Strings(), r.Ints(), r.Floats(), r.NullableString()),
            _ => throw new System.Runtime.Serialization.SerializationException($"WalsSerializer does not know manifest '{manifest}'."),
        };
        r.End();
        return message;
    }

    private static void Write(WireWriter w, TrainingParameters p)
    {
        w.Int(p.Factors); w.Byte(p.Transform); w.Float(p.Alpha); w.Float(p.Beta); w.Float(p.Epsilon); w.Float(p.Exponent);
        w.Float(p.UnobservedWeight); w.Float(p.Regularization); w.Float(p.RegularizationExponent); w.Int(p.Iterations);
        w.Byte(p.Solver); w.Int(p.CgSteps); w.Byte(p.Preconditioner); w.Int(p.Seed); w.Float(p.InitScale); w.Int(p.Threads);
        w.Byte(p.GatherPrecision); w.Byte(p.ZeroStart);
    }

    private static TrainingParameters ReadParameters(ref WireReader r) =>
        new(r.Int(), r.Byte(), r.Float(), r.Float(), r.Float(), r.Float(), r.Float(), r.Float(), r.Float(), r.Int(),
            r.Byte(), r.Int(), r.Byte(), r.Int(), r.Float(), r.Int(), r.Byte(), r.Byte());

    private static void Write(WireWriter w, ProjectionRequest p)
    {
        w.Double(p.ValidationFraction); w.Byte(p.Weighting); w.Ints(p.ItemShardEmbeddings); w.Int(p.MetadataFeatures);
    }

    private static ProjectionRequest ReadProjectionRequest(ref WireReader r) => new(r.Double(), r.Byte(), r.Ints(), r.Int());

    private static TextsEmbedded ReadTextsEmbedded(ref WireReader r)
    {
        var ids = r.Strings();
        var n = r.Int();
        if (n < 0 || n > MaxRankedItems)
        {
            throw new InvalidDataException($"TextsEmbedded vector count {n} is invalid.");
        }
        var vectors = new float[n][];
        for (var i = 0; i < n; i++)
        {
            vectors[i] = r.Floats();
        }
        return new TextsEmbedded(ids, vectors);
    }

    private static Recommendations ReadRecommendations(ref WireReader r)
    {
        var query = r.String();
        var n = r.Int();
        if (n < 0 || n > MaxRankedItems)
        {
            throw new InvalidDataException($"Recommendations item count {n} is invalid.");
        }
        var items = new RankedItem[n];
        for (var i = 0; i < n; i++)
        {
            items[i] = new RankedItem(r.String(), r.Int(), r.Float());
        }
        return new Recommendations(query, items, r.Ints(), r.NullableString());
    }

    private const int MaxRankedItems = 1 << 24;
}
