using System;
using System.Runtime.InteropServices;
using MachIpc.Kernel.Darwin;

namespace MachIpc.Connections;

/// <summary>
/// The process and socket calls the connection patterns need (who is my parent, who is on the other end of
/// this socket, when does that process exit), in blittable DllImport form: libSystem on macOS, glibc on Linux.
/// </summary>
internal static unsafe class Posix
{
    public const int EINTR = 4;
    public const int ESRCH = 3;
    public const int ENOSYS = 38;

    /// <summary>The parent process's pid (<c>getppid</c>).</summary>
    public static int ParentPid => OperatingSystem.IsMacOS() ? Darwin.getppid() : Linux.getppid();

    /// <summary>errno of the last call declared with <c>SetLastError</c>.</summary>
    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>glibc (Linux).</summary>
    internal static class Linux
    {
        public const int SYS_pidfd_open = 434; // the same number on every architecture (the unified syscall table)
        public const short POLLIN = 0x1;
        public const int EFD_NONBLOCK = 0x800;
        public const int EFD_CLOEXEC = 0x80000;

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short Revents;
        }

        [DllImport("libc", EntryPoint = "getppid", ExactSpelling = true)]
        public static extern int getppid();

        [DllImport("libc", EntryPoint = "pidfd_open", ExactSpelling = true, SetLastError = true)]
        public static extern int pidfd_open(int pid, uint flags);

        // For a glibc older than 2.36, which has no pidfd_open wrapper.
        [DllImport("libc", EntryPoint = "syscall", ExactSpelling = true, SetLastError = true)]
        public static extern nint syscall(nint number, nint arg1, nint arg2);

        [DllImport("libc", EntryPoint = "eventfd", ExactSpelling = true, SetLastError = true)]
        public static extern int eventfd(uint initval, int flags);

        [DllImport("libc", EntryPoint = "poll", ExactSpelling = true, SetLastError = true)]
        public static extern int poll(PollFd* fds, nuint count, int timeout);

        [DllImport("libc", EntryPoint = "read", ExactSpelling = true, SetLastError = true)]
        public static extern nint read(int fd, void* buffer, nuint count);

        [DllImport("libc", EntryPoint = "write", ExactSpelling = true, SetLastError = true)]
        public static extern nint write(int fd, void* buffer, nuint count);

        [DllImport("libc", EntryPoint = "close", ExactSpelling = true, SetLastError = true)]
        public static extern int close(int fd);
    }

    /// <summary>libSystem (macOS).</summary>
    internal static class Darwin
    {
        public const int SOL_LOCAL = 0;        // sys/un.h
        public const int LOCAL_PEERPID = 0x002; // sys/un.h: the pid of the peer at connect time
        public const short EVFILT_PROC = -5;   // sys/event.h
        public const short EVFILT_USER = -10;
        public const ushort EV_ADD = 0x0001;
        public const ushort EV_DELETE = 0x0002;
        public const ushort EV_ONESHOT = 0x0010;
        public const ushort EV_CLEAR = 0x0020;
        public const uint NOTE_EXIT = 0x80000000;
        public const uint NOTE_TRIGGER = 0x01000000;

        /// <summary><c>struct kevent</c> (sys/event.h, <c>#pragma pack(4)</c>; 32 bytes on 64-bit, no padding).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct KEvent
        {
            public nuint Ident;
            public short Filter;
            public ushort Flags;
            public uint FFlags;
            public nint Data;
            public nint UData;
        }

        [DllImport(DarwinKernel.LibSystem, EntryPoint = "getppid", ExactSpelling = true)]
        public static extern int getppid();

        [DllImport(DarwinKernel.LibSystem, EntryPoint = "getsockopt", ExactSpelling = true, SetLastError = true)]
        public static extern int getsockopt(int fd, int level, int name, void* value, uint* length);

        [DllImport(DarwinKernel.LibSystem, EntryPoint = "kqueue", ExactSpelling = true, SetLastError = true)]
        public static extern int kqueue();

        [DllImport(DarwinKernel.LibSystem, EntryPoint = "kevent", ExactSpelling = true, SetLastError = true)]
        public static extern int kevent(int kq, KEvent* changelist, int nchanges, KEvent* eventlist, int nevents, void* timeout);

        [DllImport(DarwinKernel.LibSystem, EntryPoint = "close", ExactSpelling = true, SetLastError = true)]
        public static extern int close(int fd);
    }
}
