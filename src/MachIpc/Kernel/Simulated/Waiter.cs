using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>Why a blocked thread was woken.</summary>
internal enum WakeReason
{
    None,
    /// <summary>A receiver was handed a message and the sender already copied it out into its buffer (<see cref="Waiter.Result"/>).</summary>
    Completed,
    /// <summary>A MACH_RCV_LARGE receiver met a message too large for it (B10); the message stayed queued.</summary>
    TooLarge,
    /// <summary>The receive right or port set went away (B5).</summary>
    PortChanged,
    /// <summary>A blocked sender was given a queue slot (A37, E2).</summary>
    SlotGranted,
    /// <summary>A blocked sender's destination died (A33).</summary>
    PortDied,
}

/// <summary>
/// One blocked thread (<c>thread_t</c> waiting on a <c>waitq</c>). Each thread owns one, reused for every
/// wait, so blocking allocates nothing. A waiter sits on the wait list of one port or port set, under that
/// object's lock; whoever takes it off the list (under the same lock) owns it until it calls
/// <see cref="Wake"/>: that is XNU's waitq_wakeup64_identify_locked, which picks a thread and keeps it from
/// running while the waker fills in its results. The thread sleeps on its own futex word (Linux) or monitor
/// (elsewhere), so a wake-up disturbs no other thread.
/// </summary>
/// <remarks>
/// It is also the rest of the thread's kernel state (XNU keeps its ith_* IPC fields in thread_t): the work the
/// thread deferred until it holds no lock (<see cref="Ops"/>, wake-ups) and its spare <see cref="KMsg"/>. One
/// thread-static read reaches all of it; each such read costs a TLS lookup, so entry points take it once.
/// </remarks>
internal sealed unsafe class Waiter
{
    [System.ThreadStatic] private static Waiter? t_current;

    internal static Waiter Current => t_current ??= new Waiter(null);

    /// <summary>
    /// Set for a wait that holds no thread (<see cref="AsyncMsg"/>): waking it runs the trap's continuation on the
    /// waker's thread once that thread holds no lock, instead of waking a sleeper.
    /// </summary>
    internal readonly AsyncMsg? Async;

    internal Waiter(AsyncMsg? async)
    {
        Async = async;
        // The wake word lives in native memory so a futex can wait on its address (one per thread, never freed), on a
        // cache line of its own: threads' words allocated one after another would otherwise share one, and every
        // wake-up of one thread would take the line from another that is only sleeping or resetting its own.
        // Nobody sleeps on an asynchronous waiter's word: all of them share one, which only Reset writes (zero).
        _word = async is null ? Futex.NewWord() : s_noSleeperWord;
    }

    private static readonly int* s_noSleeperWord = Futex.NewWord();

    // Deferred work (SimulatedKernel.Flush), this thread's spare message (KMsg.Rent/Return).
    internal SimulatedKernel.DeferredOp[] Ops = new SimulatedKernel.DeferredOp[16];
    internal int OpCount;
    internal bool Flushing;
    internal KMsg? SpareKMsg;

    // Leading: the thread runs the kernel host's loop instead of sleeping on its word (Remote/EventLoop.cs, Lead).
    // Offered: the host's loop thread gave up the loop for this thread, which wakes to lead it.
    private const int Waiting = 0, Woken = 1, Sleeping = 2, Leading = 3, Offered = 4;
    private static readonly bool s_futex = System.OperatingSystem.IsLinux() && Futex.Available;

    private readonly object _gate = new();
    private readonly int* _word;

    /// <summary>Where the wake word is (the layout test checks no two threads' words share a cache line).</summary>
    internal nint WordAddress => (nint)_word;

    internal Waiter? Prev, Next;
    internal WaitList? List;

    internal WakeReason Reason;
    internal MachMsgReturn Result;
    internal uint TooLargeSize;
    /// <summary>MACH_RCV_LARGE_IDENTITY: the receiver's name for the port whose message was too large (B10).</summary>
    internal uint TooLargeName;

    // Receive parameters: the thread that takes a blocked receiver off its list copies the message out into the
    // receiver's buffer itself (with no lock held, see SimulatedKernel.HandOff), so the receiver wakes with
    // nothing left to do (direct hand-off).
    internal MachMsgOption Option;
    internal uint RcvSize;
    internal SimulatedTask? RcvTask;
    internal byte* RcvBuf;
    internal KMsg? Kmsg;
    internal uint DestName;
    internal ulong Context;

    internal void Reset()
    {
        Volatile.Write(ref *_word, Waiting);
        Reason = WakeReason.None;
        Result = MachMsgReturn.Success;
        TooLargeSize = 0;
        TooLargeName = 0;
        RcvTask = null;
        Kmsg = null;
    }

    internal bool Done => Volatile.Read(ref *_word) == Woken;

    // Futex wake-ups are issued after the thread has released every kernel lock (SimulatedKernel.Flush), so no
    // lock is held across a syscall and the woken thread does not immediately contend for one.
    private Waiter?[] _wakes = new Waiter?[16];
    private int _wakeCount;
    // Continuations of asynchronous waits this thread woke, run by the outermost FlushWakes (a continuation enters
    // the kernel again, and that entry's own flush only adds to this list).
    private readonly System.Collections.Generic.List<AsyncMsg> _resumes = new();
    private bool _resuming;
    // This thread woke a thread that was leading the host's loop: kick it out of epoll_wait once no lock is held.
    private bool _kickLoop;

    /// <summary>Waits a thread leading the host's loop ended itself: it ran the request that completed them (tests).</summary>
    internal static int LeaderSelfWakes;

    /// <summary>Futex wake-ups this thread has issued (the host's loop thread hands the role back after one).</summary>
    internal long FutexWakes;

    private void DeferWake(Waiter w)
    {
        if (_wakeCount == _wakes.Length)
        {
            System.Array.Resize(ref _wakes, _wakes.Length * 2);
        }
        _wakes[_wakeCount++] = w;
    }

    /// <summary>Issues the wake-ups this thread deferred; call with no kernel lock held.</summary>
    internal void FlushWakes()
    {
        for (int i = 0; i < _wakeCount; i++)
        {
            Waiter w = _wakes[i]!;
            _wakes[i] = null;
            if (w.Async is { } op)
            {
                _resumes.Add(op);
            }
            else
            {
                Futex.WakeOne(w._word);
                FutexWakes++;
            }
        }
        _wakeCount = 0;
        if (_kickLoop)
        {
            _kickLoop = false;
            Remote.EventLoop.Leadable?.Kick();
        }
        if (_resumes.Count > 0 && !_resuming)
        {
            RunResumes();
        }
    }

    private void RunResumes()
    {
        _resuming = true;
        try
        {
            for (int i = 0; i < _resumes.Count; i++)
            {
                _resumes[i].Resume();
            }
        }
        finally
        {
            _resumes.Clear();
            _resuming = false;
        }
    }

    /// <summary>
    /// Records the outcome and wakes the thread. The caller owns the waiter: it took it off its wait list under
    /// the list owner's lock (a lock it may still hold; the futex syscall itself is deferred).
    /// </summary>
    internal void Wake(WakeReason reason)
    {
        List?.Remove(this);
        Reason = reason;
        if (Async is not null)
        {
            Current.DeferWake(this); // the continuation runs when the waker holds no lock (FlushWakes)
            return;
        }
        if (s_futex)
        {
            switch (Interlocked.Exchange(ref *_word, Woken))
            {
                case Sleeping:
                    Current.DeferWake(this);
                    break;
                case Leading when Current is var waker:
                    if (waker != this)
                    {
                        waker._kickLoop = true;
                    }
                    else
                    {
                        Interlocked.Increment(ref LeaderSelfWakes); // it sees Done after its round: no syscall
                    }
                    break;
            }
            return;
        }
        Volatile.Write(ref *_word, Woken);
        lock (_gate)
        {
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Sleeps (no kernel lock held) until woken or <paramref name="deadline"/> (Environment.TickCount64; long.MaxValue = forever).</summary>
    internal void Sleep(long deadline)
    {
        // No spinning: a blocked thread sleeps in the kernel (futex) or on a monitor until it is woken.
        if (Done)
        {
            return;
        }
        if (s_futex)
        {
            // In the kernel host's process, a thread with nothing deferred may run the host's loop while it waits
            // (leader/follower, Remote/EventLoop.cs), then sleeps for whatever is left as any other.
            if (Remote.EventLoop.Leadable is { } loop && OpCount == 0 && _wakeCount == 0 && !Flushing && !_resuming)
            {
                while (!loop.Lead(this, deadline) && SleepFutex(deadline))
                {
                    // offered the loop: lead it
                }
            }
            SleepFutex(deadline);
            return;
        }
        lock (_gate)
        {
            while (!Done)
            {
                if (deadline == long.MaxValue)
                {
                    Monitor.Wait(_gate);
                }
                else
                {
                    long left = deadline - System.Environment.TickCount64;
                    if (left <= 0)
                    {
                        return;
                    }
                    Monitor.Wait(_gate, (int)System.Math.Min(left, int.MaxValue));
                }
            }
        }
    }

    /// <summary>Advertises that the thread leads the loop (a waker kicks it, see <see cref="Wake"/>); false if already woken.</summary>
    internal bool BeginLeading()
    {
        while (true)
        {
            int state = Interlocked.CompareExchange(ref *_word, Leading, Waiting);
            if (state != Offered)
            {
                return state != Woken;
            }
            Interlocked.CompareExchange(ref *_word, Waiting, Offered); // a stale offer: this thread leads anyway
        }
    }

    /// <summary>Stops advertising it (unless woken meanwhile): the thread sleeps on its word again.</summary>
    internal void EndLeading() => Interlocked.CompareExchange(ref *_word, Waiting, Leading);

    /// <summary>
    /// The host's loop thread hands this (sleeping) thread the loop: true if the thread will look at the offer (it
    /// sleeps and is woken, or has not slept yet), false if it is running or done (its wait ended).
    /// </summary>
    internal bool OfferLead()
    {
        int state = Interlocked.CompareExchange(ref *_word, Offered, Sleeping);
        if (state == Sleeping)
        {
            Futex.WakeOne(_word);
            return true;
        }
        return state == Waiting && Interlocked.CompareExchange(ref *_word, Offered, Waiting) == Waiting;
    }

    /// <summary>Sleeps until woken or <paramref name="deadline"/>; true if it woke with the loop offered instead (<see cref="OfferLead"/>).</summary>
    private bool SleepFutex(long deadline)
    {
        while (true)
        {
            int state = Interlocked.CompareExchange(ref *_word, Sleeping, Waiting);
            if (state == Woken)
            {
                return false;
            }
            if (state == Offered)
            {
                Interlocked.CompareExchange(ref *_word, Waiting, Offered);
                return true;
            }
            long left = deadline == long.MaxValue ? -1 : deadline - System.Environment.TickCount64;
            if (left == 0 || left < -1)
            {
                // Timed out: stop advertising sleep so a later waker skips the syscall.
                Interlocked.CompareExchange(ref *_word, Waiting, Sleeping);
                return false;
            }
            Futex.Wait(_word, Sleeping, left);
        }
    }
}

/// <summary>The Linux futex syscall, for parking blocked threads cheaply.</summary>
internal static unsafe class Futex
{
    /// <summary>
    /// A zeroed futex word in native memory, on a 64-byte line of its own (never freed): words that different threads
    /// write, allocated one after another, would otherwise share a line and slow each other down.
    /// </summary>
    internal static int* NewWord()
    {
        var word = (int*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(64, 64);
        *word = 0;
        return word;
    }

    private const int FutexWaitPrivate = 128 | 0;
    private const int FutexWakePrivate = 128 | 1;

    private static readonly long s_sysFutex = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => 202,
        System.Runtime.InteropServices.Architecture.Arm64 => 98,
        _ => -1,
    };

    /// <summary>Whether futexes work here (a probe wake on a dummy word must succeed, e.g. not be filtered by seccomp).</summary>
    internal static bool Available { get; } = Probe();

    private static bool Probe()
    {
        if (s_sysFutex <= 0)
        {
            return false;
        }
        try
        {
            int word = 0;
            return syscall(s_sysFutex, &word, FutexWakePrivate, 1, null, null, 0) >= 0;
        }
        catch (System.DllNotFoundException)
        {
            return false;
        }
        catch (System.EntryPointNotFoundException)
        {
            return false;
        }
    }

    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "syscall", ExactSpelling = true)]
    private static extern long syscall(long number, int* addr, int op, int val, Timespec* timeout, int* addr2, int val3);

    /// <summary>Sleeps while *<paramref name="addr"/> == <paramref name="expected"/>, at most <paramref name="timeoutMs"/> (-1 = forever).</summary>
    internal static void Wait(int* addr, int expected, long timeoutMs)
    {
        if (timeoutMs < 0)
        {
            syscall(s_sysFutex, addr, FutexWaitPrivate, expected, null, null, 0);
            return;
        }
        WaitMicroseconds(addr, expected, timeoutMs * 1000);
    }

    /// <summary>Sleeps while *<paramref name="addr"/> == <paramref name="expected"/>, at most <paramref name="timeoutUs"/> µs.</summary>
    internal static void WaitMicroseconds(int* addr, int expected, long timeoutUs)
    {
        Timespec ts = new() { Sec = timeoutUs / 1_000_000, Nsec = timeoutUs % 1_000_000 * 1000 };
        syscall(s_sysFutex, addr, FutexWaitPrivate, expected, &ts, null, 0);
    }

    // FUTEX_WAKE never blocks and returns within microseconds, so it skips the GC transition, as
    // SuppressGCTransition allows for short non-blocking calls (a wait must not: it blocks).
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "syscall", ExactSpelling = true)]
    [System.Runtime.InteropServices.SuppressGCTransition]
    private static extern long syscall_wake(long number, int* addr, int op, int val, Timespec* timeout, int* addr2, int val3);

    internal static void WakeOne(int* addr) => syscall_wake(s_sysFutex, addr, FutexWakePrivate, 1, null, null, 0);
}

/// <summary>A FIFO of blocked threads (<c>waitq</c>), intrusive so it never allocates; guarded by its port's or set's lock.</summary>
internal sealed class WaitList
{
    private Waiter? _head, _tail;

    /// <summary>Threads on any wait list, i.e. blocked in mach_msg.</summary>
    internal static int TotalWaiting;

    internal bool IsEmpty => _head is null;
    internal Waiter? First => _head;

    internal void Add(Waiter w)
    {
        Interlocked.Increment(ref TotalWaiting);
        w.List = this;
        w.Next = null;
        w.Prev = _tail;
        if (_tail is null)
        {
            _head = w;
        }
        else
        {
            _tail.Next = w;
        }
        _tail = w;
    }

    internal void Remove(Waiter w)
    {
        if (w.List != this)
        {
            return;
        }
        if (w.Prev is null)
        {
            _head = w.Next;
        }
        else
        {
            w.Prev.Next = w.Next;
        }
        if (w.Next is null)
        {
            _tail = w.Prev;
        }
        else
        {
            w.Next.Prev = w.Prev;
        }
        w.Prev = w.Next = null;
        w.List = null;
        Interlocked.Decrement(ref TotalWaiting);
    }

    internal void WakeAll(WakeReason reason)
    {
        while (_head is not null)
        {
            _head.Wake(reason);
        }
    }
}
