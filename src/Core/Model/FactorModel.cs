using WalsCluster.Core.Data;
using WalsCluster.Core.Wals;

namespace WalsCluster.Core.Model;

/// <summary>What a training run recorded about itself.</summary>
public sealed record TrainingMetadata
{
    public DateTimeOffset TrainedAt { get; init; } = DateTimeOffset.UtcNow;
    public int IterationsCompleted { get; init; }
    public double TotalSeconds { get; init; }
    public long NonZeros { get; init; }
    public double FinalLoss { get; init; } = double.NaN;

    /// <summary>Where the training data came from (path or description).</summary>
    public string Source { get; init; } = "";

    /// <summary>Path of the held-out test split written by training, if any.</summary>
    public string? TestSplitPath { get; init; }
}

/// <summary>
/// A trained factor model: X (users x k) and Y (items x k) as row-major float arrays, the id maps that
/// give the rows their external ids, the hyperparameters and what training recorded.
/// Scores are x_u . y_i.
/// </summary>
public sealed class FactorModel
{
    public FactorModel(IdMap users, IdMap items, int factors, float[] userFactors, float[] itemFactors, WalsOptions options, TrainingMetadata metadata)
    {
        if (userFactors.Length != (long)users.Count * factors)
        {
            throw new ArgumentException($"userFactors has {userFactors.Length} values, expected {users.Count} x {factors}.", nameof(userFactors));
        }
        if (itemFactors.Length != (long)items.Count * factors)
        {
            throw new ArgumentException($"itemFactors has {itemFactors.Length} values, expected {items.Count} x {factors}.", nameof(itemFactors));
        }
        Users = users;
        Items = items;
        Factors = factors;
        UserFactors = userFactors;
        ItemFactors = itemFactors;
        Options = options;
        Metadata = metadata;
    }

    public IdMap Users { get; }
    public IdMap Items { get; }
    public int Factors { get; }
    public float[] UserFactors { get; }
    public float[] ItemFactors { get; }
    public WalsOptions Options { get; }
    public TrainingMetadata Metadata { get; }

    public ReadOnlySpan<float> UserVector(int user) => UserFactors.AsSpan(user * Factors, Factors);

    public ReadOnlySpan<float> ItemVector(int item) => ItemFactors.AsSpan(item * Factors, Factors);
}
