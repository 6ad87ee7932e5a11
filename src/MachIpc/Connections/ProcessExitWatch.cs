using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Threading;
using static MachIpc.Connections.Posix;

namespace MachIpc.Connections;

/// <summary>
/// Says when processes exit, without polling and without trusting a pid for longer than the process behind it
/// lives: on Linux a pidfd per process (it refers to that process, not to whoever gets its pid next; poll(2)
/// finds it readable once the process has exited), on macOS a kqueue <c>EVFILT_PROC</c> filter with
/// <c>NOTE_EXIT</c>. One thread waits for all of a watcher's processes; it starts with the first watch and is
/// joined by <see cref="Dispose"/>. Callbacks run on that thread. Watch a pid once at a time: a kqueue keys its
/// filters by (pid, <c>EVFILT_PROC</c>), so a second watch of the same pid would replace the first.
/// </summary>
internal sealed unsafe class ProcessExitWatch : IDisposable
{
    /// <summary>One watched process. Compare by reference: a later watch of the same pid is another process.</summary>
    internal sealed class Watch(int pid, long id, int fd)
    {
        public int Pid { get; } = pid;
        internal readonly long Id = id;
        internal readonly int Fd = fd; // Linux: the pidfd; macOS: unused (-1)
    }

    /// <summary>What <see cref="TryWatch"/> found.</summary>
    internal enum Outcome
    {
        /// <summary>The process is alive and watched.</summary>
        Watching,
        /// <summary>No process has that pid (it exited, or the pid was never a process).</summary>
        NoSuchProcess,
        /// <summary>This OS cannot watch processes this way (Linux before 5.3, or neither Linux nor macOS).</summary>
        Unsupported,
    }

    private readonly Action<Watch> _onExit;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Watch> _watches = new();
    private readonly List<int> _toClose = new(); // Linux: cancelled pidfds, closed by the waiting thread only
    private long _nextId;
    private int _wakeFd = -1; // Linux: an eventfd; macOS: the kqueue (woken through EVFILT_USER)
    private Thread? _thread;
    private bool _disposed;

    public ProcessExitWatch(Action<Watch> onExit) => _onExit = onExit;

    /// <summary>Starts watching <paramref name="pid"/>; the watch is returned only when the outcome is <see cref="Outcome.Watching"/>.</summary>
    /// <exception cref="Win32Exception">The OS refused for another reason (for example out of descriptors).</exception>
    public Watch? TryWatch(int pid, out Outcome outcome)
    {
        if (pid <= 0 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            outcome = pid <= 0 ? Outcome.NoSuchProcess : Outcome.Unsupported;
            return null;
        }
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureThread();
            long id = ++_nextId;
            int fd = -1;
            int error = OperatingSystem.IsMacOS() ? AddKevent(pid, id) : OpenPidfd(pid, out fd);
            outcome = error switch
            {
                0 => Outcome.Watching,
                ESRCH => Outcome.NoSuchProcess,
                ENOSYS => Outcome.Unsupported,
                _ => throw new Win32Exception(error, $"cannot watch pid {pid} for exit"),
            };
            if (outcome != Outcome.Watching)
            {
                return null;
            }
            var watch = new Watch(pid, id, fd);
            _watches.Add(id, watch);
            Wake(); // a Linux waiter must add the new pidfd to its poll set
            return watch;
        }
    }

    /// <summary>Stops a watch; its callback will not run after this returns (unless it is running now).</summary>
    public void Cancel(Watch? watch)
    {
        if (watch is null)
        {
            return;
        }
        lock (_lock)
        {
            if (_disposed || !_watches.Remove(watch.Id))
            {
                return;
            }
            if (OperatingSystem.IsMacOS())
            {
                // ENOENT when the one-shot event already fired: nothing left to delete.
                var change = new Darwin.KEvent { Ident = (nuint)watch.Pid, Filter = Darwin.EVFILT_PROC, Flags = Darwin.EV_DELETE };
                Darwin.kevent(_wakeFd, &change, 1, null, 0, null);
            }
            else
            {
                // The waiting thread may be polling this descriptor: it closes it, so the number is not reused under it.
                _toClose.Add(watch.Fd);
                Wake();
            }
        }
    }

    /// <summary>Stops the waiting thread and closes every descriptor. Callbacks do not run after this returns.</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            thread = _thread;
            Wake();
        }
        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join();
        }
        if (OperatingSystem.IsLinux())
        {
            foreach (Watch w in _watches.Values)
            {
                Linux.close(w.Fd);
            }
            foreach (int fd in _toClose)
            {
                Linux.close(fd);
            }
        }
        _watches.Clear();
        _toClose.Clear();
        if (_wakeFd >= 0)
        {
            _ = OperatingSystem.IsMacOS() ? Darwin.close(_wakeFd) : Linux.close(_wakeFd);
            _wakeFd = -1;
        }
    }

    private void EnsureThread()
    {
        if (_thread is not null)
        {
            return;
        }
        if (OperatingSystem.IsMacOS())
        {
            _wakeFd = Darwin.kqueue();
            var user = new Darwin.KEvent { Ident = 0, Filter = Darwin.EVFILT_USER, Flags = Darwin.EV_ADD | Darwin.EV_CLEAR };
            if (_wakeFd < 0 || Darwin.kevent(_wakeFd, &user, 1, null, 0, null) < 0)
            {
                throw new Win32Exception(Errno, "kqueue");
            }
        }
        else
        {
            _wakeFd = Linux.eventfd(0, Linux.EFD_CLOEXEC | Linux.EFD_NONBLOCK);
            if (_wakeFd < 0)
            {
                throw new Win32Exception(Errno, "eventfd");
            }
        }
        _thread = new Thread(OperatingSystem.IsMacOS() ? WaitDarwin : WaitLinux) { IsBackground = true, Name = "MachIpc process exits" };
        _thread.Start();
    }

    private void Wake()
    {
        if (_wakeFd < 0)
        {
            return;
        }
        if (OperatingSystem.IsMacOS())
        {
            var trigger = new Darwin.KEvent { Ident = 0, Filter = Darwin.EVFILT_USER, FFlags = Darwin.NOTE_TRIGGER };
            Darwin.kevent(_wakeFd, &trigger, 1, null, 0, null);
        }
        else
        {
            ulong one = 1;
            Linux.write(_wakeFd, &one, sizeof(ulong));
        }
    }

    private static int OpenPidfd(int pid, out int fd)
    {
        try
        {
            fd = Linux.pidfd_open(pid, 0);
        }
        catch (EntryPointNotFoundException)
        {
            fd = (int)Linux.syscall(Linux.SYS_pidfd_open, pid, 0);
        }
        return fd >= 0 ? 0 : Errno;
    }

    private int AddKevent(int pid, long id)
    {
        // One shot: the exit is reported once and the filter removes itself. A pid with no process (or only a
        // zombie) fails with ESRCH.
        var change = new Darwin.KEvent
        {
            Ident = (nuint)pid,
            Filter = Darwin.EVFILT_PROC,
            Flags = Darwin.EV_ADD | Darwin.EV_ONESHOT,
            FFlags = Darwin.NOTE_EXIT,
            UData = (nint)id,
        };
        return Darwin.kevent(_wakeFd, &change, 1, null, 0, null) < 0 ? Errno : 0;
    }

    private void WaitLinux()
    {
        var watched = new List<Watch>();
        var exited = new List<Watch>();
        while (true)
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                foreach (int fd in _toClose)
                {
                    Linux.close(fd);
                }
                _toClose.Clear();
                watched.Clear();
                watched.AddRange(_watches.Values);
            }
            var fds = new Linux.PollFd[watched.Count + 1];
            fds[0] = new Linux.PollFd { Fd = _wakeFd, Events = Linux.POLLIN };
            for (int i = 0; i < watched.Count; i++)
            {
                fds[i + 1] = new Linux.PollFd { Fd = watched[i].Fd, Events = Linux.POLLIN };
            }
            int n;
            fixed (Linux.PollFd* p = fds)
            {
                n = Linux.poll(p, (nuint)fds.Length, -1);
            }
            if (n < 0)
            {
                if (Errno == EINTR)
                {
                    continue;
                }
                return; // cannot happen with valid descriptors; never spin
            }
            if (fds[0].Revents != 0)
            {
                ulong drained;
                Linux.read(_wakeFd, &drained, sizeof(ulong));
            }
            exited.Clear();
            lock (_lock)
            {
                for (int i = 0; i < watched.Count; i++)
                {
                    // POLLIN: the process has exited (POLLHUP/POLLERR would mean the same for our purpose).
                    if (fds[i + 1].Revents != 0 && !_disposed && _watches.Remove(watched[i].Id))
                    {
                        Linux.close(watched[i].Fd);
                        exited.Add(watched[i]);
                    }
                }
            }
            foreach (Watch w in exited)
            {
                _onExit(w);
            }
        }
    }

    private void WaitDarwin()
    {
        const int Batch = 16;
        var events = stackalloc Darwin.KEvent[Batch];
        var exited = new List<Watch>();
        while (true)
        {
            int n = Darwin.kevent(_wakeFd, null, 0, events, Batch, null);
            if (n < 0 && Errno != EINTR)
            {
                return;
            }
            exited.Clear();
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                for (int i = 0; i < n; i++)
                {
                    if (events[i].Filter == Darwin.EVFILT_PROC && (events[i].FFlags & Darwin.NOTE_EXIT) != 0
                        && _watches.Remove(events[i].UData, out Watch? w))
                    {
                        exited.Add(w);
                    }
                }
            }
            foreach (Watch w in exited)
            {
                _onExit(w);
            }
        }
    }
}
