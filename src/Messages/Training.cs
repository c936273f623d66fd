namespace WalsCluster.Messages;

/// <summary>
/// The hyperparameters of a run on the wire (the fields of Core's WalsOptions; Messages does not reference Core).
/// Enums travel as their numeric values: Transform 0 linear, 1 log, 2 power, 3 binary; Solver 0 cg, 1 cholesky;
/// Preconditioner 0 none, 1 jacobi; GatherPrecision 0 float32, 1 bfloat16, 2 int8; ZeroStart the flags 1 users, 2 items.
/// </summary>
public sealed record TrainingParameters(
    int Factors, byte Transform, float Alpha, float Beta, float Epsilon, float Exponent, float UnobservedWeight,
    float Regularization, float RegularizationExponent, int Iterations, byte Solver, int CgSteps, byte Preconditioner,
    int Seed, float InitScale, int Threads, byte GatherPrecision = 0, byte ZeroStart = 0);

/// <summary>
/// Submits a training run to the <c>TrainingCoordinator</c> after its interactions were ingested with
/// <see cref="InteractionBatch"/>es of the same <paramref name="Run"/>. The sender receives
/// <see cref="TrainingProgress"/> per half-step, then <see cref="TrainingCompleted"/> or <see cref="TrainingFailed"/>.
/// <paramref name="UserShardRows"/>[s] / <paramref name="UserShardEntries"/>[s] are the rows and interactions
/// user shard s must hold (the same for items), so that a shard that lost a batch is caught before solving.
/// With <paramref name="Projection"/> the item embeddings of the run were sent to the item shards
/// (<see cref="ItemEmbeddingBatch"/>), and after <see cref="TrainingCompleted"/> the coordinator fits the text-to-factor
/// projection and sends the submitter <see cref="ProjectionFitted"/> or <see cref="ProjectionFailed"/>.
/// </summary>
public sealed record StartTrainingRun(
    string Run, TrainingParameters Parameters, int Users, int Items,
    int[] UserShardRows, int[] UserShardEntries, int[] ItemShardRows, int[] ItemShardEntries, ProjectionRequest? Projection = null) : IWalsMessage;

/// <summary>
/// Coordinator to shard: build the shard's weighted CSR from the ingested batches of <paramref name="Run"/>, its
/// in-block and out-block routing, initialise its factor rows, and reply <see cref="RunPrepared"/>.
/// </summary>
public sealed record PrepareRun(string Run, Side Side, int Shard, TrainingParameters Parameters, int Users, int Items, int UserShards, int ItemShards, int ExpectedRows, int ExpectedEntries) : IShardMessage;

/// <summary>Reply to <see cref="PrepareRun"/>: the shard's rows, its partial Gram matrix X_s^T X_s of the initial
/// factors (packed upper triangle) and their regularization sum_u lambda_u |x_u|^2; <paramref name="Failure"/> says why
/// it could not prepare (then the rest is empty).</summary>
public sealed record RunPrepared(string Run, Side Side, int Shard, int Rows, long Entries, double[] PartialGram, double Regularization, string? Failure) : IWalsMessage;

/// <summary>
/// Coordinator to every shard of the solving side: solve half-step (<paramref name="Iteration"/>, <paramref name="Side"/>)
/// with G_F, the Gram matrix of the whole fixed side (packed upper triangle), once every expected
/// <see cref="FactorBlock"/> is in. With <paramref name="EvaluateOnly"/> the shard computes the loss terms at its current
/// factors without changing them (the final loss). Idempotent: a shard asked again for a half-step it already solved
/// replies with the stored <see cref="HalfStepCompleted"/>.
/// For the conjugate-gradient solver <paramref name="Rotation"/> is Q (k x k, row-major float32) and
/// <paramref name="Eigenvalues"/> the eigenvalues of G_F = Q diag(Eigenvalues) Q^T, computed once by the coordinator:
/// the fixed side then ships its rows already rotated (y' = Q^T y), and the solving shard rotates only its own rows in
/// and back. Both are empty for Cholesky and for an evaluate-only pass (rows in the original basis).
/// </summary>
public sealed record BeginHalfStep(string Run, int Iteration, Side Side, int Shard, int FixedCount, double[] Gram, bool EvaluateOnly, float[] Rotation, float[] Eigenvalues) : IShardMessage;

/// <summary>
/// Coordinator to every shard of the fixed side: send each shard of <paramref name="Solving"/> a
/// <see cref="FactorBlock"/> with the rows it needs for half-step (<paramref name="Iteration"/>, <paramref name="Solving"/>).
/// The shard replies <see cref="FactorsPublished"/>. <paramref name="Targets"/> limits the send to those shards of the
/// solving side (a re-send to the shards that did not answer); empty means every shard that needs rows.
/// <paramref name="Rotation"/> (k x k, row-major, or empty): ship the rows multiplied by it (the eigenbasis of the
/// half-step's <see cref="BeginHalfStep.Rotation"/>), rotated once per shard rather than once per receiver.
/// </summary>
public sealed record PublishFactors(string Run, int Iteration, Side Solving, Side Side, int Shard, int[] Targets, float[] Rotation) : IShardMessage;

/// <summary>
/// Reply to <see cref="PublishFactors"/>: how many blocks, rows and payload bytes the shard sent. Rows handed to a shard in
/// the same process by reference (no blocks, no copies) count as the blocks that would have carried them.
/// </summary>
public sealed record FactorsPublished(string Run, int Iteration, Side Solving, Side Side, int Shard, int Blocks, long Rows, long Bytes) : IWalsMessage;

/// <summary>
/// Fixed-side shard <paramref name="SourceShard"/> to solving-side shard <paramref name="Shard"/>: part
/// <paramref name="Part"/> of <paramref name="Parts"/> of the factor rows it needs, as global row indices and
/// contiguous float32 rows (rows.Length x k). <paramref name="Offset"/> is the position of its first row in the
/// source's whole out-block for the receiver (rows ascending by global index), so the receiver places the rows
/// without searching (and checks that they are the rows it expects there).
/// </summary>
public sealed record FactorBlock(string Run, int Iteration, Side Side, int Shard, int SourceShard, int Part, int Parts, int Offset, int[] Rows, float[] Values) : IShardMessage;

/// <summary>
/// Reply to <see cref="BeginHalfStep"/>: the shard solved (or evaluated) its rows. PartialGram is X_s^T X_s of its new
/// factors (packed); the loss terms are those of Core's HalfStepResult at the factors before the solve (0 for rows
/// that started from zero), and <paramref name="LossAfter"/> the shard's share of the objective at the new factors
/// (observed + implicit terms + its rows' regularization) on item half-steps (NaN on user half-steps).
/// <paramref name="Failure"/> says why the shard could not solve (non-finite factors, a missing run).
/// </summary>
public sealed record HalfStepCompleted(
    string Run, int Iteration, Side Side, int Shard, int Rows, double[] PartialGram,
    double ObservedLoss, double ImplicitLoss, double RegularizationBefore, double RegularizationAfter, double Seconds, string? Failure,
    double LossAfter = double.NaN) : IWalsMessage;

/// <summary>Coordinator to the submitter of a run: half-step (<paramref name="Iteration"/>, <paramref name="Side"/>)
/// finished. <paramref name="LossAfterPreviousIteration"/> is the objective before training, from the first user
/// half-step's first pass (NaN on every other half-step). <paramref name="LossAfterIteration"/> is the objective after
/// this iteration, known at the end of its item half-step (NaN on user half-steps).</summary>
public sealed record TrainingProgress(
    string Run, int Iteration, Side Side, int Shards, double Seconds, double SlowestShardSeconds,
    long FactorBytes, int Resends, double LossAfterPreviousIteration, double LossAfterIteration = double.NaN) : IWalsMessage;

/// <summary>Reply to <see cref="StartTrainingRun"/> when the run finished: the objective before training and after each iteration.</summary>
public sealed record TrainingCompleted(string Run, int Iterations, double InitialLoss, double[] Losses, double Seconds) : IWalsMessage;

/// <summary>Reply to <see cref="StartTrainingRun"/> when the run could not finish, and why.</summary>
public sealed record TrainingFailed(string Run, string Reason) : IWalsMessage;

/// <summary>Asks a shard for up to <paramref name="MaxRows"/> of its factor rows from local row <paramref name="Offset"/> on.</summary>
public sealed record GetShardFactors(string Run, Side Side, int Shard, int Offset, int MaxRows) : IShardMessage;

/// <summary>Reply to <see cref="GetShardFactors"/>: global row indices and their factor rows; <paramref name="TotalRows"/>
/// is the shard's row count (ask again from Offset + Rows.Length until it is reached). <paramref name="Failure"/> when
/// the shard does not hold the run.</summary>
public sealed record ShardFactors(string Run, Side Side, int Shard, int TotalRows, int Offset, int[] Rows, float[] Values, string? Failure) : IWalsMessage;

/// <summary>Asks a shard where it lives and what it holds.</summary>
public sealed record GetShardStatus(Side Side, int Shard) : IShardMessage;

/// <summary>Reply to <see cref="GetShardStatus"/>: the node's address, the run the shard holds and its last solved half-step.</summary>
public sealed record ShardStatus(Side Side, int Shard, string Address, string? Run, int Rows, long Entries, int LastIteration, string Phase) : IWalsMessage;

/// <summary>Asks the coordinator for the shard counts of the cluster and the last completed run.</summary>
public sealed record GetClusterLayout : IWalsMessage
{
    public static GetClusterLayout Instance { get; } = new();
}

/// <summary>
/// Reply to <see cref="GetClusterLayout"/>: the shard counts, the last completed run, the run that holds the cluster
/// (reserved, training, fitting or being gathered; null when free), and the client-side settings of the nodes'
/// configuration (<c>wals.cluster.ingest-*</c>, <c>gather-rows</c>), which clients take from here.
/// </summary>
public sealed record ClusterLayout(int UserShards, int ItemShards, string? CompletedRun, string? ActiveRun,
    int IngestBatchEntries = 0, int IngestParallelism = 0, long IngestAskTimeoutMs = 0, int IngestAttempts = 0, int GatherRows = 0) : IWalsMessage;

/// <summary>
/// Client to coordinator, before it ingests: hold the cluster for <paramref name="Run"/> until the sender (the client's
/// run listener) stops or sends <see cref="ReleaseTrainingRun"/>. One run at a time: while another run holds the
/// cluster the reply is a failure naming it, so a second submission never overwrites the first one's shards.
/// Replied with <see cref="TrainingRunReserved"/>.
/// </summary>
public sealed record ReserveTrainingRun(string Run) : IWalsMessage;

/// <summary>Reply to <see cref="ReserveTrainingRun"/>; <paramref name="Failure"/> when another run holds the cluster.</summary>
public sealed record TrainingRunReserved(string Run, string? Failure) : IWalsMessage;

/// <summary>Client to coordinator: <paramref name="Run"/> is gathered (or given up); the cluster is free for the next run.</summary>
public sealed record ReleaseTrainingRun(string Run) : IWalsMessage;
