using System;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// A byte count checked against a limit that many threads add to at once, without every add writing one shared
/// cache line: Linux's <c>percpu_counter</c> (lib/percpu_counter.c, <c>percpu_counter_add_batch</c> and
/// <c>__percpu_counter_compare</c>). Each processor adds to its own slot; a slot is folded into the shared total
/// once it drifts more than <see cref="Batch"/> either way, so the total is within <c>slots × Batch</c> of the
/// true count, and only a charge that could come that close to the limit sums the slots exactly.
/// </summary>
/// <remarks>
/// Used for a task's kernel-memory quota (<see cref="VmMap"/>): a send charges its message and the receive
/// uncharges it, on every message, so with one shared word two threads of one task sending to their own ports
/// bounced that word between the cores on every message (the scaling benchmark's one-task row, RESULTS.md).
/// <para>
/// Never past the limit: a charge adds to its slot first and only then reads the total (the add is a full fence),
/// and an exact check sums the slots before the total while a fold adds to the total before it takes the bytes off
/// the slot, so no sum misses a byte (it may count a folding slot twice, which only refuses early). Of two charges
/// racing at the limit, each sees the other's bytes (one added to a slot before the other read the total, or the
/// other way round), so at most both fail, never both succeed past it.
/// </para>
/// </remarks>
internal sealed class PerCpuCounter
{
    /// <summary>How far a slot may drift before it is folded into the total.</summary>
    internal const long Batch = 64 * 1024;

    // One slot per processor, 16 longs (128 bytes, two lines: adjacent-line prefetch) apart; slot 0 is the total.
    private const int Stride = 16;
    private readonly long[] _words;
    private readonly int _slotMask;

    internal PerCpuCounter()
    {
        int slots = (int)Math.Min(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        _slotMask = slots - 1;
        _words = new long[(slots + 1) * Stride];
    }

    private int Slots => _slotMask + 1;

    private ref long Total => ref _words[0];

    private ref long Slot(int i) => ref _words[(i + 1) * Stride];

    /// <summary>The exact count (the slots, then the total; with adds in flight it may count a folding slot twice).</summary>
    internal long Sum
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Slots; i++)
            {
                sum += Volatile.Read(ref Slot(i));
            }
            return sum + Volatile.Read(ref Total);
        }
    }

    /// <summary>Adds <paramref name="bytes"/> (either sign) with no limit.</summary>
    internal void Add(long bytes)
    {
        int i = Thread.GetCurrentProcessorId() & _slotMask;
        long drift = Interlocked.Add(ref Slot(i), bytes);
        if (drift > Batch || drift < -Batch)
        {
            Fold(i, drift);
        }
    }

    /// <summary>Adds <paramref name="bytes"/> unless the count would pass <paramref name="limit"/>; then changes nothing.</summary>
    internal bool TryAdd(long bytes, long limit)
    {
        if (bytes <= 0)
        {
            Add(bytes);
            return true;
        }
        if (bytes <= Batch)
        {
            int i = Thread.GetCurrentProcessorId() & _slotMask;
            long drift = Interlocked.Add(ref Slot(i), bytes);
            if (drift <= Batch)
            {
                // Every slot is within Batch of zero (this one included), so the total is off by at most Slots × Batch.
                if (Volatile.Read(ref Total) + (long)Slots * Batch <= limit || Sum <= limit)
                {
                    return true;
                }
                Interlocked.Add(ref Slot(i), -bytes);
                return false;
            }
            Fold(i, drift); // our bytes are in the total now
        }
        else
        {
            Interlocked.Add(ref Total, bytes);
        }
        if (Sum <= limit)
        {
            return true;
        }
        Interlocked.Add(ref Total, -bytes);
        return false;
    }

    private void Fold(int i, long drift)
    {
        // Onto the total first, then off the slot: a concurrent Sum may count these bytes twice, never zero times.
        Interlocked.Add(ref Total, drift);
        Interlocked.Add(ref Slot(i), -drift);
    }
}
