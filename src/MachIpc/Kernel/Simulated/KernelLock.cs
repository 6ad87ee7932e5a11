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

    // A pinned 128-byte array holds the word at its first 64-byte boundary, which is at most 56 bytes in (array data is
    // 8-byte aligned), so the word's whole line lies inside the array. A 64-byte array left that line shared with the
    // header and first bytes of the next object on the pinned heap, such as another thread's message buffer.
    private const int LineInts = 32;
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

/// <summary>
/// A space's <c>is_lock</c> with a sequence count beside its word (Linux's <c>seqcount_t</c> next to a mutex): every
/// holder makes the count odd on entry and even again on exit, so a reader that saw the same even count before and
/// after its reads knew the space was unchanged while it read, without writing anything shared.
/// </summary>
/// <remarks>
/// It lets a send whose header only copies rights (COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE) take them without the space
/// lock (<see cref="SimulatedKernel"/>'s <c>TryCopyinHeaderUnlocked</c>), so threads of one task that use unrelated
/// ports stop moving this lock's line between their cores on every message. XNU's send takes the lock
/// (<c>ipc_kmsg_copyin_header</c>, osfmk/ipc/ipc_kmsg.c:1982: <c>is_write_lock(space)</c>) while its receive already
/// reads entries without it (<c>ipc_right_lookup_read</c>, osfmk/ipc/ipc_right.c:117, confirmed under the object's
/// lock); what a sender or anyone else can observe is the same either way.
/// </remarks>
internal readonly unsafe struct SeqLock
{
    private readonly KernelLock _lock;
    private readonly int* _seq; // the int after the lock word: the same cache line, which the writer already owns

    private SeqLock(KernelLock inner)
    {
        _lock = inner;
        _seq = (int*)inner.WordAddress + 1;
    }

    internal static SeqLock Create() => new(KernelLock.Create());

    /// <summary>Where the lock word is (the layout test checks no two share a cache line).</summary>
    internal nint WordAddress => _lock.WordAddress;

    internal void Enter()
    {
        _lock.Enter();
        BeginWrite();
    }

    internal bool TryEnter()
    {
        if (!_lock.TryEnter())
        {
            return false;
        }
        BeginWrite();
        return true;
    }

    internal void Exit()
    {
        Volatile.Write(ref *_seq, *_seq + 1); // release: every change made under the lock is visible before the count
        _lock.Exit();
    }

    private void BeginWrite()
    {
        (*_seq)++;
        Volatile.WriteBarrier(); // the odd count is visible before any change that follows (smp_wmb)
    }

    /// <summary>The count to pass to <see cref="Unchanged"/>; odd while a holder may be changing the space.</summary>
    internal int ReadBegin() => Volatile.Read(ref *_seq);

    /// <summary>
    /// Whether nothing held the lock since <see cref="ReadBegin"/> returned <paramref name="begin"/>: the reads made
    /// in between saw one consistent state, the one the space had at this call.
    /// </summary>
    internal bool Unchanged(int begin)
    {
        Volatile.ReadBarrier(); // the reads being validated complete before the count is read again (smp_rmb)
        return (begin & 1) == 0 && Volatile.Read(ref *_seq) == begin;
    }

    /// <summary>For <c>using (x.Lock.EnterScope()) { ... }</c>.</summary>
    internal Scope EnterScope()
    {
        Enter();
        return new Scope(this);
    }

    internal readonly ref struct Scope(SeqLock owner)
    {
        public void Dispose() => owner.Exit();
    }
}
