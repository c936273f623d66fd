namespace WalsCluster.Core.Synthetic;

/// <summary>
/// Parameters of planted implicit-feedback data (defaults follow shared/datasets/synthetic-9.6m/generate.py):
/// item i has popularity p_i proportional to 1 / rank_i^<see cref="PopularityExponent"/> (ranks shuffled over
/// items) and a taste t_i uniform in 0..K-1; user u has a taste t_u uniform in 0..K-1 and draws
/// n_u = max(1, Poisson(<see cref="MeanItemsPerUser"/>)) items with replacement: floor(n_u * <see cref="TasteFraction"/>)
/// from the items of taste t_u (each with probability proportional to p_i), the rest from all items by p_i;
/// repeated draws are merged, so a user has at most n_u distinct items. Each kept (u, i) gets a count uniform
/// in 1..<see cref="MaxValue"/>.
/// </summary>
public sealed record SyntheticOptions
{
    /// <summary>Number of users U.</summary>
    public int Users { get; init; } = 10_000;

    /// <summary>Number of items I.</summary>
    public int Items { get; init; } = 2_000;

    /// <summary>Number of latent tastes K.</summary>
    public int Tastes { get; init; } = 16;

    /// <summary>The Poisson mean of the number of draws per user.</summary>
    public double MeanItemsPerUser { get; init; } = 20;

    /// <summary>The exponent a of p_i ~ 1 / rank^a (0 gives uniform popularity).</summary>
    public double PopularityExponent { get; init; } = 0.8;

    /// <summary>The fraction of a user's draws taken from the items of the user's taste.</summary>
    public double TasteFraction { get; init; } = 0.7;

    /// <summary>Values (counts) are uniform in 1..MaxValue.</summary>
    public int MaxValue { get; init; } = 19;

    /// <summary>The seed: the same options give the same data, on every machine.</summary>
    public ulong Seed { get; init; } = 7;

    /// <summary>Words per item text (see <see cref="SyntheticData.ItemText"/>): this many taste words plus one common word.</summary>
    public int TasteWordsPerItem { get; init; } = 3;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Users, nameof(Users));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Items, nameof(Items));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Tastes, nameof(Tastes));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxValue, nameof(MaxValue));
        ArgumentOutOfRangeException.ThrowIfNegative(TasteWordsPerItem, nameof(TasteWordsPerItem));
        if (!(MeanItemsPerUser > 0) || !double.IsFinite(MeanItemsPerUser))
        {
            throw new ArgumentOutOfRangeException(nameof(MeanItemsPerUser), MeanItemsPerUser, "Must be positive and finite.");
        }
        if (!(PopularityExponent >= 0) || !double.IsFinite(PopularityExponent))
        {
            throw new ArgumentOutOfRangeException(nameof(PopularityExponent), PopularityExponent, "Must be non-negative and finite.");
        }
        if (!(TasteFraction is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TasteFraction), TasteFraction, "Must be in [0, 1].");
        }
    }
}
