using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// The kernel host's event loop: an edge-triggered epoll set of the listener and every connection, a timer queue
/// (receive and send timeouts, hello deadlines) and a queue of work other threads post (eventfd). However many
/// connections there are, the host runs them on one loop; nothing on it blocks (sockets are non-blocking and a
/// mach_msg that would wait parks its state, see Simulated/AsyncMsg.cs).
/// </summary>
/// <remarks>
/// <para>
/// Who runs it (leader/follower): one thread at a time holds the loop's role (<see cref="_role"/>); only it waits in
/// epoll and touches the per-connection state. A thread of this process about to sleep in a synchronous mach_msg
/// wait (Simulated/Waiter.cs) takes the role if it is free and runs the loop itself until its own wait ends (or its
/// deadline passes), so the request that will wake it is read from the socket by the thread that will serve it: the
/// helper and the server sleep per round trip, as with a plain socket, instead of helper, loop and server. A waker
/// of a leading thread kicks it out of epoll_wait through the eventfd (unless it is that thread: a leader that runs
/// the request completing its own wait sees it done after the round). Other receivers sleep while one leads. The
/// host's own thread (<see cref="Threads"/>) runs the loop when no receiver does; a receiver that finds it running
/// asks for the role (kicks the eventfd), and after its round the host thread releases it and wakes that receiver
/// with an offer (<see cref="Waiter.OfferLead"/>). That happens when a receiver starts waiting after the loop went
/// unled for a while, not per round trip. XNU has nothing like it (it is this host's transport, not kernel
/// semantics): what a receiver gets, in which order, with which trailer and return code, does not change.
/// </para>
/// <para>
/// Progress without a leader: a departure wakes nobody. The host thread looks at the role every
/// <see cref="PeriodMicroseconds"/> and takes it once it has been free for <see cref="GraceMicroseconds"/> since the
/// last release (<see cref="_releasedAt"/>), so a receiver that leaves the loop to serve a request and comes straight
/// back is not displaced. Worst case added latency for a connection while no thread leads: one period, 1 ms (plus the
/// kernel's timer slack). Work posted while nobody holds the role wakes the host thread at once. After
/// <see cref="QuietPeriods"/> periods in which one leader kept the role, the host thread sleeps until that leader
/// releases it (one futex wake then), so an idle host polls nothing.
/// </para>
/// </remarks>
internal sealed unsafe class EventLoop
{
    internal interface IHandler
    {
        /// <summary>Epoll reported <paramref name="events"/> for the handler's descriptor (on the thread holding the role).</summary>
        void OnEvents(uint events);
    }

    public const uint EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010, EPOLLRDHUP = 0x2000;
    private const uint EPOLLET = 1u << 31;
    private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    private const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    private const int MaxEvents = 64;

    /// <summary>How often the host thread looks at a role it does not hold (µs): the bound (class remarks).</summary>
    private const int PeriodMicroseconds = 1000;

    /// <summary>How long the role must have been free before the host thread takes it (µs), at most a period.</summary>
    private const int GraceMicroseconds = 250;

    /// <summary>Periods one leader may keep the role before the host thread stops polling and waits for its release.</summary>
    private const int QuietPeriods = 20;

    // The role word: free, held, or held while the host thread sleeps until it is released (the releaser wakes it).
    private const int Free = 0, Held = 1, HeldWatched = 2;

    /// <summary>The loop a thread of this process may lead while it waits in mach_msg (the kernel host's; null without one).</summary>
    internal static EventLoop? Leadable;

    [ThreadStatic]
    private static long t_allocatedLeading;

    /// <summary>
    /// Bytes this thread allocated while it led the loop, serving other tasks' connections: what a thread's own
    /// <c>mach_msg</c> calls allocate is its total less this (the allocation tests measure it that way).
    /// </summary>
    internal static long AllocatedWhileLeading => t_allocatedLeading;

    private readonly int _epfd;
    private readonly int _eventFd;
    private readonly Dictionary<int, IHandler> _handlers = new(); // role holder only
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Lock _timersLock = new();
    private readonly PriorityQueue<Action, long> _timers = new();
    private int _wakePending;
    private Thread? _thread;
    // A futex word on a cache line of its own, as the threads' wake words (starts Free): the host thread futex-waits on
    // it, and every leader writes it twice per wait. The loop lives as long as the process.
    private readonly int* _role = Futex.NewWord();
    private long _releasedAt; // Stopwatch timestamp of the last release
    private Thread? _holder;
    private Waiter? _wanter; // a receiver found the role held by the host thread and asked for it

    public EventLoop()
    {
        _epfd = epoll_create1(EFD_CLOEXEC);
        _eventFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (_epfd < 0 || _eventFd < 0)
        {
            throw new InvalidOperationException($"epoll/eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        }
        Control(EPOLL_CTL_ADD, _eventFd, EPOLLIN | EPOLLET);
    }

    /// <summary>The thread holding the loop's role now (the host's thread, a leading receiver, or null).</summary>
    internal Thread? Holder => Volatile.Read(ref _holder);

    /// <summary>The host's own thread.</summary>
    internal Thread? HostThread => _thread;

    /// <summary>Whether the caller holds the loop's role (the host's thread or a leading receiver).</summary>
    public bool OnLoop => Volatile.Read(ref _holder) == Thread.CurrentThread;

    /// <summary>Threads the host uses, whatever the number of connections (the loop; the runtime's own are not counted).</summary>
    public const int Threads = 1;

    public void Start(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
        Volatile.Write(ref Leadable, this);
    }

    /// <summary>Watches <paramref name="fd"/> (edge-triggered: the handler reads and writes until EAGAIN). Role holder.</summary>
    public void Add(int fd, IHandler handler, uint events)
    {
        _handlers[fd] = handler;
        Control(EPOLL_CTL_ADD, fd, events | EPOLLET);
    }

    /// <summary>
    /// Changes the events watched on <paramref name="fd"/> (re-armed: a condition already true is reported). Any
    /// thread, while the descriptor is open; false if epoll refused.
    /// </summary>
    public bool Watch(int fd, uint events)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events | EPOLLET;
        *(ulong*)(ev + s_dataOffset) = (ulong)fd;
        return epoll_ctl(_epfd, EPOLL_CTL_MOD, fd, ev) == 0;
    }

    /// <summary>Stops watching <paramref name="fd"/> (before it is closed). Role holder.</summary>
    public void Remove(int fd)
    {
        if (_handlers.Remove(fd))
        {
            epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, null);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop: at the end of this round if called by the role holder, else soon.</summary>
    public void Post(Action work)
    {
        _posted.Enqueue(work);
        if (!OnLoop)
        {
            Kick();
            if (Volatile.Read(ref *_role) == Free)
            {
                Futex.WakeOne(_role); // nobody runs the loop: the host thread takes the role for this work now
            }
        }
    }

    /// <summary>Makes the role holder return from epoll_wait (a leading receiver's wait ended on another thread).</summary>
    internal void Kick()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            eventfd_write(_eventFd, 1);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread at <paramref name="deadline"/> (Environment.TickCount64) or soon after.</summary>
    public void At(long deadline, Action work)
    {
        bool earliest;
        lock (_timersLock)
        {
            earliest = !_timers.TryPeek(out _, out long first) || deadline < first;
            _timers.Enqueue(work, deadline);
        }
        if (earliest && !OnLoop)
        {
            Post(static () => { }); // wake the role holder so it sleeps until the new deadline at most
        }
    }

    private void Control(int op, int fd, uint events)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + s_dataOffset) = (ulong)fd;
        if (epoll_ctl(_epfd, op, fd, ev) < 0)
        {
            throw new InvalidOperationException($"epoll_ctl failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>The host's thread: runs the loop while it holds the role, and takes the role when nobody leads.</summary>
    private void Run()
    {
        byte* events = stackalloc byte[MaxEvents * 16];
        Waiter self = Waiter.Current;
        while (true)
        {
            AwaitRole();
            while (true)
            {
                long wakes = self.FutexWakes;
                Round(events, NextTimeout(-1));
                if (Volatile.Read(ref _wanter) is null || Interlocked.Exchange(ref _wanter, null) is not { } wanter)
                {
                    continue;
                }
                // A receiver asked for the role: release it and wake the receiver to lead if it still sleeps. If this
                // round woke a synchronous waiter (likely that receiver, with its message), it comes back to lead when
                // it waits again: leave the role free (AwaitRole takes it back if nobody does). Otherwise keep it.
                Release();
                if (wanter.OfferLead() || self.FutexWakes != wakes || !TryTake())
                {
                    break;
                }
            }
        }
    }

    /// <summary>
    /// The host thread waits until the role has been free for the grace time (or work was posted), then takes it.
    /// See the class remarks for the bound.
    /// </summary>
    private void AwaitRole()
    {
        long seenHeld = -1;
        int quiet = 0;
        while (true)
        {
            int role = Volatile.Read(ref *_role);
            long releasedAt = Volatile.Read(ref _releasedAt);
            if (role == Free)
            {
                long idle = (long)Stopwatch.GetElapsedTime(releasedAt).TotalMicroseconds;
                if ((idle >= GraceMicroseconds || !_posted.IsEmpty) && TryTake())
                {
                    return;
                }
                quiet = 0;
                Futex.WaitMicroseconds(_role, Free, Math.Max(GraceMicroseconds - idle, 1));
                continue;
            }
            quiet = releasedAt == seenHeld ? quiet + 1 : 0;
            seenHeld = releasedAt;
            if (quiet >= QuietPeriods && Interlocked.CompareExchange(ref *_role, HeldWatched, Held) == Held)
            {
                Futex.Wait(_role, HeldWatched, -1); // the leader's release wakes us
                quiet = 0;
                continue;
            }
            Futex.WaitMicroseconds(_role, role, PeriodMicroseconds);
        }
    }

    private bool TryTake()
    {
        if (Interlocked.CompareExchange(ref *_role, Held, Free) != Free)
        {
            return false;
        }
        Volatile.Write(ref _holder, Thread.CurrentThread);
        return true;
    }

    private void Release()
    {
        Volatile.Write(ref _holder, null);
        Volatile.Write(ref _releasedAt, Stopwatch.GetTimestamp());
        if (Interlocked.Exchange(ref *_role, Free) == HeldWatched)
        {
            Futex.WakeOne(_role);
        }
    }

    /// <summary>
    /// Called by a thread about to sleep in a synchronous mach_msg wait (<paramref name="w"/> is its own waiter, on a
    /// wait list; the thread holds no kernel lock and has nothing deferred): if the role is free, runs the loop
    /// until <paramref name="w"/> is done or <paramref name="deadline"/> (Environment.TickCount64) passes, then
    /// gives the role back, and returns true. False if another thread holds the role: the caller sleeps (if the host
    /// thread holds it, it is asked for it and wakes the caller with an offer after its current round,
    /// <see cref="Waiter.OfferLead"/>; a leading receiver keeps it until its own wait ends).
    /// </summary>
    internal bool Lead(Waiter w, long deadline)
    {
        if (OnLoop || !TryTake())
        {
            if (!OnLoop && Volatile.Read(ref _holder) == _thread)
            {
                Volatile.Write(ref _wanter, w);
                Kick();
            }
            return false;
        }
        // Requests run in their connection's task; between them the loop acts as the main task, as on the host thread.
        // The thread's own kernel state is its own again afterwards: its task and errno (its Waiter is parked on a wait
        // list meanwhile, and requests touch only its deferred-work lists and spare message, empty between calls).
        SimulatedTask? task = SimulatedTask.SetCurrent(null);
        int errno = SimulatedKernel.ThreadErrno;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            if (!w.BeginLeading())
            {
                return true; // woken meanwhile
            }
            byte* events = stackalloc byte[MaxEvents * 16];
            while (!w.Done)
            {
                int limit = -1;
                if (deadline != long.MaxValue)
                {
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0)
                    {
                        break;
                    }
                    limit = (int)Math.Min(left, int.MaxValue);
                }
                Round(events, NextTimeout(limit));
            }
            return true;
        }
        finally
        {
            w.EndLeading();
            t_allocatedLeading += GC.GetAllocatedBytesForCurrentThread() - allocated;
            SimulatedTask.SetCurrent(task);
            SimulatedKernel.ThreadErrno = errno;
            Release();
        }
    }

    /// <summary>One turn of the loop (role holder): wait for events at most <paramref name="timeout"/> ms, run them, the due timers and the posted work.</summary>
    private void Round(byte* events, int timeout)
    {
        int n = epoll_wait(_epfd, events, MaxEvents, timeout);
        for (int i = 0; i < n; i++)
        {
            byte* ev = events + i * s_eventSize;
            int fd = (int)*(ulong*)(ev + s_dataOffset);
            if (fd == _eventFd)
            {
                // Consume, then re-arm: a kick between the two finds the flag still set and writes nothing, but what
                // it announced (posted work, a leader's wait done) is looked at later in this round. The other order
                // could consume a kick whose flag stays set, and every later kick would then write nothing.
                eventfd_read(_eventFd, out _);
                Interlocked.Exchange(ref _wakePending, 0); // a full fence: what follows reads after the re-arm
                continue;
            }
            if (_handlers.TryGetValue(fd, out IHandler? h))
            {
                try
                {
                    h.OnEvents(*(uint*)ev);
                }
                catch (Exception ex)
                {
                    Console.Error.WriteLine($"machipc kernel host: {ex}"); // as Guard: the loop goes on
                }
            }
        }
        RunDue();
        while (_posted.TryDequeue(out Action? work))
        {
            Guard(work);
        }
    }

    /// <summary>Nothing a handler does may end the loop: the host's other connections depend on it.</summary>
    private static void Guard(Action work)
    {
        try
        {
            work();
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"machipc kernel host: {ex}");
        }
    }

    /// <summary>How long the next epoll_wait may sleep: until the first timer, at most <paramref name="limit"/> ms (-1: no limit).</summary>
    private int NextTimeout(int limit)
    {
        if (!_posted.IsEmpty)
        {
            return 0;
        }
        lock (_timersLock)
        {
            if (!_timers.TryPeek(out _, out long first))
            {
                return limit;
            }
            int due = (int)Math.Clamp(first - Environment.TickCount64, 0, int.MaxValue);
            return limit < 0 ? due : Math.Min(due, limit);
        }
    }

    private void RunDue()
    {
        long now = Environment.TickCount64;
        while (true)
        {
            Action work;
            lock (_timersLock)
            {
                if (!_timers.TryPeek(out _, out long first) || first > now)
                {
                    return;
                }
                work = _timers.Dequeue();
            }
            Guard(work);
        }
    }

    // struct epoll_event { uint32_t events; epoll_data_t data; } is packed on x86-64 (__EPOLL_PACKED: 12 bytes),
    // naturally aligned elsewhere (16 bytes).
    private static readonly bool s_packed = RuntimeInformation.ProcessArchitecture == Architecture.X64;
    private static readonly int s_eventSize = s_packed ? 12 : 16;
    private static readonly int s_dataOffset = s_packed ? 4 : 8;

    [DllImport("libc", EntryPoint = "epoll_create1", ExactSpelling = true, SetLastError = true)]
    private static extern int epoll_create1(int flags);

    [DllImport("libc", EntryPoint = "epoll_ctl", ExactSpelling = true, SetLastError = true)]
    private static extern int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [DllImport("libc", EntryPoint = "epoll_wait", ExactSpelling = true, SetLastError = true)]
    private static extern int epoll_wait(int epfd, byte* events, int max, int timeout);

    [DllImport("libc", EntryPoint = "eventfd", ExactSpelling = true, SetLastError = true)]
    private static extern int eventfd(uint initval, int flags);

    [DllImport("libc", EntryPoint = "eventfd_write", ExactSpelling = true)]
    private static extern int eventfd_write(int fd, ulong value);

    [DllImport("libc", EntryPoint = "eventfd_read", ExactSpelling = true)]
    private static extern int eventfd_read(int fd, out ulong value);
}
