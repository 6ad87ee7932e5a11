using System;
using System.Net.Sockets;
using static MachIpc.Connections.Posix;

namespace MachIpc.Connections;

/// <summary>Who is at the other end of a connected Unix-domain socket, as the kernel recorded it at connect time.</summary>
internal static unsafe class SocketPeer
{
    /// <summary>The peer's pid: <c>SO_PEERCRED</c> on Linux, <c>LOCAL_PEERPID</c> on macOS.</summary>
    /// <exception cref="MachRendezvousException">Not a connected Unix-domain socket, or the OS cannot say.</exception>
    public static int Pid(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        int fd = (int)socket.Handle;
        int pid = 0;
        if (OperatingSystem.IsLinux() && Kernel.Remote.Native.TryGetPeerCred(fd, out var cred))
        {
            pid = cred.Pid;
        }
        else if (OperatingSystem.IsMacOS())
        {
            uint length = sizeof(int);
            if (Darwin.getsockopt(fd, Darwin.SOL_LOCAL, Darwin.LOCAL_PEERPID, &pid, &length) != 0 || length != sizeof(int))
            {
                pid = 0;
            }
        }
        GC.KeepAlive(socket);
        return pid > 0 ? pid : throw new MachRendezvousException("cannot tell which process is at the other end of the socket: it must be a connected Unix-domain socket");
    }
}
