using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// The hosting side of a shared simulated kernel: listens on a Unix-domain socket (0600) in a private (0700)
/// directory and serves every connection on one event-loop thread (<see cref="EventLoop"/>), acting as the task of
/// the peer process: requests run inline on that thread, and a mach_msg that would wait parks its state in the
/// kernel (<see cref="AsyncMsg"/>) and is answered by whichever thread finishes it. The peer's pid, euid and egid
/// come from SO_PEERCRED, never from the peer, and a peer whose euid is not the host's is refused whatever the file
/// modes say (the trust model: README.md, "Who may join"). Every connection of one pid maps to one task; the first is
/// the lifeline: when it closes (the process exited or was killed) or breaks the protocol, the task dies (C15) and
/// the process's other connections are closed.
/// </summary>
internal sealed unsafe partial class KernelHost : EventLoop.IHandler
{
    private static readonly Lock s_startLock = new();
    private static KernelHost? s_instance;

    /// <summary>How long a connection may take to say hello.</summary>
    internal const int HelloTimeoutMs = 10_000;

    private readonly SimulatedKernel _kernel;
    private readonly Socket _listener;
    private readonly EventLoop _loop = new();
    private readonly Dictionary<int, RemoteTask> _byPid = new(); // loop thread only
    private readonly uint _uid = Native.geteuid();
    private int _rejected;
    private int _pendingHellos;
    private int _connections;
    private readonly Action _helloSweep;

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private KernelHost(SimulatedKernel kernel, string path)
    {
        _kernel = kernel;
        _helloSweep = HelloSweep;
        SocketPath = path;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        // connect(2) on a Unix socket needs write permission on the file: owner only, as the directory already is.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(128);
        _listener.Blocking = false;
        _loop.Add((int)_listener.Handle, this, EventLoop.EPOLLIN);
        _loop.Start("machipc kernel host");
    }

    public string SocketPath { get; }

    /// <summary>Connections accepted and not yet past their hello.</summary>
    public int PendingHellos => Volatile.Read(ref _pendingHellos);

    /// <summary>Connections open now (hello pending or not).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Clients disconnected for breaking the protocol.</summary>
    public int RejectedClients => Volatile.Read(ref _rejected);

    internal EventLoop Loop => _loop;

    internal SimulatedKernel Kernel => _kernel;

    public static KernelHost? Current => Volatile.Read(ref s_instance);

    /// <summary>Starts the host for the process's simulated kernel (once) and returns it.</summary>
    public static KernelHost Start()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Sharing the simulated kernel with child processes needs Linux (SO_PEERCRED).");
        }
        lock (s_startLock)
        {
            if (s_instance is null)
            {
                string dir = Path.Combine(Path.GetTempPath(), $"machipc-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                s_instance = new KernelHost(SimulatedKernel.Shared, Path.Combine(dir, "kernel.sock"));
                AppDomain.CurrentDomain.ProcessExit += (_, _) => s_instance?.Cleanup();
            }
            return s_instance;
        }
    }

    private void Cleanup()
    {
        try
        {
            File.Delete(SocketPath);
            Directory.Delete(Path.GetDirectoryName(SocketPath)!);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private const int SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    private const int EAGAIN = 11, EMFILE = 24, ENFILE = 23, ENOBUFS = 105, ENOMEM = 12;

    [DllImport("libc", EntryPoint = "accept4", ExactSpelling = true, SetLastError = true)]
    private static extern int accept4(int fd, void* addr, void* addrlen, int flags);

    /// <summary>The listener is readable: accept every pending connection (edge-triggered, so until EAGAIN).</summary>
    void EventLoop.IHandler.OnEvents(uint events) => AcceptAll();

    private void AcceptAll()
    {
        while (true)
        {
            int fd = accept4((int)_listener.Handle, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is EMFILE or ENFILE or ENOBUFS or ENOMEM)
                {
                    _loop.At(Environment.TickCount64 + 10, AcceptAll); // out of descriptors: retry soon, don't spin
                }
                if (errno == EAGAIN || errno is EMFILE or ENFILE or ENOBUFS or ENOMEM)
                {
                    return;
                }
                continue; // ECONNABORTED, EINTR, ...: the next one
            }
            Admit(new Socket(new SafeSocketHandle(fd, ownsHandle: true)));
        }
    }

    /// <summary>The checks made before a byte is read: the peer's uid, then the cap on connections waiting to say hello.</summary>
    private void Admit(Socket socket)
    {
        var frames = new FrameConnection(socket);
        if (!Native.TryGetPeerCred(frames.Fd, out Native.UCred cred))
        {
            Reject(frames, "?", "no peer credentials");
            return;
        }
        string who = $"pid {cred.Pid}";
        if (cred.Uid != _uid)
        {
            // One user's namespace, as launchd's per-user bootstrap is: another uid never joins, even if someone
            // opened the directory's or the socket's mode. Closed before any byte is read.
            Reject(frames, who, $"uid {cred.Uid} is not the host's uid {_uid}", refused: true);
            return;
        }
        if (_pendingHellos >= Wire.MaxPendingHellos)
        {
            Reject(frames, who, $"protocol violation: more than {Wire.MaxPendingHellos} connections waiting to say hello");
            return;
        }
        Interlocked.Increment(ref _pendingHellos);
        Interlocked.Increment(ref _connections);
        var conn = new HostConnection(this, frames, cred, who);
        _loop.Add(frames.Fd, conn, HostConnection.Events); // EPOLLOUT only while a reply waits for room (HostConnection.WriteMore)
        conn.HelloNode = _awaitingHello.AddLast((conn, Environment.TickCount64 + HelloTimeoutMs));
        if (_awaitingHello.Count == 1)
        {
            _loop.At(_awaitingHello.First!.Value.Deadline, _helloSweep);
        }
        conn.Pump(); // bytes may have arrived before the descriptor was watched (no edge for them)
    }

    /// <summary>
    /// Connections waiting to say hello, oldest first (so deadlines are in order): one timer for the oldest, and a
    /// connection leaves the list when it says hello or closes, so nothing of a closed one stays queued.
    /// </summary>
    private readonly LinkedList<(HostConnection Conn, long Deadline)> _awaitingHello = new();

    internal void HelloDone(LinkedListNode<(HostConnection, long)> node) => _awaitingHello.Remove(node);

    private void HelloSweep()
    {
        long now = Environment.TickCount64;
        while (_awaitingHello.First is { } first && first.Value.Deadline <= now)
        {
            first.Value.Conn.HelloTimedOut(); // closes it, which takes it off the list
            if (_awaitingHello.First == first)
            {
                _awaitingHello.RemoveFirst();
            }
        }
        if (_awaitingHello.First is { } next)
        {
            _loop.At(next.Value.Deadline, _helloSweep);
        }
    }

    private void Reject(FrameConnection frames, string who, string why, bool refused = false)
    {
        Interlocked.Increment(ref _rejected);
        Console.Error.WriteLine($"machipc kernel host: {(refused ? "refused" : "disconnected")} {who}: {why}");
        frames.Dispose();
    }

    internal void CountRejected() => Interlocked.Increment(ref _rejected);

    private sealed class RemoteTask(SimulatedTask task, HostConnection lifeline)
    {
        public readonly SimulatedTask Task = task;
        public readonly HostConnection Lifeline = lifeline;
        public readonly List<HostConnection> Others = new();
        public bool Dead;
    }

    /// <summary>
    /// A connection said hello: its task (a new one for a pid's first connection, the lifeline; the pid's task for
    /// the others; the host's main task for the host's own pid). Null if the pid is over its connection cap. Loop thread.
    /// </summary>
    internal SimulatedTask? Join(HostConnection conn, Native.UCred cred, out bool lifeline)
    {
        Interlocked.Decrement(ref _pendingHellos);
        lifeline = false;
        if (cred.Pid == Environment.ProcessId)
        {
            return _kernel.MainTask; // a connection from the host process itself acts as its main task
        }
        if (_byPid.TryGetValue(cred.Pid, out RemoteTask? remote) && !remote.Dead && Native.PeerClosed(remote.Lifeline.Fd))
        {
            // The previous holder of this pid is gone but its lifeline's end is not processed yet: this is a new
            // process that reused the pid, not another connection of the old one.
            EndTask(remote);
        }
        if (_byPid.TryGetValue(cred.Pid, out remote))
        {
            if (remote.Others.Count + 1 >= Wire.MaxConnectionsPerTask)
            {
                return null;
            }
            remote.Others.Add(conn);
            return remote.Task;
        }
        string name = $"pid {cred.Pid}";
        try
        {
            name = File.ReadAllText($"/proc/{cred.Pid}/comm").Trim() + $" (pid {cred.Pid})";
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        remote = new RemoteTask(_kernel.CreateTask(name, cred.Pid, cred.Uid, cred.Gid), conn);
        _byPid[cred.Pid] = remote;
        lifeline = true;
        return remote.Task;
    }

    /// <summary>A connection closed (loop thread): a hello never said, another connection of a task, or a lifeline.</summary>
    internal void Closed(HostConnection conn, SimulatedTask? task, bool lifeline, bool helloPending)
    {
        Interlocked.Decrement(ref _connections);
        if (helloPending)
        {
            Interlocked.Decrement(ref _pendingHellos);
            return;
        }
        if (task is null || !_byPid.TryGetValue(task.Pid, out RemoteTask? remote) || remote.Task != task)
        {
            return; // the host's own pid, or a task already ended (pid reuse)
        }
        if (!lifeline)
        {
            remote.Others.Remove(conn);
            return;
        }
        EndTask(remote);
    }

    /// <summary>C15: the process is gone (or broke the protocol): its task dies as XNU's would, its other connections close.</summary>
    private void EndTask(RemoteTask remote)
    {
        if (remote.Dead)
        {
            return;
        }
        remote.Dead = true;
        _byPid.Remove(remote.Task.Pid);
        remote.Task.Terminate();
        foreach (HostConnection c in remote.Others.ToArray())
        {
            c.Close();
        }
        remote.Lifeline.Close();
    }

    /// <summary>
    /// Decodes one request, performs it in the connection's task, encodes the reply. Works on a frame's bytes only
    /// (the connection is asked for nothing but a descriptor that came with fileport_makeport's request), so the
    /// fuzz targets (tests/MachIpc.Fuzz) drive it without a socket, with <paramref name="conn"/> null: no descriptor.
    /// </summary>
    internal sealed class RequestHandler(SimulatedKernel kernel, SimulatedTask task, FrameConnection? conn) : AsyncMsg(kernel, task)
    {
        /// <summary>A mach_msg that waited finished: the connection writes its reply (<see cref="FinishMsg"/>).</summary>
        internal Action<MachMsgReturn>? OnCompleted;
        /// <summary>A mach_msg waits; a timed one needs a timer (generation, deadline), see <see cref="AsyncMsg.Waiting"/>.</summary>
        internal Action<int, long>? OnWaiting;

        // The mach_msg in progress, kept while it waits so its reply can be written when it finishes.
        private MachMsgOption _option;
        private bool _null, _send, _rcv;
        private uint _prefix, _bufLen;

        private byte* _buf;
        private nuint _bufSize;
        private readonly List<nint> _temps = new();
        private readonly List<(ulong Copy, ulong Region)> _aliases = new();
        private readonly List<ulong> _consumed = new();
        private byte[] _copy = new byte[256];

        public int ReplyFd { get; private set; } = -1;

        public void Free()
        {
            AfterReply();
            ReleaseTemps(); // a request that broke the protocol half-way
            _consumed.Clear();
            FreeBuffer();
        }

        public void AfterReply()
        {
            if (ReplyFd >= 0)
            {
                Libc.close(ReplyFd);
                ReplyFd = -1;
            }
            if (_bufSize > Wire.RetainedBufferBytes)
            {
                FreeBuffer(); // bounded by the message in flight, not by the largest this connection ever carried
            }
            if (_copy.Length > Wire.RetainedBufferBytes)
            {
                _copy = new byte[256];
            }
        }

        /// <summary>Performs one request and writes its reply into <paramref name="w"/>; false if it is a mach_msg that waits (see <see cref="AsyncMsg"/>).</summary>
        public bool Handle(ReadOnlySpan<byte> frame, FrameWriter w)
        {
            var r = new FrameReader(frame);
            var op = (Wire.Op)r.U32();
            w.Begin();
            switch (op)
            {
                case Wire.Op.Msg:
                    if (!HandleMsg(ref r, w))
                    {
                        return false;
                    }
                    break;
                case Wire.Op.PortAllocate:
                {
                    uint t = r.U32(), right = r.U32();
                    r.End();
                    uint name = 0;
                    w.I32((int)Kernel.PortAllocate(t, (MachPortRight)right, &name));
                    w.U32(name);
                    break;
                }
                case Wire.Op.PortDeallocate:
                {
                    uint t = r.U32(), name = r.U32();
                    r.End();
                    w.I32((int)Kernel.PortDeallocate(t, name));
                    break;
                }
                case Wire.Op.PortDestroy:
                {
                    uint t = r.U32(), name = r.U32();
                    r.End();
                    w.I32((int)Kernel.PortDestroy(t, name));
                    break;
                }
                case Wire.Op.PortModRefs:
                {
                    uint t = r.U32(), name = r.U32(), right = r.U32();
                    int delta = r.I32();
                    r.End();
                    w.I32((int)Kernel.PortModRefs(t, name, (MachPortRight)right, delta));
                    break;
                }
                case Wire.Op.PortInsertRight:
                {
                    uint t = r.U32(), name = r.U32(), poly = r.U32(), pp = r.U32();
                    r.End();
                    w.I32((int)Kernel.PortInsertRight(t, name, poly, (MachMsgType)pp));
                    break;
                }
                case Wire.Op.PortExtractRight:
                {
                    uint t = r.U32(), name = r.U32(), msgt = r.U32();
                    r.End();
                    uint poly = 0;
                    MachMsgType pp = 0;
                    w.I32((int)Kernel.PortExtractRight(t, name, (MachMsgType)msgt, &poly, &pp));
                    w.U32(poly);
                    w.U32((uint)pp);
                    break;
                }
                case Wire.Op.PortGetRefs:
                {
                    uint t = r.U32(), name = r.U32(), right = r.U32();
                    r.End();
                    uint refs = 0;
                    w.I32((int)Kernel.PortGetRefs(t, name, (MachPortRight)right, &refs));
                    w.U32(refs);
                    break;
                }
                case Wire.Op.PortType:
                {
                    uint t = r.U32(), name = r.U32();
                    r.End();
                    MachPortType pt = 0;
                    w.I32((int)Kernel.PortType(t, name, &pt));
                    w.U32((uint)pt);
                    break;
                }
                case Wire.Op.PortRequestNotification:
                {
                    uint t = r.U32(), name = r.U32();
                    int msgid = r.I32();
                    uint sync = r.U32(), notify = r.U32(), poly = r.U32();
                    r.End();
                    uint previous = 0;
                    w.I32((int)Kernel.PortRequestNotification(t, name, msgid, sync, notify, (MachMsgType)poly, &previous));
                    w.U32(previous);
                    break;
                }
                case Wire.Op.PortSetAttributes:
                {
                    uint t = r.U32(), name = r.U32();
                    int flavor = r.I32();
                    uint count = r.U32();
                    if (count > Wire.MaxPortInfoCount)
                    {
                        throw new WireException("port info count");
                    }
                    int* info = stackalloc int[Wire.MaxPortInfoCount];
                    for (int i = 0; i < count; i++)
                    {
                        info[i] = r.I32();
                    }
                    r.End();
                    w.I32((int)Kernel.PortSetAttributes(t, name, flavor, info, count));
                    break;
                }
                case Wire.Op.PortGetAttributes:
                {
                    uint t = r.U32(), name = r.U32();
                    int flavor = r.I32();
                    uint count = r.U32();
                    r.End();
                    if (count > Wire.MaxPortInfoCount)
                    {
                        throw new WireException("port info count");
                    }
                    int* info = stackalloc int[Wire.MaxPortInfoCount];
                    uint outCount = count;
                    w.I32((int)Kernel.PortGetAttributes(t, name, flavor, info, &outCount));
                    outCount = Math.Min(outCount, count);
                    w.U32(outCount);
                    for (int i = 0; i < outCount; i++)
                    {
                        w.I32(info[i]);
                    }
                    break;
                }
                case Wire.Op.PortInsertMember:
                case Wire.Op.PortExtractMember:
                case Wire.Op.PortMoveMember:
                {
                    uint t = r.U32(), a = r.U32(), b = r.U32();
                    r.End();
                    KernReturn kr = op == Wire.Op.PortInsertMember ? Kernel.PortInsertMember(t, a, b)
                        : op == Wire.Op.PortExtractMember ? Kernel.PortExtractMember(t, a, b)
                        : Kernel.PortMoveMember(t, a, b);
                    w.I32((int)kr);
                    break;
                }
                case Wire.Op.VmDeallocate:
                {
                    uint t = r.U32();
                    ulong addr = r.U64(), size = r.U64();
                    r.End();
                    // Only regions the kernel handed out are freed; any other address is a no-op (never dereferenced).
                    w.I32((int)Kernel.VmDeallocate(t, addr, size));
                    break;
                }
                case Wire.Op.PortConstruct:
                {
                    uint t = r.U32();
                    MachPortOptions options = default;
                    options.Flags = (MachPortConstructFlags)r.U32();
                    options.QLimit = r.U32();
                    options.Reserved0 = r.U64();
                    options.Reserved1 = r.U64();
                    ulong context = r.U64();
                    r.End();
                    uint name = 0;
                    w.I32((int)Kernel.PortConstruct(t, &options, context, &name));
                    w.U32(name);
                    break;
                }
                case Wire.Op.PortNames:
                {
                    uint t = r.U32();
                    r.End();
                    uint* names = null;
                    MachPortType* types = null;
                    uint count = 0, typesCount = 0;
                    KernReturn kr = Kernel.PortNames(t, &names, &count, &types, &typesCount);
                    w.I32((int)kr);
                    if (kr != KernReturn.Success)
                    {
                        break;
                    }
                    // The arrays are regions the kernel gave this task: the client keeps local copies and frees
                    // these through vm_deallocate, as it does for received out-of-line memory.
                    w.U32(count);
                    w.U64((ulong)names);
                    w.U64((ulong)types);
                    w.Bytes((byte*)names, (int)count * 4);
                    w.Bytes((byte*)types, (int)count * 4);
                    break;
                }
                case Wire.Op.PidForTask:
                {
                    uint t = r.U32();
                    r.End();
                    int pid = -1;
                    w.I32((int)Kernel.PidForTask(t, &pid));
                    w.I32(pid);
                    break;
                }
                case Wire.Op.TaskGetSpecialPort:
                {
                    uint t = r.U32();
                    int which = r.I32();
                    r.End();
                    uint port = 0;
                    w.I32((int)Kernel.TaskGetSpecialPort(t, which, &port));
                    w.U32(port);
                    break;
                }
                case Wire.Op.BootstrapCheckIn:
                case Wire.Op.BootstrapRegister:
                case Wire.Op.BootstrapLookUp:
                {
                    uint bp = r.U32();
                    uint sp = op == Wire.Op.BootstrapRegister ? r.U32() : 0;
                    uint len = r.U32();
                    if (len > Wire.NameBytes)
                    {
                        throw new WireException("service name length");
                    }
                    byte* name = stackalloc byte[Wire.NameBytes + 1];
                    new Span<byte>(name, Wire.NameBytes + 1).Clear();
                    r.Take((int)len).CopyTo(new Span<byte>(name, (int)len));
                    r.End();
                    int rc = op == Wire.Op.BootstrapCheckIn ? Kernel.BootstrapCheckIn(bp, name, &sp)
                        : op == Wire.Op.BootstrapRegister ? Kernel.BootstrapRegister(bp, name, sp)
                        : Kernel.BootstrapLookUp(bp, name, &sp);
                    w.I32(rc);
                    w.U32(sp);
                    break;
                }
                case Wire.Op.FileportMakePort:
                {
                    r.End();
                    int fd = conn?.TakeFd() ?? -1;
                    uint port = 0;
                    int rc, errno = 0;
                    if (fd < 0)
                    {
                        rc = -1;
                        errno = Libc.EBADF;
                    }
                    else
                    {
                        rc = Kernel.FileportMakePort(fd, &port); // the kernel keeps its own dup
                        errno = rc < 0 ? Kernel.LastErrno : 0;
                        Libc.close(fd);
                    }
                    w.I32(rc);
                    w.I32(errno);
                    w.U32(port);
                    break;
                }
                case Wire.Op.FileportMakeFd:
                {
                    uint port = r.U32();
                    r.End();
                    int fd = Kernel.FileportMakeFd(port);
                    w.I32(fd < 0 ? -1 : 0);
                    w.I32(fd < 0 ? Kernel.LastErrno : 0);
                    ReplyFd = fd; // travels as SCM_RIGHTS with the reply, then closed here
                    break;
                }
                case Wire.Op.MsgDestroyOps:
                {
                    uint count = r.U32();
                    if (count > Wire.MaxDestroyOps)
                    {
                        throw new WireException("too many destroy ops");
                    }
                    for (uint i = 0; i < count; i++)
                    {
                        byte kind = r.U8();
                        if (kind == 0)
                        {
                            uint name = r.U32(), type = r.U32();
                            Kernel.DestroyPortByType(Task.SelfName, name, (MachMsgType)type);
                        }
                        else if (kind == 1)
                        {
                            ulong addr = r.U64(), size = r.U64();
                            Kernel.VmDeallocate(Task.SelfName, addr, size);
                        }
                        else
                        {
                            throw new WireException("destroy op kind");
                        }
                    }
                    r.End();
                    w.I32(0);
                    break;
                }
                default:
                    throw new WireException($"unknown op {(uint)op}");
            }
            w.End();
            return true;
        }

        /// <summary>Message buffers of all handlers now allocated (a connection's is freed when it closes; tests check none leaks).</summary>
        internal static int LiveBuffers;

        private void EnsureBuffer(nuint size)
        {
            if (_bufSize < size)
            {
                FreeBuffer();
                _bufSize = Math.Max(size, 4096);
                _buf = (byte*)NativeMemory.AlignedAlloc(_bufSize, 16);
                Interlocked.Increment(ref LiveBuffers);
            }
        }

        private void FreeBuffer()
        {
            if (_buf is not null)
            {
                NativeMemory.AlignedFree(_buf);
                Interlocked.Decrement(ref LiveBuffers);
                _buf = null;
                _bufSize = 0;
            }
        }

        private bool HandleMsg(ref FrameReader r, FrameWriter w)
        {
            var option = (MachMsgOption)r.U32();
            uint sendSize = r.U32(), rcvSize = r.U32(), rcvName = r.U32(), timeout = r.U32(), notify = r.U32();
            uint flags = r.U32();
            bool isNull = (flags & 1) != 0;
            bool send = (option & MachMsgOption.SendMsg) != 0;
            bool rcv = (option & MachMsgOption.RcvMsg) != 0;
            if ((send && sendSize > Wire.MaxMessageBytes) || (rcv && rcvSize > Wire.MaxMessageBytes))
            {
                throw new WireException("message size");
            }
            uint prefix = RemoteKernel.PrefixLength(option, sendSize, rcvSize);
            uint bufLen = Math.Max(prefix, Math.Max(send ? sendSize : 0, rcv ? rcvSize : 0));
            byte* buf = null;
            if (!isNull)
            {
                EnsureBuffer(bufLen);
                buf = _buf;
                r.Take((int)prefix).CopyTo(new Span<byte>(buf, (int)prefix));
                if (send)
                {
                    PatchOutOfLine(ref r, buf, sendSize);
                }
            }
            r.End();
            _option = option;
            _null = isNull;
            _send = send;
            _rcv = rcv;
            _prefix = prefix;
            _bufLen = bufLen;
            MachMsgReturn mr;
            try
            {
                // notify is unused by the trap (as in SimulatedKernel.Msg).
                mr = Kernel.MsgAsync(this, (MachMsgHeader*)buf, option, sendSize, rcvSize, rcvName, timeout);
            }
            finally
            {
                ReleaseTemps(); // copyin has taken its own copies (and done any deallocate) before anything waits
            }
            if (mr == Pending)
            {
                return false;
            }
            FinishMsg(w, mr);
            return true;
        }

        /// <summary>The rest of a mach_msg's reply once the trap has its result (ends the frame).</summary>
        internal void FinishMsg(FrameWriter w, MachMsgReturn mr)
        {
            byte* buf = _null ? null : _buf;
            w.I32((int)mr);
            WriteMessageResult(w, buf, mr, _option, _send, _rcv, _prefix, _bufLen);
            // Regions of this process that copyin deallocated (deallocate = TRUE): the client frees its copies.
            w.U32((uint)_consumed.Count);
            foreach (ulong region in _consumed)
            {
                w.U64(region);
            }
            _consumed.Clear();
            w.End();
        }

        protected internal override void Completed(MachMsgReturn mr) => OnCompleted?.Invoke(mr);

        protected internal override void Waiting(int generation, long deadline) => OnWaiting?.Invoke(generation, deadline);

        /// <summary>Frees the host copies of sent OOL bytes, noting which stood for a region copyin deallocated.</summary>
        private void ReleaseTemps()
        {
            foreach ((ulong copy, ulong region) in _aliases)
            {
                if (Kernel.TakeDeallocAlias(Task, copy))
                {
                    _consumed.Add(region);
                }
            }
            _aliases.Clear();
            foreach (nint p in _temps)
            {
                NativeMemory.Free((void*)p);
            }
            _temps.Clear();
        }

        private void WriteMessageResult(FrameWriter w, byte* buf, MachMsgReturn mr, MachMsgOption option, bool send, bool rcv, uint prefix, uint bufLen)
        {
            if (buf is null)
            {
                w.U32(0);
                w.U32(0);
                return;
            }
            uint writeback = prefix;
            bool received = false;
            if (rcv && mr == MachMsgReturn.Success)
            {
                ulong end = (ulong)((MachMsgHeader*)buf)->Size + (uint)MachTrailerRequest.SizeOf(option);
                writeback = (uint)Math.Min(Math.Max(end, prefix), bufLen);
                received = true;
            }
            else if (send && mr is MachMsgReturn.SendTimedOut or MachMsgReturn.SendNoBuffer)
            {
                received = true; // A36: pseudo-received into the sender's buffer
            }
            else if (send && !rcv && mr == MachMsgReturn.Success)
            {
                writeback = 0; // a send leaves the sender's buffer alone
            }
            w.U32(writeback);
            w.Bytes(buf, (int)writeback);
            if (!received)
            {
                w.U32(0);
                return;
            }
            int countAt = w.Reserve(4);
            uint regions = 0;
            uint limit = Math.Min(((MachMsgHeader*)buf)->Size, bufLen);
            if (((MachMsgHeader*)buf)->IsComplex && limit >= MachMsgBase.SizeOf)
            {
                uint count = *(uint*)(buf + MachMsgHeader.SizeOf);
                uint off = MachMsgBase.SizeOf;
                for (uint i = 0; i < count && off + 12 <= limit; i++)
                {
                    byte type = buf[off + 11];
                    if (type == (byte)MachMsgDescriptorType.Port)
                    {
                        off += 12;
                        continue;
                    }
                    if (off + 16 > limit)
                    {
                        break;
                    }
                    ulong len = type switch
                    {
                        (byte)MachMsgDescriptorType.Ool or (byte)MachMsgDescriptorType.OolVolatile => *(uint*)(buf + off + 12),
                        (byte)MachMsgDescriptorType.OolPorts => *(uint*)(buf + off + 12) * 4ul,
                        _ => 0,
                    };
                    ulong addr = *(ulong*)(buf + off);
                    if (len > 0 && addr != 0 && len <= Wire.MaxMessageBytes)
                    {
                        if (_copy.Length < (int)len)
                        {
                            _copy = new byte[len];
                        }
                        if (Kernel.TryCopyRegion(Task, addr, (uint)len, _copy))
                        {
                            w.U32(off);
                            w.U64(addr);
                            w.U32((uint)len);
                            w.Bytes(_copy.AsSpan(0, (int)len));
                            regions++;
                        }
                    }
                    off += 16;
                }
            }
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(w.Buffer.AsSpan(countAt), regions);
        }

        /// <summary>
        /// Walks the descriptors as copyin will (same layout rules) and points every out-of-line descriptor at a
        /// host copy of the bytes the client shipped, so the kernel never reads a client address in this process.
        /// </summary>
        private void PatchOutOfLine(ref FrameReader r, byte* buf, uint sendSize)
        {
            uint regionCount = r.U32();
            uint used = 0;
            if (sendSize < MachMsgBase.SizeOf || !((MachMsgHeader*)buf)->IsComplex)
            {
                if (regionCount != 0)
                {
                    throw new WireException("regions for a simple message");
                }
                return;
            }
            uint count = *(uint*)(buf + MachMsgHeader.SizeOf);
            uint off = MachMsgBase.SizeOf;
            ulong total = 0;
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
                    break; // copyin rejects the message before reading any out-of-line memory
                }
                if (type is (byte)MachMsgDescriptorType.Ool or (byte)MachMsgDescriptorType.OolVolatile or (byte)MachMsgDescriptorType.OolPorts)
                {
                    ulong len = type == (byte)MachMsgDescriptorType.OolPorts ? *(uint*)(buf + off + 12) * 4ul : *(uint*)(buf + off + 12);
                    ulong address = 0; // unreadable unless the client shipped the bytes
                    if (used < regionCount)
                    {
                        used++;
                        var kind = (Wire.RegionKind)r.U8();
                        if (kind is Wire.RegionKind.Data or Wire.RegionKind.DataFromRegion)
                        {
                            uint n = r.U32();
                            total += n;
                            if (n != len || total > Wire.MaxMessageBytes)
                            {
                                throw new WireException("out-of-line region size");
                            }
                            if (n > 0)
                            {
                                void* p = NativeMemory.Alloc(n);
                                _temps.Add((nint)p);
                                r.Take((int)n).CopyTo(new Span<byte>(p, (int)n));
                                address = (ulong)p;
                            }
                            if (kind == Wire.RegionKind.DataFromRegion)
                            {
                                ulong region = r.U64();
                                if (address != 0)
                                {
                                    // Only ever frees a region the kernel handed this task (VmRegions), never anything else.
                                    Kernel.AddDeallocAlias(Task, address, region);
                                    _aliases.Add((address, region));
                                }
                            }
                        }
                        else if (kind != Wire.RegionKind.Unreadable)
                        {
                            throw new WireException("out-of-line region kind");
                        }
                    }
                    *(ulong*)(buf + off) = address;
                }
                off += 16;
            }
            if (used != regionCount)
            {
                throw new WireException("out-of-line region count");
            }
        }
    }
}
