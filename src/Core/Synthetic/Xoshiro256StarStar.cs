using System.Numerics;

namespace WalsCluster.Core.Synthetic;

/// <summary>
/// The xoshiro256** 1.0 generator (Blackman &amp; Vigna, 2018), seeded by expanding a 64-bit seed with SplitMix64.
/// Used instead of <see cref="Random"/> so that splits and synthetic data are defined by a published algorithm
/// and stay the same on every runtime version: the same seed gives the same stream everywhere.
/// </summary>
public sealed class Xoshiro256StarStar
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Xoshiro256StarStar(ulong seed)
    {
        var state = seed;
        _s0 = SplitMix64(ref state);
        _s1 = SplitMix64(ref state);
        _s2 = SplitMix64(ref state);
        _s3 = SplitMix64(ref state);
    }

    /// <summary>A generator for one stream of a family: the same (seed, stream) always gives the same generator.</summary>
    public static Xoshiro256StarStar ForStream(ulong seed, ulong stream)
    {
        var state = seed ^ (stream * 0xD1B54A32D192ED03UL);
        return new Xoshiro256StarStar(SplitMix64(ref state));
    }

    /// <summary>SplitMix64 (Steele, Lea &amp; Flood 2014): advances <paramref name="state"/> by the golden gamma and mixes it.</summary>
    public static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="bound"/>), without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        var range = (ulong)bound;
        var product = Math.BigMul(NextUInt64(), range, out var low);
        if (low < range)
        {
            var threshold = (0UL - range) % range;
            while (low < threshold)
            {
                product = Math.BigMul(NextUInt64(), range, out low);
            }
        }
        return (int)product;
    }

    /// <summary>Shuffles <paramref name="span"/> in place (Fisher-Yates).</summary>
    public void Shuffle<T>(Span<T> span)
    {
        for (var i = span.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (span[i], span[j]) = (span[j], span[i]);
        }
    }
}
