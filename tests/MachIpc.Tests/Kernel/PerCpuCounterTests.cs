// The task memory quota's counter (Simulated/PerCpuCounter.cs): per-processor slots folded into a total, exact
// near the limit, and conserving every byte however many threads charge and uncharge at once.
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.Kernel;

public class PerCpuCounterTests
{
    [Fact]
    public void NearTheLimit_EveryChargeIsCheckedExactly()
    {
        var c = new PerCpuCounter();
        Assert.True(c.TryAdd(300, 1000));
        Assert.True(c.TryAdd(300, 1000));
        Assert.True(c.TryAdd(300, 1000));
        Assert.False(c.TryAdd(300, 1000)); // 1200 > 1000: refused and not counted
        Assert.Equal(900, c.Sum);
        Assert.True(c.TryAdd(100, 1000)); // exactly the limit
        Assert.False(c.TryAdd(1, 1000));
        c.Add(-1000);
        Assert.Equal(0, c.Sum);
        Assert.True(c.TryAdd(1000, 1000));
    }

    [Fact]
    public void ChargesLargerThanABatch_AndSlotsThatDriftPastOne_AreCountedExactly()
    {
        var c = new PerCpuCounter();
        long limit = 1L << 40;
        Assert.True(c.TryAdd(PerCpuCounter.Batch * 3, limit)); // straight onto the total
        for (int i = 0; i < 10_000; i++)
        {
            Assert.True(c.TryAdd(1000, limit)); // drifts past Batch many times: folded
        }
        for (int i = 0; i < 4_000; i++)
        {
            c.Add(-1000);
        }
        Assert.Equal(PerCpuCounter.Batch * 3 + 6_000_000, c.Sum);
        Assert.False(c.TryAdd(limit, limit));
        Assert.Equal(PerCpuCounter.Batch * 3 + 6_000_000, c.Sum);
    }

    [Fact]
    public void ManyThreadsChargingAtOnce_EndWithinTheLimit_AndEveryByteIsAccountedFor()
    {
        var c = new PerCpuCounter();
        // Far enough above a batch per slot that the fast path is taken for a while, then close to the limit.
        long limit = 64L * PerCpuCounter.Batch;
        const int threads = 8;
        var kept = new long[threads];
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var random = new System.Random(t);
            var mine = new Stack<long>();
            start.SignalAndWait();
            for (int i = 0; i < 200_000; i++)
            {
                if (mine.Count > 0 && random.Next(4) == 0)
                {
                    long back = mine.Pop();
                    c.Add(-back); // a receive uncharging a message sent earlier
                    kept[t] -= back;
                    continue;
                }
                long bytes = random.Next(8) == 0 ? PerCpuCounter.Batch + random.Next(4096) : 1 + random.Next(4096);
                if (c.TryAdd(bytes, limit))
                {
                    mine.Push(bytes);
                    kept[t] += bytes;
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        long total = kept.Sum();
        Assert.Equal(total, c.Sum);
        Assert.InRange(total, 0, limit);
        // At rest the check is exact: the room left can be taken, and not a byte more.
        Assert.True(c.TryAdd(limit - total, limit));
        Assert.False(c.TryAdd(1, limit));
    }
}
