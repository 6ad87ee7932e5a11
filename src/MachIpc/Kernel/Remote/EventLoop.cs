using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// The kernel host's one thread: an edge-triggered epoll set of the listener and every connection, a timer queue
/// (receive and send timeouts, hello deadlines) and a queue of work other threads post (eventfd). However many
/// connections there are, the host runs them on this thread; nothing on it blocks (sockets are non-blocking and a
/// mach_msg that would wait parks its state, see Simulated/AsyncMsg.cs).
/// </summary>
internal sealed unsafe class EventLoop
{
    internal interface IHandler
    {
        /// <summary>Epoll reported <paramref name="events"/> for the handler's descriptor (on the loop thread).</summary>
        void OnEvents(uint events);
    }

    public const uint EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010, EPOLLRDHUP = 0x2000;
    private const uint EPOLLET = 1u << 31;
    private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
    private const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;

    private readonly int _epfd;
    private readonly int _eventFd;
    private readonly Dictionary<int, IHandler> _handlers = new(); // loop thread only
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Lock _timersLock = new();
    private readonly PriorityQueue<Action, long> _timers = new();
    private int _wakePending;
    private Thread? _thread;

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

    /// <summary>Whether the caller is the loop's thread.</summary>
    public bool OnLoop => Thread.CurrentThread == _thread;

    /// <summary>Threads the host uses, whatever the number of connections (the loop; the runtime's own are not counted).</summary>
    public const int Threads = 1;

    public void Start(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Watches <paramref name="fd"/> (edge-triggered: the handler reads and writes until EAGAIN). Loop thread.</summary>
    public void Add(int fd, IHandler handler, uint events)
    {
        _handlers[fd] = handler;
        Control(EPOLL_CTL_ADD, fd, events | EPOLLET);
    }

    /// <summary>Stops watching <paramref name="fd"/> (before it is closed). Loop thread.</summary>
    public void Remove(int fd)
    {
        if (_handlers.Remove(fd))
        {
            epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, null);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread: at the end of this round if called there, else soon.</summary>
    public void Post(Action work)
    {
        _posted.Enqueue(work);
        if (!OnLoop && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            eventfd_write(_eventFd, one);
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
            Post(static () => { }); // wake the loop so it sleeps until the new deadline at most
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

    private void Run()
    {
        const int Max = 64;
        byte* events = stackalloc byte[Max * 16];
        while (true)
        {
            int n = epoll_wait(_epfd, events, Max, NextTimeout());
            for (int i = 0; i < n; i++)
            {
                byte* ev = events + i * s_eventSize;
                int fd = (int)*(ulong*)(ev + s_dataOffset);
                if (fd == _eventFd)
                {
                    Volatile.Write(ref _wakePending, 0);
                    eventfd_read(_eventFd, out _);
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

    private int NextTimeout()
    {
        if (!_posted.IsEmpty)
        {
            return 0;
        }
        lock (_timersLock)
        {
            if (!_timers.TryPeek(out _, out long first))
            {
                return -1;
            }
            return (int)Math.Clamp(first - Environment.TickCount64, 0, int.MaxValue);
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
