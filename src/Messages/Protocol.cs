namespace WalsCluster.Messages;

/// <summary>Marker of every message that crosses the wire; all of them are bound to <see cref="WalsSerializer"/>.</summary>
public interface IWalsMessage;

/// <summary>A message addressed to one factor shard entity (Akka.Cluster.Sharding routes it by <see cref="ShardNames.EntityId(IShardMessage)"/>).</summary>
public interface IShardMessage : IWalsMessage
{
    Side Side { get; }

    int Shard { get; }
}

/// <summary>The two sides of the factorisation R ~ X Y^T.</summary>
public enum Side : byte
{
    /// <summary>User factors X (one row per user).</summary>
    Users = 0,

    /// <summary>Item factors Y (one row per item).</summary>
    Items = 1,
}

/// <summary>Entity ids of factor shards: <c>user-7</c>, <c>item-3</c>.</summary>
public static class ShardNames
{
    public static string EntityId(Side side, int shard) => (side == Side.Users ? "user-" : "item-") + shard.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string EntityId(this IShardMessage message) => EntityId(message.Side, message.Shard);

    /// <summary>Parses <c>user-7</c> / <c>item-3</c>; throws <see cref="FormatException"/> naming the id otherwise.</summary>
    public static (Side Side, int Shard) Parse(string entityId)
    {
        var side = entityId.StartsWith("user-", StringComparison.Ordinal) ? Side.Users
            : entityId.StartsWith("item-", StringComparison.Ordinal) ? Side.Items
            : throw new FormatException($"Entity id '{entityId}' is not user-N or item-N.");
        return int.TryParse(entityId.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var shard)
            ? (side, shard)
            : throw new FormatException($"Entity id '{entityId}' is not user-N or item-N.");
    }

    public static Side Other(this Side side) => side == Side.Users ? Side.Items : Side.Users;
}

/// <summary>
/// The partitioner of external ids onto shards: FNV-1a (32 bit) of the id's UTF-8 bytes, modulo the shard count.
/// Stable across processes, machines and .NET versions (unlike <see cref="string.GetHashCode()"/>).
/// </summary>
public static class StableHash
{
    public static uint Fnv1a(string id)
    {
        const uint offset = 2166136261, prime = 16777619;
        Span<byte> stack = stackalloc byte[256];
        var count = System.Text.Encoding.UTF8.GetMaxByteCount(id.Length);
        var bytes = count <= stack.Length ? stack : new byte[count];
        var n = System.Text.Encoding.UTF8.GetBytes(id, bytes);
        var hash = offset;
        foreach (var b in bytes[..n])
        {
            hash = unchecked((hash ^ b) * prime);
        }
        return hash;
    }

    /// <summary>The shard (0..shards-1) that owns external id <paramref name="id"/>.</summary>
    public static int ShardOf(string id, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        return (int)(Fnv1a(id) % (uint)shards);
    }
}

/// <summary>The packed upper triangle (row-major, i &lt;= j) of a symmetric k x k matrix: k (k + 1) / 2 values.</summary>
public static class PackedSymmetric
{
    public static int Length(int k) => k * (k + 1) / 2;

    public static double[] Pack(ReadOnlySpan<double> full, int k)
    {
        if (full.Length != k * k)
        {
            throw new ArgumentException($"A {k} x {k} matrix has {k * k} values, not {full.Length}.", nameof(full));
        }
        var packed = new double[Length(k)];
        var p = 0;
        for (var i = 0; i < k; i++)
        {
            for (var j = i; j < k; j++)
            {
                packed[p++] = full[i * k + j];
            }
        }
        return packed;
    }

    public static double[] Unpack(ReadOnlySpan<double> packed, int k)
    {
        if (packed.Length != Length(k))
        {
            throw new ArgumentException($"A packed {k} x {k} matrix has {Length(k)} values, not {packed.Length}.", nameof(packed));
        }
        var full = new double[k * k];
        var p = 0;
        for (var i = 0; i < k; i++)
        {
            for (var j = i; j < k; j++)
            {
                full[i * k + j] = packed[p];
                full[j * k + i] = packed[p];
                p++;
            }
        }
        return full;
    }

    /// <summary>k from a packed length (k (k + 1) / 2); throws when the length is not triangular.</summary>
    public static int Order(int packedLength)
    {
        var k = (int)((Math.Sqrt(8.0 * packedLength + 1) - 1) / 2);
        return Length(k) == packedLength ? k : throw new ArgumentException($"{packedLength} is not a triangular number k (k + 1) / 2.");
    }

    /// <summary>sum += other, element-wise.</summary>
    public static void AddInto(double[] sum, ReadOnlySpan<double> other)
    {
        if (sum.Length != other.Length)
        {
            throw new ArgumentException($"Packed lengths differ: {sum.Length} and {other.Length}.");
        }
        for (var i = 0; i < sum.Length; i++)
        {
            sum[i] += other[i];
        }
    }
}
