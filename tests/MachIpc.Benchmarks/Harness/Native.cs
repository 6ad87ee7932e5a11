using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace MachIpc.Benchmarks.Harness;

/// <summary>The libc calls the baselines use, with no managed layer between the benchmark and the syscall.</summary>
internal static unsafe class Native
{
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [DllImport("libc", EntryPoint = "socketpair", SetLastError = true)] public static extern int socketpair(int domain, int type, int protocol, int* sv);
    [DllImport("libc", EntryPoint = "read", SetLastError = true)] public static extern nint read(int fd, byte* buf, nuint count);
    [DllImport("libc", EntryPoint = "write", SetLastError = true)] public static extern nint write(int fd, byte* buf, nuint count);
    [DllImport("libc", EntryPoint = "close", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", EntryPoint = "shutdown", SetLastError = true)] public static extern int shutdown(int fd, int how);
    [DllImport("libc", EntryPoint = "poll", SetLastError = true)] public static extern int poll(PollFd* fds, nuint nfds, int timeout);
    [DllImport("libc", EntryPoint = "syscall", ExactSpelling = true)] private static extern long syscall(long number, int* addr, int op, int val, void* timeout, int* addr2, int val3);
    // The same fast path the simulator's waker uses: FUTEX_WAKE does not block, so no GC transition.
    [DllImport("libc", EntryPoint = "syscall", ExactSpelling = true), SuppressGCTransition] private static extern long syscall_wake(long number, int* addr, int op, int val, void* timeout, int* addr2, int val3);

    public static (int A, int B) SocketPair()
    {
        int* pair = stackalloc int[2];
        if (socketpair(1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, pair) != 0)
        {
            throw new InvalidOperationException("socketpair failed: errno " + Marshal.GetLastPInvokeError());
        }
        return (pair[0], pair[1]);
    }

    public static bool ReadExactly(int fd, byte* buf, int count)
    {
        for (int got = 0; got < count;)
        {
            nint r = read(fd, buf + got, (nuint)(count - got));
            if (r <= 0)
            {
                return false;
            }
            got += (int)r;
        }
        return true;
    }

    public static bool WriteAll(int fd, byte* buf, int count)
    {
        for (int put = 0; put < count;)
        {
            nint r = write(fd, buf + put, (nuint)(count - put));
            if (r <= 0)
            {
                return false;
            }
            put += (int)r;
        }
        return true;
    }

    public static bool PollIn(int fd)
    {
        var p = new PollFd { Fd = fd, Events = 1 /* POLLIN */ };
        return poll(&p, 1, -1) == 1;
    }

    private static readonly long s_sysFutex = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 98 : 202;

    /// <summary>
    /// The hand-off protocol every futex-based wake-up uses, and the one the simulator's waiter uses: a word per
    /// sleeper, 0 = idle, 1 = signalled, 2 = sleeping; the waker only makes the syscall if the sleeper sleeps.
    /// <paramref name="shared"/> selects the cross-process (non-private) futex ops for words in a shared mapping.
    /// </summary>
    public static void Signal(int* word, bool shared = false)
    {
        if (Interlocked.Exchange(ref *word, 1) == 2)
        {
            syscall_wake(s_sysFutex, word, shared ? 1 : 128 | 1 /* FUTEX_WAKE(_PRIVATE) */, 1, null, null, 0);
        }
    }

    /// <summary>Waits for <see cref="Signal"/> and consumes it.</summary>
    public static void Await(int* word, bool shared = false)
    {
        while (true)
        {
            int state = Interlocked.CompareExchange(ref *word, 2, 0);
            if (state == 1)
            {
                break;
            }
            syscall(s_sysFutex, word, shared ? 0 : 128 /* FUTEX_WAIT(_PRIVATE) */, 2, null, null, 0);
            if (Volatile.Read(ref *word) == 1)
            {
                break;
            }
        }
        Volatile.Write(ref *word, 0);
    }
}
