using WalsCluster.Core.Data;

namespace WalsCluster.Core.Splits;

/// <summary>A train / test pair whose tables share the same user and item id maps.</summary>
public sealed record TrainTestSplit(InteractionTable Train, InteractionTable Test);
