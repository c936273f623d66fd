using System.Collections.Concurrent;

namespace WalsCluster.Messages;

/// <summary>
/// A process-wide pool of the float arrays that carry <see cref="FactorBlock"/> values, by exact length (a block's
/// Values must be exactly rows x k long, so <see cref="System.Buffers.ArrayPool{T}"/>'s larger arrays do not fit).
/// A half-step ships hundreds of megabytes of blocks; without reuse every block is a fresh large-object-heap array and
/// the garbage triggers blocking full collections of a multi-gigabyte heap. Publishers and the deserializer rent; the
/// receiving shard returns a block's array once its rows are copied out. At most <see cref="CapacityBytes"/> are kept.
/// </summary>
public static class BlockBuffers
{
    /// <summary>The most bytes the pool keeps; arrays returned beyond it are left to the GC.</summary>
    public const long CapacityBytes = 1L << 30;

    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Free = new();
    private static long _pooledBytes;

    /// <summary>Bytes held by the pool now.</summary>
    public static long PooledBytes => Interlocked.Read(ref _pooledBytes);

    /// <summary>An array of exactly <paramref name="length"/> floats with undefined contents.</summary>
    public static float[] Rent(int length)
    {
        if (length > 0 && Free.TryGetValue(length, out var bag) && bag.TryTake(out var array))
        {
            Interlocked.Add(ref _pooledBytes, -4L * length);
            return array;
        }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Gives an array back; the caller must not use it (nor any message that holds it) afterwards.</summary>
    public static void Return(float[] array)
    {
        if (array.Length == 0 || Interlocked.Add(ref _pooledBytes, 4L * array.Length) > CapacityBytes)
        {
            if (array.Length != 0)
            {
                Interlocked.Add(ref _pooledBytes, -4L * array.Length);
            }
            return;
        }
        Free.GetOrAdd(array.Length, _ => []).Add(array);
    }
}
