using System.Runtime.InteropServices;

namespace WalsCluster.Core.LinearAlgebra;

/// <summary>
/// Allocation of the large factor matrices. The solves read the fixed side's rows in random order (one row per
/// interaction), so on a large matrix nearly every read also misses the TLB with 4 KiB pages. On Linux, arrays of at
/// least <see cref="HugePageThresholdBytes"/> are therefore allocated pinned (they never move) and advised to use
/// transparent huge pages (madvise MADV_HUGEPAGE) before they are first touched; on this project's machines that
/// doubled the rate of random 1 KiB row reads from a 512 MB matrix (3.1 to 6.6 GB/s, 2 threads). The advice is a hint:
/// where the kernel has transparent huge pages off, or on other systems, the array is an ordinary one, with the same
/// contents and results, only slower to gather from. <see cref="HugePagesAdvised"/> says what happened.
/// </summary>
public static partial class FactorArrays
{
    public const long HugePageThresholdBytes = 4L << 20;
    private const int MadviseHugePage = 14;
    private const long HugePage = 2L << 20;

    private static int _advised;

    /// <summary>How many arrays were advised to use huge pages in this process (0 where the hint is unavailable).</summary>
    public static int HugePagesAdvised => Volatile.Read(ref _advised);

    /// <summary>A zeroed float array of <paramref name="count"/> elements for factor rows.</summary>
    public static float[] Allocate(long count) => Allocate<float>(count);

    /// <summary>A zeroed array of <paramref name="count"/> elements for factor rows (float32, or bfloat16 as ushort).</summary>
    public static unsafe T[] Allocate<T>(long count)
        where T : unmanaged
    {
        if (count < 0 || count > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A factor matrix holds at most {Array.MaxLength} values.");
        }
        if (count * sizeof(T) < HugePageThresholdBytes || !OperatingSystem.IsLinux())
        {
            return new T[count];
        }
        var array = GC.AllocateUninitializedArray<T>((int)count, pinned: true);
        Advise(array);
        // First touch after the advice, so that the pages are faulted in as huge pages.
        array.AsSpan().Clear();
        return array;
    }

    private static unsafe void Advise<T>(T[] array)
        where T : unmanaged
    {
        fixed (T* start = array)
        {
            var first = ((long)start + HugePage - 1) & ~(HugePage - 1);
            var end = ((long)start + (long)array.Length * sizeof(T)) & ~(HugePage - 1);
            if (end > first)
            {
                try
                {
                    if (Madvise((nint)first, (nuint)(end - first), MadviseHugePage) == 0)
                    {
                        Interlocked.Increment(ref _advised);
                    }
                }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
                {
                    // No libc madvise here: the array stays an ordinary one (see the class summary).
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
