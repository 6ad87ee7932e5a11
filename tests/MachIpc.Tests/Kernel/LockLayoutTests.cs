// Words that different threads write on every message each sit on a cache line of their own: ports' lock words
// allocated one after another, and threads' wake words (KernelLock.cs, Waiter.cs). Sharing a line made two threads
// that share nothing else slow each other down (the scaling benchmark's one-task row, RESULTS.md).
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.Kernel;

public class LockLayoutTests
{
    [Fact]
    public void LockWords_AllocatedOneAfterAnother_AreOnLinesOfTheirOwn()
    {
        var locks = Enumerable.Range(0, 256).Select(_ => KernelLock.Create()).ToList();
        var lines = locks.Select(l => l.WordAddress >> 6).ToHashSet();
        Assert.Equal(locks.Count, lines.Count);
        Assert.All(locks, l => Assert.Equal(0, l.WordAddress & 63));
        GC.KeepAlive(locks);
    }

    /// <summary>
    /// A lock word's whole line belongs to its lock: other objects on the pinned heap (a message's buffer, which its
    /// thread writes on every message) start past it. Fails with the 64-byte array the lock word once had.
    /// </summary>
    [Fact]
    public unsafe void LockWords_ShareNoLineWithTheNextPinnedObject()
    {
        var locks = new List<KernelLock>();
        var buffers = new List<byte[]>();
        for (int i = 0; i < 256; i++)
        {
            locks.Add(KernelLock.Create());
            buffers.Add(GC.AllocateArray<byte>(2048, pinned: true));
        }
        var ranges = buffers.Select(b =>
        {
            fixed (byte* p = b)
            {
                return (Start: (nint)p - 16, End: (nint)p + b.Length); // the header too: the GC writes it
            }
        }).ToList();
        foreach (KernelLock l in locks)
        {
            nint line = l.WordAddress, lineEnd = line + 64;
            Assert.DoesNotContain(ranges, r => r.Start < lineEnd && line < r.End);
        }
        GC.KeepAlive(buffers);
    }

    [Fact]
    public void ThreadsWakeWords_AreOnLinesOfTheirOwn()
    {
        var addresses = new List<nint>();
        var threads = Enumerable.Range(0, 16).Select(_ => new Thread(() =>
        {
            nint a = Waiter.Current.WordAddress;
            lock (addresses)
            {
                addresses.Add(a);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(16, addresses.Select(a => a >> 6).Distinct().Count());
        Assert.All(addresses, a => Assert.Equal(0, a & 63));
    }
}
