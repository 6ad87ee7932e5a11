// Sections F (bootstrap) and G (fileports) of kernel-semantics.md.
//
// Choices and left-outs:
//   F1 - a name with no NUL in its first 128 bytes is rejected with BOOTSTRAP_BAD_COUNT (the MIG client
//        stub's behaviour was not traced; a name of 127 bytes + NUL is accepted).
//   F3 - declared (plist) services, HideUntilCheckIn and sandbox denial are not modelled: every task is an
//        anonymous job, so F4's "declared service" branches and F6(b) are left out.
//   F3 - replies do not travel as messages, so there is no launchd audit token to check.
//   G2 - only EBADF / EFAULT are produced: every open Linux descriptor is accepted (no kqueue-style EINVAL),
//        and guarded fds are out of scope.
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Microsoft.Win32.SafeHandles;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class BootstrapAndFileportTests
{
    private static byte[] Name(string s) => Encoding.UTF8.GetBytes(s + "\0");

    private static int CheckIn(string name, out uint port)
    {
        uint bp = BootstrapPort();
        uint p;
        int rc;
        fixed (byte* n = Name(name))
        {
            rc = Mach.BootstrapCheckIn(bp, n, &p);
        }
        Dealloc(bp);
        port = p;
        return rc;
    }

    private static int LookUp(string name, out uint port)
    {
        uint bp = BootstrapPort();
        uint p = 0;
        int rc;
        fixed (byte* n = Name(name))
        {
            rc = Mach.BootstrapLookUp(bp, n, &p);
        }
        Dealloc(bp);
        port = p;
        return rc;
    }

    private static int Register(string name, uint port)
    {
        uint bp = BootstrapPort();
        int rc;
        fixed (byte* n = Name(name))
        {
            rc = Mach.BootstrapRegister(bp, n, port);
        }
        Dealloc(bp);
        return rc;
    }

    [Fact]
    public void F1_ConstantsAndNameLengthLimit()
    {
        using var k = new K();
        Assert.Equal(1100, (int)BootstrapReturn.NotPrivileged);
        Assert.Equal(1102, (int)BootstrapReturn.UnknownService);
        Assert.Equal(128, BootstrapLimits.MaxNameLength);
        string longest = "f1." + new string('x', 124);
        Assert.Equal(127, longest.Length);
        Assert.Equal(0, CheckIn(longest, out uint p));
        Assert.Equal(0, LookUp(longest, out uint s));
        Assert.Equal(p, s);
        Dealloc(s);
        byte[] tooLong = Encoding.UTF8.GetBytes(new string('y', 200));
        uint bp = BootstrapPort();
        fixed (byte* n = tooLong)
        {
            uint r;
            Assert.Equal((int)BootstrapReturn.BadCount, Mach.BootstrapLookUp(bp, n, &r));
            Assert.Equal((int)BootstrapReturn.BadCount, Mach.BootstrapCheckIn(bp, n, &r));
        }
        Dealloc(bp);
    }

    [Fact]
    public void F2_CheckInGivesReceiveLookUpGivesSendRegisterKeepsRight()
    {
        using var k = new K();
        Assert.Equal(0, CheckIn("f2.svc", out uint recv));
        Assert.Equal(MachPortType.Receive, Type(recv));
        SimulatedTask client = k.NewTask("client");
        As(client, () =>
        {
            Assert.Equal(0, LookUp("f2.svc", out uint s1));
            Assert.Equal(0, LookUp("f2.svc", out uint s2));
            Assert.Equal(s1, s2);
            Assert.Equal(MachPortType.Send, Type(s1));
            Assert.Equal(2u, Refs(s1, MachPortRight.Send));
            Dealloc(s1);
            Dealloc(s1);
        });
        uint mine = k.PortWithSend();
        Assert.Equal(0, Register("f2.reg", mine));
        Assert.Equal(1u, Refs(mine, MachPortRight.Send)); // COPY_SEND: still ours
        Assert.Equal(0, LookUp("f2.reg", out uint back));
        Assert.Equal(mine, back); // B14: same name, +1 uref
        Assert.Equal(2u, Refs(mine, MachPortRight.Send));
        Dealloc(mine);
    }

    [Fact]
    public void F3_UnknownServiceAndSendRightToUncheckedPort()
    {
        using var k = new K();
        Assert.Equal((int)BootstrapReturn.UnknownService, LookUp("f3.nobody", out _));
        Assert.Equal(0, CheckIn("f3.svc", out uint recv));
        SimulatedTask client = k.NewTask("client");
        As(client, () =>
        {
            Assert.Equal(0, LookUp("f3.svc", out uint s));
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(s, MachMsgType.MoveSend)));
        });
        Assert.Equal(client.Pid, Rcv(recv).AuditTrailer.Audit.Pid);
        Assert.Equal((int)MachMsgReturn.SendInvalidDest, Mach.BootstrapLookUp(0x5503, null, null));
    }

    [Fact]
    public void F4_CheckInOfAnExistingName()
    {
        using var k = new K();
        Assert.Equal(0, CheckIn("f4.svc", out uint recv));
        Assert.Equal((int)BootstrapReturn.ServiceActive, CheckIn("f4.svc", out _));
        SimulatedTask other = k.NewTask("other");
        As(other, () => Assert.Equal((int)BootstrapReturn.NotPrivileged, CheckIn("f4.svc", out _)));
        Assert.Equal(MachPortType.Receive, Type(recv));
    }

    [Fact]
    public void F5_RegisterRules()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(0, Register("f5.svc", p));
        Assert.Equal((int)BootstrapReturn.ServiceActive, Register("f5.svc", p));
        SimulatedTask other = k.NewTask("other");
        As(other, () =>
        {
            uint q = k.PortWithSend();
            Assert.Equal((int)BootstrapReturn.NotPrivileged, Register("f5.svc", q));
            Assert.NotEqual((int)BootstrapReturn.NameInUse, Register("f5.svc", q));
        });
        Assert.Equal(0, Register("f5.null", MachPortName.Null));
        Assert.Equal((int)BootstrapReturn.UnknownService, LookUp("f5.null", out _));
        Assert.Equal((int)BootstrapReturn.NoMemory, Register("f5.dead", MachPortName.Dead));
        Assert.Equal((int)MachMsgReturn.SendInvalidRight, Register("f5.bad", 0x4403));
    }

    [Fact]
    public void F6_ServicesGoAwayWhenTheirTaskDies()
    {
        using var k = new K();
        SimulatedTask server = k.NewTask("server");
        As(server, () =>
        {
            Assert.Equal(0, CheckIn("f6.dyn", out _));
            uint p = k.PortWithSend();
            Assert.Equal(0, Register("f6.reg", p));
        });
        Assert.Equal(0, LookUp("f6.dyn", out uint s));
        server.Terminate();
        Assert.Equal((int)BootstrapReturn.UnknownService, LookUp("f6.dyn", out _));
        Assert.Equal((int)BootstrapReturn.UnknownService, LookUp("f6.reg", out _));
        Assert.Equal(MachPortType.DeadName, Type(s));
        Dealloc(s);
        Assert.Equal(0, CheckIn("f6.dyn", out _)); // the name can be taken again
    }

    [Fact]
    public void F7_BootstrapPortIsASendRightFromTaskGetSpecialPort()
    {
        using var k = new K();
        uint b1 = BootstrapPort();
        uint b2 = BootstrapPort();
        Assert.Equal(b1, b2);
        Assert.Equal(MachPortType.Send, Type(b1));
        // Each call adds a uref to the name the task was born with (bootstrap_port's right).
        Assert.Equal(Mach.BootstrapPort, b1);
        Assert.Equal(3u, Refs(b1, MachPortRight.Send));
        uint x;
        Assert.Equal(KernReturn.InvalidArgument, Mach.TaskGetSpecialPort(Mach.TaskSelf, 77, &x));
        Dealloc(b1);
        Dealloc(b1);
    }

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int fcntl(int fd, int cmd, int arg);

    private static (string Path, SafeFileHandle Handle) TempFile(string content)
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, content);
        return (path, File.OpenHandle(path, FileMode.Open, FileAccess.Read));
    }

    private static string ReadFd(int fd)
    {
        using var h = new SafeFileHandle(fd, ownsHandle: true);
        var buf = new byte[64];
        int n = RandomAccess.Read(h, buf, 0);
        return Encoding.UTF8.GetString(buf, 0, n);
    }

    private static int OpenFdCount() => Directory.GetFiles("/proc/self/fd").Length;

    [Fact]
    public void G1_EachMakePortIsANewPort()
    {
        using var k = new K();
        var (path, h) = TempFile("g1");
        using (h)
        {
            uint a, b;
            Assert.Equal(0, Mach.FileportMakePort((int)h.DangerousGetHandle(), &a));
            Assert.Equal(0, Mach.FileportMakePort((int)h.DangerousGetHandle(), &b));
            Assert.NotEqual(a, b);
            Assert.Equal(MachPortType.Send, Type(a));
            Dealloc(a);
            Dealloc(b);
        }
        File.Delete(path);
    }

    [Fact]
    public void G2_BadDescriptorIsEbadf()
    {
        using var k = new K();
        uint p;
        Assert.Equal(-1, Mach.FileportMakePort(987654, &p));
        Assert.Equal(9, Mach.LastErrno);
        Assert.Equal(-1, Mach.FileportMakePort(-1, &p));
        Assert.Equal(9, Mach.LastErrno);
    }

    [Fact]
    public void G3_FileportKeepsTheFileOpenUntilNoSenders()
    {
        using var k = new K();
        var (path, h) = TempFile("kept open");
        uint port;
        Assert.Equal(0, Mach.FileportMakePort((int)h.DangerousGetHandle(), &port));
        h.Dispose();
        int withPort = OpenFdCount();
        int fd = Mach.FileportMakeFd(port);
        Assert.True(fd >= 0);
        Assert.Equal("kept open", ReadFd(fd));
        // A send right inside a queued message keeps it alive too.
        uint q = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(q).Port(port, MachMsgType.MoveSend)));
        Assert.Equal(withPort, OpenFdCount());
        Received r = Rcv(q);
        uint got = r.PortDesc(0).Name;
        Dealloc(got);
        Assert.Equal(withPort - 1, OpenFdCount()); // no-senders: the held reference is dropped
        Assert.Equal(-1, Mach.FileportMakeFd(got));
        File.Delete(path);
    }

    [Fact]
    public void G4_MakeFdGivesANewCloexecDescriptorEachTime()
    {
        using var k = new K();
        var (path, h) = TempFile("g4");
        uint port;
        using (h)
        {
            Assert.Equal(0, Mach.FileportMakePort((int)h.DangerousGetHandle(), &port));
        }
        int fd1 = Mach.FileportMakeFd(port);
        int fd2 = Mach.FileportMakeFd(port);
        Assert.True(fd1 >= 0 && fd2 >= 0);
        Assert.NotEqual(fd1, fd2);
        Assert.Equal(1, fcntl(fd1, 1 /* F_GETFD */, 0) & 1); // FD_CLOEXEC
        Assert.Equal(1u, Refs(port, MachPortRight.Send));      // not consumed
        Assert.Equal("g4", ReadFd(fd1));
        Assert.Equal("g4", ReadFd(fd2));
        Assert.Equal(-1, Mach.FileportMakeFd(0x9903));
        Assert.Equal(22, Mach.LastErrno);
        uint notFileport = k.ForeignSend();
        Assert.Equal(-1, Mach.FileportMakeFd(notFileport));
        Assert.Equal(22, Mach.LastErrno);
        Assert.Equal(-1, Mach.FileportMakeFd(MachPortName.Dead));
        Dealloc(port);
        File.Delete(path);
    }

    [Fact]
    public void G5_FileportTravelsToAnotherTask()
    {
        using var k = new K();
        var (path, h) = TempFile("g5 data");
        SimulatedTask receiver = k.NewTask("receiver");
        (uint recv, uint send) = Connect(receiver, k.Task);
        uint port;
        using (h)
        {
            Assert.Equal(0, Mach.FileportMakePort((int)h.DangerousGetHandle(), &port));
        }
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send).Port(port, MachMsgType.MoveSend)));
        string text = As(receiver, () =>
        {
            Received r = Rcv(recv);
            int fd = Mach.FileportMakeFd(r.PortDesc(0).Name);
            Dealloc(r.PortDesc(0).Name);
            return ReadFd(fd);
        });
        Assert.Equal("g5 data", text);
        File.Delete(path);
    }
}
