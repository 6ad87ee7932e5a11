using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>The few libc calls the simulator needs, in LibraryImport's final (blittable DllImport) form.</summary>
internal static class Libc
{
    internal const int EBADF = 9;
    internal const int EFAULT = 14;
    internal const int ENOMEM = 12;
    internal const int EINVAL = 22;
    internal const int F_GETFD = 1;
    internal static int F_DUPFD_CLOEXEC => OperatingSystem.IsMacOS() ? 67 : 1030;

    [DllImport("libc", EntryPoint = "fcntl", ExactSpelling = true, SetLastError = true)]
    internal static extern int fcntl(int fd, int cmd, int arg);

    [DllImport("libc", EntryPoint = "close", ExactSpelling = true, SetLastError = true)]
    internal static extern int close(int fd);

    [DllImport("libc", EntryPoint = "geteuid", ExactSpelling = true)]
    internal static extern uint geteuid();

    [DllImport("libc", EntryPoint = "getegid", ExactSpelling = true)]
    internal static extern uint getegid();
}

// Section G: fileports. The port is a kernel object holding its own duplicate of the descriptor (standing in
// for the fileglob reference, G3); the duplicate is closed when the port gets no-senders.
internal sealed unsafe partial class SimulatedKernel
{
    public int FileportMakePort(int fd, uint* port)
    {
        try
        {
            if (Libc.fcntl(fd, Libc.F_GETFD, 0) < 0)
            {
                t_errno = Libc.EBADF; // G2
                return -1;
            }
            if (port is null)
            {
                t_errno = Libc.EFAULT;
                return -1;
            }
            int held = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0);
            if (held < 0)
            {
                t_errno = Marshal.GetLastPInvokeError();
                return -1;
            }
            // G1: a new kernel-held port per call; G3: no-senders armed from the start.
            IpcPort p = NewPort(null);
            p.Kind = KObjectKind.Fileport;
            p.KObject = held;
            p.MsCount = 1;
            p.SRights = 1;
            if (CopyoutToSpace(CurrentTask.Space, new KRight { Port = p, Type = MachMsgType.PortSend }, out uint name) != KernReturn.Success)
            {
                t_errno = Libc.ENOMEM; // the right was destroyed, and with it the port's descriptor
                return -1;
            }
            *port = name;
            return 0;
        }
        finally
        {
            Flush();
        }
    }

    public int FileportMakeFd(uint port)
    {
        IpcSpace s = CurrentTask.Space;
        IpcPort? p;
        using (s.Lock.EnterScope())
        {
            IpcEntry? e = s.Active ? LookupChecked(s, port) : null;
            p = e is not null && e.Has(MachPortType.Send) ? e.Port : null;
        }
        if (p is not { Kind: KObjectKind.Fileport })
        {
            t_errno = Libc.EINVAL; // G4
            return -1;
        }
        // G4: the lowest free descriptor, FD_CLOEXEC, same open file description; the right is not consumed.
        // Under the port's lock, so no-senders cannot close the held descriptor meanwhile.
        using (p.Lock.EnterScope())
        {
            if (!p.Active || p.KObject is not int held)
            {
                t_errno = Libc.EINVAL;
                return -1;
            }
            int fd = Libc.fcntl(held, Libc.F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
            {
                t_errno = Marshal.GetLastPInvokeError();
            }
            return fd;
        }
    }

    /// <summary>The fileport's last send right went (port locked): its descriptor is closed and the port dies.</summary>
    private void FileportNoSenders(IpcPort p)
    {
        if (p.KObject is int held)
        {
            Libc.close(held);
        }
        p.KObject = null;
        p.Active = false;
        PortGone(p);
    }
}
