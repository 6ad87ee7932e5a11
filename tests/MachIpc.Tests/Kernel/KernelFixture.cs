using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.Kernel;

/// <summary>Kernel tests share global kernel state (live-port counts), so they run one at a time.</summary>
[CollectionDefinition("Kernel", DisableParallelization = true)]
public sealed class KernelCollection
{
}

/// <summary>A message under construction in a byte buffer: header, optional body and descriptors, inline data.</summary>
public sealed class Msg
{
    private readonly List<byte[]> _descs = new();
    public uint Bits;
    public uint Remote, Local, Voucher;
    public int Id;
    public int Inline;
    public bool Complex;

    public static Msg To(uint dest, MachMsgType disp = MachMsgType.CopySend, uint reply = 0, MachMsgType replyDisp = 0, int id = 1000) =>
        new() { Remote = dest, Local = reply, Bits = MachMsgBits.Make(disp, replyDisp), Id = id };

    public Msg Port(uint name, MachMsgType disp)
    {
        var d = new byte[12];
        MemoryMarshal.Write(d, name);
        d[10] = (byte)disp;
        d[11] = (byte)MachMsgDescriptorType.Port;
        _descs.Add(d);
        Complex = true;
        return this;
    }

    public Msg Ool(nint address, uint size, bool deallocate = false, MachMsgCopy copy = MachMsgCopy.Virtual)
    {
        var d = new byte[16];
        MemoryMarshal.Write(d, (ulong)address);
        d[8] = deallocate ? (byte)1 : (byte)0;
        d[9] = (byte)copy;
        d[11] = (byte)MachMsgDescriptorType.Ool;
        MemoryMarshal.Write(d.AsSpan(12), size);
        _descs.Add(d);
        Complex = true;
        return this;
    }

    public Msg OolPorts(nint address, uint count, MachMsgType disp, bool deallocate = false)
    {
        var d = new byte[16];
        MemoryMarshal.Write(d, (ulong)address);
        d[8] = deallocate ? (byte)1 : (byte)0;
        d[9] = (byte)MachMsgCopy.Virtual;
        d[10] = (byte)disp;
        d[11] = (byte)MachMsgDescriptorType.OolPorts;
        MemoryMarshal.Write(d.AsSpan(12), count);
        _descs.Add(d);
        Complex = true;
        return this;
    }

    public Msg Raw(byte[] descriptor)
    {
        _descs.Add(descriptor);
        Complex = true;
        return this;
    }

    public Msg WithInline(int bytes)
    {
        Inline = bytes;
        return this;
    }

    public byte[] Build(out uint size)
    {
        int n = 24 + (Complex ? 4 : 0);
        foreach (byte[] d in _descs)
        {
            n += d.Length;
        }
        n += Inline;
        var buf = new byte[n + 256];
        var h = new MachMsgHeader
        {
            Bits = Bits | (Complex ? MachMsgBits.Complex : 0),
            Size = (uint)n,
            RemotePort = Remote,
            LocalPort = Local,
            VoucherPort = Voucher,
            Id = Id,
        };
        MemoryMarshal.Write(buf, h);
        int off = 24;
        if (Complex)
        {
            MemoryMarshal.Write(buf.AsSpan(24), (uint)_descs.Count);
            off = 28;
        }
        foreach (byte[] d in _descs)
        {
            d.CopyTo(buf, off);
            off += d.Length;
        }
        for (int i = 0; i < Inline; i++)
        {
            buf[off + i] = (byte)(i + 1);
        }
        size = (uint)n;
        return buf;
    }
}

/// <summary>A received message: the return code and the receive buffer, with typed readers.</summary>
public sealed class Received
{
    public MachMsgReturn Result;
    public byte[] Buffer = [];
    public MachMsgHeader Header => MemoryMarshal.Read<MachMsgHeader>(Buffer);
    public uint U32(int offset) => MemoryMarshal.Read<uint>(Buffer.AsSpan(offset));
    public ulong U64(int offset) => MemoryMarshal.Read<ulong>(Buffer.AsSpan(offset));
    public MachMsgPortDescriptor PortDesc(int index) => MemoryMarshal.Read<MachMsgPortDescriptor>(Buffer.AsSpan(28 + 12 * index));
    public MachMsgAuditTrailer AuditTrailer => MemoryMarshal.Read<MachMsgAuditTrailer>(Buffer.AsSpan((int)Header.Size));
    public MachMsgContextTrailer ContextTrailer => MemoryMarshal.Read<MachMsgContextTrailer>(Buffer.AsSpan((int)Header.Size));
}

/// <summary>
/// Per-test kernel scope: a fresh simulated task entered on the calling thread, helpers over the public
/// seam (<see cref="Mach"/>), and, on dispose, task death plus a kernel-wide leak check.
/// </summary>
public sealed unsafe class K : System.IDisposable
{
    private static int s_serviceCounter;
    private readonly KernelSnapshot _before;
    private readonly List<SimulatedTask> _tasks = new();
    private readonly System.IDisposable _enter;

    public readonly SimulatedTask Task;
    public uint Self => Mach.TaskSelf;

    public K(string name = "test")
    {
        _before = SimulatedMach.Snapshot();
        Task = NewTask(name);
        _enter = Task.Enter();
    }

    public SimulatedTask NewTask(string name)
    {
        SimulatedTask t = SimulatedMach.CreateTask(name);
        _tasks.Add(t);
        return t;
    }

    public void Dispose()
    {
        _enter.Dispose();
        foreach (SimulatedTask t in _tasks)
        {
            t.Dispose();
        }
        SimulatedMach.Snapshot().AssertNoLeaksSince(_before);
    }

    /// <summary>Runs <paramref name="body"/> as <paramref name="t"/> on this thread.</summary>
    public static T As<T>(SimulatedTask t, System.Func<T> body)
    {
        using (t.Enter())
        {
            return body();
        }
    }

    public static void As(SimulatedTask t, System.Action body)
    {
        using (t.Enter())
        {
            body();
        }
    }

    public uint Port()
    {
        uint n;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &n));
        return n;
    }

    public uint PortWithSend()
    {
        uint n = Port();
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, n, n, MachMsgType.MakeSend));
        return n;
    }

    public uint Set()
    {
        uint n;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.PortSet, &n));
        return n;
    }

    /// <summary>A send-once right (new name) to a port whose receive right this task holds.</summary>
    public uint SendOnceTo(uint recv)
    {
        uint n;
        MachMsgType t;
        Assert.Equal(KernReturn.Success, Mach.PortExtractRight(Mach.TaskSelf, recv, MachMsgType.MakeSendOnce, &n, &t));
        return n;
    }

    /// <summary>A fresh send-only name to <paramref name="recv"/> (via a send-once-free MAKE_SEND extract).</summary>
    public uint SendTo(uint recv)
    {
        uint n;
        MachMsgType t;
        Assert.Equal(KernReturn.Success, Mach.PortExtractRight(Mach.TaskSelf, recv, MachMsgType.MakeSend, &n, &t));
        return n;
    }

    public static MachPortType Type(uint name)
    {
        MachPortType t;
        Assert.Equal(KernReturn.Success, Mach.PortType(Mach.TaskSelf, name, &t));
        return t;
    }

    public static KernReturn TypeResult(uint name)
    {
        MachPortType t;
        return Mach.PortType(Mach.TaskSelf, name, &t);
    }

    public static uint Refs(uint name, MachPortRight right)
    {
        uint r;
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, name, right, &r));
        return r;
    }

    public static int[] Status(uint name)
    {
        int[] st = new int[10];
        uint count = 10;
        fixed (int* p = st)
        {
            Assert.Equal(KernReturn.Success, Mach.PortGetAttributes(Mach.TaskSelf, name, 2, p, &count));
        }
        return st;
    }

    public static int MsgCount(uint name) => Status(name)[4];
    public static int MsCount(uint name) => Status(name)[2];

    public static KernReturn SetQLimit(uint name, int q)
    {
        return Mach.PortSetAttributes(Mach.TaskSelf, name, MachPortLimits.LimitsInfoFlavor, &q, 1);
    }

    public static MachMsgReturn Send(Msg m, MachMsgOption extra = 0, uint timeout = 0) => Send(m.Build(out uint size), size, extra, timeout);

    public static MachMsgReturn Send(byte[] buf, uint size, MachMsgOption extra = 0, uint timeout = 0)
    {
        fixed (byte* p = buf)
        {
            return Mach.Msg((MachMsgHeader*)p, MachMsgOption.SendMsg | extra, size, 0, 0, timeout, 0);
        }
    }

    public static Received Rcv(uint name, uint size = 1024, MachMsgOption extra = MachMsgOption.RcvTimeout, uint timeout = 0, MachTrailerElements trailer = MachTrailerElements.Audit)
    {
        var r = new Received { Buffer = new byte[System.Math.Max(size, 8) + 64] };
        fixed (byte* p = r.Buffer)
        {
            r.Result = Mach.Msg((MachMsgHeader*)p, MachMsgOption.RcvMsg | extra | MachTrailerRequest.Option(trailer), 0, size, name, timeout, 0);
        }
        return r;
    }

    /// <summary>Receives one message that must be there and destroys it (mach_msg_destroy).</summary>
    public static Received RcvAndDestroy(uint name, MachTrailerElements trailer = MachTrailerElements.Audit)
    {
        Received r = Rcv(name, trailer: trailer);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Destroy(r);
        return r;
    }

    public static void Destroy(Received r)
    {
        fixed (byte* p = r.Buffer)
        {
            Mach.MsgDestroy((MachMsgHeader*)p);
        }
    }

    public static void Dealloc(uint name) => Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, name));
    public static void DestroyName(uint name) => Assert.Equal(KernReturn.Success, Mach.PortDestroy(Mach.TaskSelf, name));
    public static void DestroyReceive(uint name) => Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, name, MachPortRight.Receive, -1));

    public static KernReturn Request(uint name, int id, uint sync, uint notify, MachMsgType poly, out uint previous)
    {
        uint prev;
        KernReturn kr = Mach.PortRequestNotification(Mach.TaskSelf, name, id, sync, notify, poly, &prev);
        previous = prev;
        return kr;
    }

    public static void AssertNoMessage(uint name)
    {
        Received r = Rcv(name);
        Assert.Equal(MachMsgReturn.RcvTimedOut, r.Result);
    }

    /// <summary>
    /// Gives <paramref name="client"/> a send right to a new port whose receive right <paramref name="server"/>
    /// holds, through the bootstrap server (check_in by the server, look_up by the client).
    /// </summary>
    public static (uint ServerRecv, uint ClientSend) Connect(SimulatedTask server, SimulatedTask client)
    {
        byte[] name = Encoding.UTF8.GetBytes("test.svc." + System.Threading.Interlocked.Increment(ref s_serviceCounter) + "\0");
        uint recv = 0, send = 0;
        fixed (byte* n = name)
        {
            byte* np = n;
            As(server, () =>
            {
                uint bp = BootstrapPort();
                uint r;
                Assert.Equal(0, Mach.BootstrapCheckIn(bp, np, &r));
                Dealloc(bp);
                recv = r;
            });
            As(client, () =>
            {
                uint bp = BootstrapPort();
                uint s;
                Assert.Equal(0, Mach.BootstrapLookUp(bp, np, &s));
                Dealloc(bp);
                send = s;
            });
        }
        return (recv, send);
    }

    private SimulatedTask? _peer;

    /// <summary>The task holding the receive rights behind <see cref="ForeignSend"/> names.</summary>
    public SimulatedTask? Peer => _peer;

    /// <summary>A send-only name to a fresh port whose receive right lives in a peer task.</summary>
    public uint ForeignSend()
    {
        _peer ??= NewTask("peer");
        return Connect(_peer, Task).ClientSend;
    }

    public static uint BootstrapPort()
    {
        uint bp;
        Assert.Equal(KernReturn.Success, Mach.TaskGetSpecialPort(Mach.TaskSelf, MachPortName.TaskBootstrapPort, &bp));
        return bp;
    }

    /// <summary>Waits until <paramref name="n"/> threads are blocked in mach_msg (the kernel's own count).</summary>
    public static void WaitBlocked(int n) => SendPathTests.WaitUntil(() => SimulatedMach.BlockedThreads >= n);

    public static int NativeSelfNames(SimulatedTask t) => t.Rights().Count;
}
