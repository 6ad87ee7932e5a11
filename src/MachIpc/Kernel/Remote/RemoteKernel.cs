using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// The kernel seam in a process that joined a simulated kernel hosted by another process (a client of PROTOCOL.md,
/// like the C library in src/native) (its parent passed
/// <c>MACHIPC_KERNEL_SOCKET</c>). The process is one task. Every call is one request/reply on a pooled
/// connection, so a thread blocked in a receive holds only its own connection (the host parks the wait in its
/// kernel without a thread, Kernel/Remote/README.md). Message bytes and out-of-line contents are copied out of this process's memory and
/// back into memory allocated here (addresses in descriptors are patched; <c>vm_deallocate</c> frees them).
/// </summary>
/// <remarks>
/// When the host is gone, calls fail without blocking: sends (and bootstrap calls) return
/// <c>MACH_SEND_INVALID_DEST</c>, receives <c>MACH_RCV_PORT_CHANGED</c>, mach_port_* calls
/// <c>KERN_INVALID_TASK</c>, fileport calls -1 with errno EPIPE; <see cref="LostReason"/> says why and one
/// line goes to standard error.
/// </remarks>
internal sealed unsafe class RemoteKernel : IMachKernel
{
    private readonly string _path;
    private readonly Lock _poolLock = new();
    private readonly Stack<Conn> _idle = new();
    private readonly Lock _mapLock = new();
    /// <summary>Out-of-line regions received: local address → (host address, size).</summary>
    private readonly Dictionary<ulong, (ulong Host, ulong Size)> _regions = new();
    private FrameConnection? _lifeline;
    private int _pid;
    private uint _self;
    private uint _bootstrap;
    private volatile string? _lostReason;
    [ThreadStatic] private static int t_errno;

    private sealed class Conn(FrameConnection connection)
    {
        public readonly FrameConnection C = connection;
        public readonly FrameWriter W = new();
    }

    public RemoteKernel(string path)
    {
        _path = path;
        _pid = Environment.ProcessId;
        try
        {
            // The lifeline: the first connection makes this process a task; it carries nothing else, and its
            // end (our exit) is our task's death. A watcher learns of the host's death from it.
            FrameConnection lifeline = Connect(out _pid, out _self, out _bootstrap);
            _lifeline = lifeline;
            var watcher = new Thread(() =>
            {
                try
                {
                    lifeline.Receive(out _);
                }
                catch (WireException)
                {
                }
                Lose("the kernel host closed the connection (it exited or was killed)");
            }, 64 * 1024) { IsBackground = true, Name = "machipc kernel lifeline" };
            watcher.Start();
        }
        catch (Exception ex) when (ex is SocketException or WireException or JoinException)
        {
            Lose($"cannot join the kernel at {path}: {ex.Message}");
        }
    }

    private sealed class JoinException(string message) : Exception(message);

    /// <summary>Why kernel calls fail, or null while the host is reachable.</summary>
    public string? LostReason => _lostReason;

    public string SocketPath => _path;

    private void Lose(string reason)
    {
        if (_lostReason is null)
        {
            _lostReason = reason;
            Console.Error.WriteLine($"machipc: lost the simulated kernel ({reason}); Mach calls now fail: sends MACH_SEND_INVALID_DEST, receives MACH_RCV_PORT_CHANGED, port calls KERN_INVALID_TASK.");
        }
    }

    private FrameConnection Connect(out int pid, out uint self, out uint bootstrap)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(_path));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var c = new FrameConnection(socket);
        var w = new FrameWriter();
        w.BeginRequest(Wire.Op.Hello);
        w.U32(Wire.Magic);
        w.U32(Wire.Version);
        w.End();
        if (!c.Send(w.Buffer, w.Length))
        {
            c.Dispose();
            throw new JoinException("the kernel host refused the connection");
        }
        ReadOnlySpan<byte> reply = c.Receive(out bool eof);
        if (eof)
        {
            c.Dispose();
            throw new JoinException("the kernel host closed the connection");
        }
        var r = new FrameReader(reply);
        pid = r.I32();
        self = r.U32();
        bootstrap = r.U32();
        r.End();
        return c;
    }

    private Conn? Rent()
    {
        if (_lostReason is not null)
        {
            return null;
        }
        lock (_poolLock)
        {
            if (_idle.Count > 0)
            {
                return _idle.Pop();
            }
        }
        try
        {
            return new Conn(Connect(out _, out _, out _));
        }
        catch (Exception ex) when (ex is SocketException or WireException or JoinException)
        {
            Lose($"cannot reach the kernel host at {_path}: {ex.Message}");
            return null;
        }
    }

    private void Return(Conn c)
    {
        lock (_poolLock)
        {
            _idle.Push(c);
        }
    }

    /// <summary>Sends the request in <c>c.W</c> and reads the reply; false (connection dropped) if the host is gone.</summary>
    private bool Call(Conn c, out ReadOnlySpan<byte> reply, out bool sent, int fd = -1)
    {
        reply = default;
        c.W.End();
        sent = c.C.Send(c.W.Buffer, c.W.Length, fd);
        bool eof = true;
        try
        {
            if (sent)
            {
                reply = c.C.Receive(out eof);
            }
        }
        catch (WireException)
        {
            eof = true;
        }
        if (eof)
        {
            c.C.Dispose();
            Lose("the kernel host closed the connection (it exited or was killed)");
            return false;
        }
        return true;
    }

    /// <summary>
    /// How many bytes of the caller's buffer travel with a mach_msg request: the whole message to send, plus
    /// the header and largest trailer a receive may write (so that whatever the kernel does not write goes
    /// back unchanged).
    /// </summary>
    internal static uint PrefixLength(MachMsgOption option, uint sendSize, uint rcvSize)
    {
        uint rcvPart = (option & MachMsgOption.RcvMsg) != 0 ? Math.Min(rcvSize, (uint)(MachMsgHeader.SizeOf + MachTrailerRequest.MaxSize)) : 0;
        uint sendPart = (option & MachMsgOption.SendMsg) != 0 ? sendSize : 0;
        return Math.Max(sendPart, rcvPart);
    }

    private static MachMsgReturn LostMsg(MachMsgOption option, bool sent) =>
        (option & MachMsgOption.SendMsg) != 0 && (!sent || (option & MachMsgOption.RcvMsg) == 0)
            ? MachMsgReturn.SendInvalidDest
            : MachMsgReturn.RcvPortChanged;

    public MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify)
    {
        bool send = (option & MachMsgOption.SendMsg) != 0;
        bool rcv = (option & MachMsgOption.RcvMsg) != 0;
        if ((send && sendSize > Wire.MaxMessageBytes) || (rcv && rcvSize > Wire.MaxMessageBytes))
        {
            return send ? MachMsgReturn.SendTooLarge : MachMsgReturn.RcvInvalidData; // past what the socket carries
        }
        Conn? c = Rent();
        if (c is null)
        {
            return LostMsg(option, false);
        }
        FrameWriter w = c.W;
        w.BeginRequest(Wire.Op.Msg);
        w.U32((uint)(option & ~(MachMsgOption.SendInterrupt | MachMsgOption.RcvInterrupt))); // PROTOCOL.md "Msg": the trap's option
        w.U32(sendSize);
        w.U32(rcvSize);
        w.U32(rcvName);
        w.U32(timeout);
        w.U32(notify);
        w.U32(msg is null ? 1u : 0u);
        uint prefix = PrefixLength(option, sendSize, rcvSize);
        List<(ulong Local, ulong Host)>? deallocAfter = null;
        var buf = (byte*)msg;
        if (buf is not null)
        {
            w.Bytes(buf, (int)prefix);
            if (send)
            {
                deallocAfter = WriteOutOfLine(w, buf, sendSize);
            }
        }
        if (!Call(c, out ReadOnlySpan<byte> reply, out bool sent))
        {
            return LostMsg(option, sent);
        }
        var r = new FrameReader(reply);
        var mr = (MachMsgReturn)r.I32();
        uint writeback = r.U32();
        uint bufLen = Math.Max(prefix, Math.Max(send ? sendSize : 0, rcv ? rcvSize : 0));
        if (writeback > bufLen || buf is null && writeback != 0)
        {
            throw new InvalidOperationException("kernel host protocol error: write-back larger than the buffer");
        }
        r.Take((int)writeback).CopyTo(new Span<byte>(buf, (int)writeback));
        uint regions = r.U32();
        for (uint i = 0; i < regions; i++)
        {
            uint off = r.U32();
            ulong host = r.U64();
            uint len = r.U32();
            ReadOnlySpan<byte> bytes = r.Take((int)len);
            if ((ulong)off + 8 > writeback)
            {
                throw new InvalidOperationException("kernel host protocol error: region outside the message");
            }
            *(ulong*)(buf + off) = (ulong)AdoptRegion(host, bytes);
        }
        // Regions copyin deallocated (deallocate = TRUE on memory we had received): free our copies too.
        uint consumed = r.U32();
        for (uint i = 0; i < consumed; i++)
        {
            ulong host = r.U64();
            foreach ((ulong local, ulong h) in deallocAfter ?? [])
            {
                if (h == host)
                {
                    lock (_mapLock)
                    {
                        if (!_regions.Remove(local))
                        {
                            continue;
                        }
                    }
                    NativeMemory.Free((void*)local);
                    break;
                }
            }
        }
        Return(c);
        return mr;
    }

    /// <summary>Ships the contents of every out-of-line descriptor, walking the descriptors as copyin does.</summary>
    private List<(ulong Local, ulong Host)>? WriteOutOfLine(FrameWriter w, byte* buf, uint sendSize)
    {
        int countAt = w.Reserve(4);
        uint regions = 0;
        List<(ulong Local, ulong Host)>? dealloc = null;
        if (sendSize >= MachMsgBase.SizeOf && ((MachMsgHeader*)buf)->IsComplex)
        {
            uint count = *(uint*)(buf + MachMsgHeader.SizeOf);
            uint off = MachMsgBase.SizeOf;
            for (uint i = 0; i < count && off + 12 <= sendSize; i++)
            {
                byte type = buf[off + 11];
                if (type == (byte)MachMsgDescriptorType.Port)
                {
                    off += 12;
                    continue;
                }
                if (type > (byte)MachMsgDescriptorType.GuardedPort || off + 16 > sendSize)
                {
                    break;
                }
                if (type is (byte)MachMsgDescriptorType.Ool or (byte)MachMsgDescriptorType.OolVolatile or (byte)MachMsgDescriptorType.OolPorts)
                {
                    ulong len = type == (byte)MachMsgDescriptorType.OolPorts ? *(uint*)(buf + off + 12) * 4ul : *(uint*)(buf + off + 12);
                    ulong addr = *(ulong*)(buf + off);
                    regions++;
                    int mark = w.Length;
                    if (len > Wire.MaxMessageBytes)
                    {
                        w.U8((byte)Wire.RegionKind.Unreadable);
                    }
                    else
                    {
                        // deallocate = TRUE on a region we received: copyin must free the host's region too.
                        ulong host = 0;
                        if (buf[off + 8] != 0 && len > 0)
                        {
                            lock (_mapLock)
                            {
                                host = _regions.TryGetValue(addr, out var region) ? region.Host : 0;
                            }
                        }
                        w.U8((byte)(host != 0 ? Wire.RegionKind.DataFromRegion : Wire.RegionKind.Data));
                        w.U32((uint)len);
                        int at = w.Reserve((int)len);
                        bool ok;
                        fixed (byte* dst = &w.Buffer[0])
                        {
                            ok = UserMemory.TryCopyIn(addr, dst + at, (nuint)len);
                        }
                        if (!ok)
                        {
                            w.Truncate(mark);
                            w.U8((byte)Wire.RegionKind.Unreadable);
                        }
                        else if (host != 0)
                        {
                            w.U64(host);
                            (dealloc ??= new List<(ulong, ulong)>()).Add((addr, host));
                        }
                    }
                }
                off += 16;
            }
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(w.Buffer.AsSpan(countAt), regions);
        return dealloc;
    }

    /// <summary>
    /// libsyscall's user-level <c>mach_msg_destroy</c>: the walk happens here, over this process's message; the
    /// releases (by type) and vm_deallocates go to the host in one batch. Same rules as libsyscall
    /// (libsyscall/mach/mach_msg.c): a region or port array is freed only when its descriptor says
    /// <c>deallocate</c> (lines 434, 470), volatile regions are skipped (line 446), <c>msgh_local_port</c> is left alone.
    /// </summary>
    public void MsgDestroy(MachMsgHeader* msg)
    {
        if (msg is null)
        {
            return;
        }
        var ops = new FrameWriter();
        ops.Begin();
        uint n = 0;
        void Port(uint name, MachMsgType type)
        {
            if (MachPortName.IsValid(name) && n < Wire.MaxDestroyOps)
            {
                ops.U8(0);
                ops.U32(name);
                ops.U32((uint)type);
                n++;
            }
        }
        void Region(ulong addr, ulong size)
        {
            if (n < Wire.MaxDestroyOps)
            {
                (ulong host, ulong hsize) = Translate(addr, size);
                ops.U8(1);
                ops.U64(host);
                ops.U64(hsize);
                n++;
            }
        }
        Port(msg->RemotePort, msg->RemoteDisposition);
        Port(msg->VoucherPort, msg->VoucherDisposition);
        if (msg->IsComplex && msg->Size >= MachMsgBase.SizeOf)
        {
            byte* b = (byte*)msg;
            uint count = *(uint*)(b + MachMsgHeader.SizeOf);
            uint off = MachMsgBase.SizeOf;
            for (uint i = 0; i < count && off + 12 <= msg->Size; i++)
            {
                var type = (MachMsgDescriptorType)b[off + 11];
                bool deallocate = b[off + 8] != 0;
                bool stop = false;
                switch (type)
                {
                    case MachMsgDescriptorType.Port:
                        Port(*(uint*)(b + off), (MachMsgType)b[off + 10]);
                        off += 12;
                        continue;
                    case MachMsgDescriptorType.GuardedPort:
                        Port(*(uint*)(b + off + 12), (MachMsgType)b[off + 10]);
                        break;
                    case MachMsgDescriptorType.Ool:
                        if (deallocate && *(uint*)(b + off + 12) != 0)
                        {
                            Region(*(ulong*)(b + off), *(uint*)(b + off + 12));
                        }
                        break;
                    case MachMsgDescriptorType.OolVolatile:
                        break;
                    case MachMsgDescriptorType.OolPorts:
                    {
                        uint cnt = *(uint*)(b + off + 12);
                        var names = (uint*)*(ulong*)(b + off);
                        if (names is not null && cnt != 0)
                        {
                            for (uint k = 0; k < cnt; k++)
                            {
                                Port(names[k], (MachMsgType)b[off + 10]);
                            }
                            if (deallocate)
                            {
                                Region((ulong)names, cnt * 4ul);
                            }
                        }
                        break;
                    }
                    default:
                        stop = true;
                        break;
                }
                if (stop)
                {
                    break;
                }
                off += 16;
            }
        }
        if (n == 0)
        {
            return;
        }
        Conn? c = Rent();
        if (c is null)
        {
            return;
        }
        c.W.BeginRequest(Wire.Op.MsgDestroyOps);
        c.W.U32(n);
        c.W.Bytes(ops.Buffer.AsSpan(4, ops.Length - 4));
        if (Call(c, out _, out _))
        {
            Return(c);
        }
    }

    /// <summary>A received region's host address (freeing the local copy), or the address unchanged.</summary>
    private (ulong Host, ulong Size) Translate(ulong addr, ulong size)
    {
        (ulong Host, ulong Size) region;
        lock (_mapLock)
        {
            if (!_regions.Remove(addr, out region))
            {
                return (addr, size);
            }
        }
        NativeMemory.Free((void*)addr);
        return region;
    }

    public uint TaskSelf() => _self;

    public uint BootstrapPort() => _bootstrap;

    public int CurrentPid() => _pid;

    public object? CaptureTask() => null;

    public IDisposable? EnterTask(object task) => null;

    public int LastErrno => t_errno;

    // ---- the simple calls: fixed arguments in, a return code and a few words out ---------------------

    private bool Begin(Wire.Op op, out Conn c)
    {
        c = Rent()!;
        if (c is null)
        {
            return false;
        }
        c.W.BeginRequest(op);
        return true;
    }

    private bool Finish(Conn c, out FrameReader r, int fd = -1)
    {
        if (!Call(c, out ReadOnlySpan<byte> reply, out _, fd))
        {
            r = default;
            return false;
        }
        r = new FrameReader(reply);
        return true;
    }

    private KernReturn Simple(Wire.Op op, uint a, uint b, uint? c3 = null, uint? c4 = null)
    {
        if (!Begin(op, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        c.W.U32(a);
        c.W.U32(b);
        if (c3 is { } v3)
        {
            c.W.U32(v3);
        }
        if (c4 is { } v4)
        {
            c.W.U32(v4);
        }
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        Return(c);
        return kr;
    }

    private KernReturn SimpleOut(Wire.Op op, ReadOnlySpan<uint> args, uint* out1, uint* out2 = null)
    {
        if (!Begin(op, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        foreach (uint a in args)
        {
            c.W.U32(a);
        }
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        uint v1 = r.Remaining >= 4 ? r.U32() : 0;
        uint v2 = r.Remaining >= 4 ? r.U32() : 0;
        Return(c);
        if (out1 is not null)
        {
            *out1 = v1;
        }
        if (out2 is not null)
        {
            *out2 = v2;
        }
        return kr;
    }

    public KernReturn PortAllocate(uint task, MachPortRight right, uint* name) =>
        SimpleOut(Wire.Op.PortAllocate, [task, (uint)right], name);

    public KernReturn PortConstruct(uint task, MachPortOptions* options, ulong context, uint* name)
    {
        if (options is null)
        {
            return KernReturn.InvalidArgument;
        }
        if (!Begin(Wire.Op.PortConstruct, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        c.W.U32(task);
        c.W.U32((uint)options->Flags);
        c.W.U32(options->QLimit);
        c.W.U64(options->Reserved0);
        c.W.U64(options->Reserved1);
        c.W.U64(context);
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        uint value = r.U32();
        Return(c);
        if (kr == KernReturn.Success && name is not null)
        {
            *name = value;
        }
        return kr;
    }

    public KernReturn PortNames(uint task, uint** names, uint* namesCount, MachPortType** types, uint* typesCount)
    {
        if (!Begin(Wire.Op.PortNames, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        c.W.U32(task);
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        if (kr != KernReturn.Success)
        {
            Return(c);
            return kr;
        }
        uint count = r.U32();
        ulong hostNames = r.U64(), hostTypes = r.U64();
        uint* localNames = (uint*)AdoptRegion(hostNames, r.Take(checked((int)count * 4)));
        var localTypes = (MachPortType*)AdoptRegion(hostTypes, r.Take((int)count * 4));
        Return(c);
        if (names is not null)
        {
            *names = localNames;
        }
        if (namesCount is not null)
        {
            *namesCount = count;
        }
        if (types is not null)
        {
            *types = localTypes;
        }
        if (typesCount is not null)
        {
            *typesCount = count;
        }
        return kr;
    }

    /// <summary>A local copy of a region the kernel gave this task at <paramref name="host"/> in the host; vm_deallocate frees both.</summary>
    private void* AdoptRegion(ulong host, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
        {
            return null;
        }
        void* local = NativeMemory.Alloc((nuint)bytes.Length);
        bytes.CopyTo(new Span<byte>(local, bytes.Length));
        lock (_mapLock)
        {
            _regions[(ulong)local] = (host, (ulong)bytes.Length);
        }
        return local;
    }

    public KernReturn PidForTask(uint task, int* pid)
    {
        int value = -1;
        var kr = KernReturn.Failure;
        if (Begin(Wire.Op.PidForTask, out Conn c))
        {
            c.W.U32(task);
            if (Finish(c, out FrameReader r))
            {
                kr = (KernReturn)r.I32();
                value = r.I32();
                Return(c);
            }
        }
        if (pid is not null)
        {
            *pid = value;
        }
        return kr;
    }

    public KernReturn PortDeallocate(uint task, uint name) => Simple(Wire.Op.PortDeallocate, task, name);

    public KernReturn PortDestroy(uint task, uint name) => Simple(Wire.Op.PortDestroy, task, name);

    public KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta) =>
        Simple(Wire.Op.PortModRefs, task, name, (uint)right, (uint)delta);

    public KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly) =>
        Simple(Wire.Op.PortInsertRight, task, name, poly, (uint)polyPoly);

    public KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly) =>
        SimpleOut(Wire.Op.PortExtractRight, [task, name, (uint)msgtName], poly, (uint*)polyPoly);

    public KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs) =>
        SimpleOut(Wire.Op.PortGetRefs, [task, name, (uint)right], refs);

    public KernReturn PortType(uint task, uint name, MachPortType* ptype) =>
        SimpleOut(Wire.Op.PortType, [task, name], (uint*)ptype);

    public KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous) =>
        SimpleOut(Wire.Op.PortRequestNotification, [task, name, (uint)msgid, sync, notify, (uint)notifyPoly], previous);

    public KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount)
    {
        uint n = portInfo is null ? 0 : Math.Min(portInfoCount, (uint)Wire.MaxPortInfoCount);
        if (!Begin(Wire.Op.PortSetAttributes, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        c.W.U32(task);
        c.W.U32(name);
        c.W.I32(flavor);
        c.W.U32(n);
        for (int i = 0; i < n; i++)
        {
            c.W.I32(portInfo[i]);
        }
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        Return(c);
        return kr;
    }

    public KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount)
    {
        if (portInfo is null || portInfoCount is null)
        {
            return KernReturn.InvalidArgument;
        }
        uint n = Math.Min(*portInfoCount, (uint)Wire.MaxPortInfoCount);
        if (!Begin(Wire.Op.PortGetAttributes, out Conn c))
        {
            return KernReturn.InvalidTask;
        }
        c.W.U32(task);
        c.W.U32(name);
        c.W.I32(flavor);
        c.W.U32(n);
        if (!Finish(c, out FrameReader r))
        {
            return KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        uint outCount = Math.Min(r.U32(), n);
        for (int i = 0; i < outCount; i++)
        {
            portInfo[i] = r.I32();
        }
        Return(c);
        if (kr == KernReturn.Success)
        {
            *portInfoCount = outCount;
        }
        return kr;
    }

    public KernReturn PortInsertMember(uint task, uint name, uint pset) => Simple(Wire.Op.PortInsertMember, task, name, pset);

    public KernReturn PortExtractMember(uint task, uint name, uint pset) => Simple(Wire.Op.PortExtractMember, task, name, pset);

    public KernReturn PortMoveMember(uint task, uint member, uint after) => Simple(Wire.Op.PortMoveMember, task, member, after);

    public KernReturn VmDeallocate(uint task, ulong address, ulong size)
    {
        if (task == _self)
        {
            (address, size) = Translate(address, size);
        }
        if (!Begin(Wire.Op.VmDeallocate, out Conn c))
        {
            return task == _self ? KernReturn.Success : KernReturn.InvalidTask; // our copy is freed either way
        }
        c.W.U32(task);
        c.W.U64(address);
        c.W.U64(size);
        if (!Finish(c, out FrameReader r))
        {
            return task == _self ? KernReturn.Success : KernReturn.InvalidTask;
        }
        var kr = (KernReturn)r.I32();
        Return(c);
        return kr;
    }

    public KernReturn TaskGetSpecialPort(uint task, int which, uint* port) =>
        SimpleOut(Wire.Op.TaskGetSpecialPort, [task, (uint)which], port);

    private int Bootstrap(Wire.Op op, uint bp, byte* serviceName, uint sp, uint* spOut)
    {
        if (!Begin(op, out Conn c))
        {
            return (int)MachMsgReturn.SendInvalidDest; // what a MIG call to a dead bootstrap port returns
        }
        c.W.U32(bp);
        if (op == Wire.Op.BootstrapRegister)
        {
            c.W.U32(sp);
        }
        int len = 0;
        if (serviceName is not null)
        {
            while (len < Wire.NameBytes && serviceName[len] != 0)
            {
                len++;
            }
            if (len < Wire.NameBytes)
            {
                len++; // with its NUL
            }
        }
        c.W.U32((uint)len);
        c.W.Bytes(serviceName, len);
        if (!Finish(c, out FrameReader r))
        {
            return (int)MachMsgReturn.SendInvalidDest;
        }
        int rc = r.I32();
        uint v = r.U32();
        Return(c);
        if (spOut is not null && rc == 0)
        {
            *spOut = v;
        }
        return rc;
    }

    public int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp) => Bootstrap(Wire.Op.BootstrapCheckIn, bp, serviceName, 0, sp);

    public int BootstrapRegister(uint bp, byte* serviceName, uint sp) => Bootstrap(Wire.Op.BootstrapRegister, bp, serviceName, sp, null);

    public int BootstrapLookUp(uint bp, byte* serviceName, uint* sp) => Bootstrap(Wire.Op.BootstrapLookUp, bp, serviceName, 0, sp);

    public int FileportMakePort(int fd, uint* port)
    {
        if (fd < 0 || Libc.fcntl(fd, Libc.F_GETFD, 0) < 0)
        {
            t_errno = Libc.EBADF; // G2
            return -1;
        }
        if (port is null)
        {
            t_errno = Libc.EFAULT;
            return -1;
        }
        if (!Begin(Wire.Op.FileportMakePort, out Conn c) || !Finish(c, out FrameReader r, fd))
        {
            t_errno = Native.EPIPE;
            return -1;
        }
        int rc = r.I32();
        int errno = r.I32();
        uint name = r.U32();
        Return(c);
        if (rc < 0)
        {
            t_errno = errno;
            return -1;
        }
        *port = name;
        return 0;
    }

    public int FileportMakeFd(uint port)
    {
        if (!Begin(Wire.Op.FileportMakeFd, out Conn c))
        {
            t_errno = Native.EPIPE;
            return -1;
        }
        c.W.U32(port);
        if (!Finish(c, out FrameReader r))
        {
            t_errno = Native.EPIPE;
            return -1;
        }
        int rc = r.I32();
        int errno = r.I32();
        int fd = rc < 0 ? -1 : c.C.TakeFd(); // arrived with MSG_CMSG_CLOEXEC
        c.C.DropFds();
        Return(c);
        if (rc < 0)
        {
            t_errno = errno;
            return -1;
        }
        if (fd < 0)
        {
            t_errno = 24; // EMFILE: the descriptor could not be received
            return -1;
        }
        return fd;
    }
}
