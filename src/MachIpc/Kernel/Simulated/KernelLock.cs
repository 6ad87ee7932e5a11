using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// The lock of one kernel object: a space's <c>is_lock</c>, a port's <c>ip_mq_lock</c>, a set's
/// <c>ips_mq_lock</c>, and the few leaf locks. A futex mutex (0 free, 1 held, 2 held with sleepers: mutex 3 of
/// Drepper's "Futexes Are Tricky") whose word sits on the pinned object heap, so taking, waiting for and
/// releasing it never allocates (System.Threading.Lock allocates an event the first time it is contended) and a
/// woken waiter costs one futex wake. Not recursive. Where futexes are unavailable it falls back to a monitor.
/// </summary>
/// <remarks>
/// Each word has a cache line of its own. Words allocated one after another (the ports two threads create) used to
/// share a line, so two threads each using only its own port still wrote one line on every message: the scaling
/// benchmark's one-task row was 0.54× at 2 threads, 1.12× once the words were apart (RESULTS.md).
/// <para>
/// Before sleeping, a contended <see cref="Enter"/> spins briefly (<see cref="SpinLimit"/> rounds of a few pause
/// instructions, about a microsecond at most): critical sections here are tens of nanoseconds long, so a holder
/// running on the other core is usually gone by then, while a futex sleep and wake-up costs several microseconds
/// on both sides. The spin is bounded and a preempted holder costs at most that bound before the thread sleeps;
/// the scaling benchmark measures it against no spin at all (tests/MachIpc.Benchmarks/RESULTS.md).
/// </para>
/// </remarks>
internal readonly unsafe struct KernelLock
{
    private const int Free = 0, Held = 1, Contended = 2;
    /// <summary>Pause rounds before a contended <see cref="Enter"/> sleeps (the scaling benchmark also runs with 0).</summary>
    internal static int SpinLimit = SpinLimitDefault;
    internal const int SpinLimitDefault = 20;
    private static readonly bool s_futex = OperatingSystem.IsLinux() && Futex.Available;

    // A pinned 64-byte array holds the word at its first 64-byte boundary: the rest of that line is this array's or
    // the header of the next object, whose own word is on a later boundary.
    private const int LineInts = 16;
    private readonly int[] _word;
    private readonly int* _p;

    private KernelLock(int[] word)
    {
        _word = word;
        nint first = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(word));
        _p = (int*)((first + 63) & ~(nint)63);
    }

    /// <summary>Where the lock word is (the layout test checks no two share a cache line).</summary>
    internal nint WordAddress => (nint)_p;

    internal static KernelLock Create() => new(GC.AllocateArray<int>(LineInts, pinned: true));

    internal void Enter()
    {
        if (!s_futex)
        {
            Monitor.Enter(_word);
            return;
        }
        if (Interlocked.CompareExchange(ref *_p, Held, Free) != Free)
        {
            EnterContended();
        }
    }

    internal bool TryEnter() =>
        s_futex ? Interlocked.CompareExchange(ref *_p, Held, Free) == Free : Monitor.TryEnter(_word);

    private void EnterContended()
    {
        for (int i = 0; i < SpinLimit; i++)
        {
            Thread.SpinWait(4);
            if (Volatile.Read(ref *_p) == Free && Interlocked.CompareExchange(ref *_p, Held, Free) == Free)
            {
                return;
            }
        }
        int c = Interlocked.Exchange(ref *_p, Contended);
        while (c != Free)
        {
            Futex.Wait(_p, Contended, -1);
            c = Interlocked.Exchange(ref *_p, Contended);
        }
    }

    internal void Exit()
    {
        if (!s_futex)
        {
            Monitor.Exit(_word);
            return;
        }
        if (Interlocked.Exchange(ref *_p, Free) == Contended)
        {
            Futex.WakeOne(_p);
        }
    }

    /// <summary>For <c>using (x.Lock.EnterScope()) { ... }</c>.</summary>
    internal Scope EnterScope()
    {
        Enter();
        return new Scope(this);
    }

    internal readonly ref struct Scope(KernelLock owner)
    {
        public void Dispose() => owner.Exit();
    }
}
