using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// The kernel socket's protocol, specified in PROTOCOL.md (the document both clients, RemoteKernel and the C library
/// in src/native, follow; change it together with <see cref="Version"/>). Every frame is <c>u32 length</c> (of what follows, at most
/// <see cref="MaxFrame"/>) then the payload; a request payload starts with <c>u32 op</c>. Integers are
/// little-endian. One request gets exactly one reply on the same connection; file descriptors travel as
/// SCM_RIGHTS ancillary data on the frame that needs them (fileport_makeport's request, makefd's reply).
/// The host validates every field; any violation disconnects that client.
/// </summary>
internal static class Wire
{
    public const uint Magic = 0x4E524B4D; // "MKRN"
    public const uint Version = 2;
    /// <summary>Largest frame either side accepts (a message of up to 64 MiB plus its out-of-line contents).</summary>
    public const int MaxFrame = 64 * 1024 * 1024 + 64 * 1024;
    /// <summary>Largest send or receive buffer / out-of-line total a message may use over the socket.</summary>
    public const uint MaxMessageBytes = 64 * 1024 * 1024;
    /// <summary>Rights and regions one mach_msg_destroy may release (each op is at most 17 bytes, so the frame stays bounded).</summary>
    public const int MaxDestroyOps = 1 << 20;
    /// <summary>Connections one process may hold open to the host (its lifeline included).</summary>
    public const int MaxConnectionsPerTask = 1024;
    /// <summary>The hello's payload: op, magic, version.</summary>
    public const int HelloBytes = 12;
    /// <summary>Connections accepted but not yet past their hello, host-wide: a slowloris holds at most this many.</summary>
    public const int MaxPendingHellos = 64;
    /// <summary>A connection's receive buffer above this is given back once its frame has been served.</summary>
    public const int RetainedBufferBytes = 1024 * 1024;
    public const int MaxPortInfoCount = 64;
    public const int NameBytes = 128;

    public enum Op : uint
    {
        Hello = 1,
        Msg,
        PortAllocate,
        PortDeallocate,
        PortDestroy,
        PortModRefs,
        PortInsertRight,
        PortExtractRight,
        PortGetRefs,
        PortType,
        PortRequestNotification,
        PortSetAttributes,
        PortGetAttributes,
        PortInsertMember,
        PortExtractMember,
        PortMoveMember,
        VmDeallocate,
        TaskGetSpecialPort,
        BootstrapCheckIn,
        BootstrapRegister,
        BootstrapLookUp,
        FileportMakePort,
        FileportMakeFd,
        MsgDestroyOps,
        PortConstruct,
        PortNames,
        PidForTask,
    }

    /// <summary>How one out-of-line region of a sent message travels.</summary>
    public enum RegionKind : byte
    {
        /// <summary>Its bytes follow.</summary>
        Data = 0,
        /// <summary>The sender's memory was not readable: the host makes the kernel see an unreadable address.</summary>
        Unreadable = 1,
        /// <summary>
        /// Its bytes follow, then the host address of the region this process received them in: with
        /// deallocate = TRUE, copyin frees that region (the client frees its copy if the reply lists it).
        /// </summary>
        DataFromRegion = 2,
    }
}

/// <summary>A protocol violation: the peer sent something the protocol does not allow.</summary>
internal sealed class WireException(string message) : Exception(message);

/// <summary>Appends little-endian fields to a growable buffer; the first 4 bytes are the frame length.</summary>
internal sealed class FrameWriter
{
    private byte[] _buf = new byte[512];
    private int _pos;

    public void Begin()
    {
        _pos = 4;
    }

    public void BeginRequest(Wire.Op op)
    {
        _pos = 4;
        U32((uint)op);
    }

    public int Length => _pos;
    public byte[] Buffer => _buf;

    private Span<byte> Take(int n)
    {
        if (_pos + n > _buf.Length)
        {
            Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _pos + n));
        }
        Span<byte> s = _buf.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    public void U8(byte v) => Take(1)[0] = v;
    public void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v);
    public void I32(int v) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), v);
    public void U64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), v);
    public void Bytes(ReadOnlySpan<byte> v) => v.CopyTo(Take(v.Length));
    public unsafe void Bytes(byte* p, int n) => new ReadOnlySpan<byte>(p, n).CopyTo(Take(n));

    /// <summary>Reserves <paramref name="n"/> bytes and returns their offset (valid until the next write).</summary>
    public int Reserve(int n)
    {
        int at = _pos;
        Take(n);
        return at;
    }

    /// <summary>Drops everything written after <paramref name="position"/>.</summary>
    public void Truncate(int position) => _pos = position;

    /// <summary>Writes the frame length; the frame is <c>Buffer[0..Length]</c>.</summary>
    public void End() => BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)(_pos - 4));

    /// <summary>After a frame over <see cref="Wire.RetainedBufferBytes"/>: the buffer is bounded by the frame in flight, not by history.</summary>
    public void GiveBack()
    {
        if (_buf.Length > Wire.RetainedBufferBytes)
        {
            _buf = new byte[512];
            _pos = 0;
        }
    }
}

/// <summary>Reads little-endian fields from a received frame, throwing <see cref="WireException"/> past its end.</summary>
internal ref struct FrameReader(ReadOnlySpan<byte> frame)
{
    private readonly ReadOnlySpan<byte> _f = frame;
    private int _pos;

    public readonly int Remaining => _f.Length - _pos;

    public ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || n > _f.Length - _pos)
        {
            throw new WireException("frame too short");
        }
        ReadOnlySpan<byte> s = _f.Slice(_pos, n);
        _pos += n;
        return s;
    }

    public byte U8() => Take(1)[0];
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Throws unless the whole frame was consumed.</summary>
    public readonly void End()
    {
        if (_pos != _f.Length)
        {
            throw new WireException("trailing bytes in frame");
        }
    }
}

/// <summary>
/// One end of a kernel-socket connection: a connected AF_UNIX stream socket read and written with
/// <c>recvmsg</c>/<c>sendmsg</c> so that descriptors can ride along (SCM_RIGHTS). Not thread-safe: one
/// request/reply at a time.
/// </summary>
internal sealed unsafe class FrameConnection : IDisposable
{
    private readonly System.Net.Sockets.Socket _socket;
    private readonly int _fd;
    private byte[] _in = new byte[4096];
    private int _start, _end;
    private readonly Queue<int> _fds = new();
    private int _disposed;

    public FrameConnection(System.Net.Sockets.Socket socket)
    {
        _socket = socket;
        _fd = (int)socket.Handle;
    }

    public int Fd => _fd;

    /// <summary>The receive buffer's capacity: what this connection holds between frames.</summary>
    internal int BufferBytes => _in.Length;

    /// <summary>Sends <paramref name="length"/> bytes of <paramref name="frame"/>, with <paramref name="fd"/> attached when ≥ 0. False if the peer is gone.</summary>
    public bool Send(byte[] frame, int length, int fd = -1)
    {
        int off = 0;
        while (off < length)
        {
            nint n = SendSome(frame, off, length, off == 0 ? fd : -1, 0);
            if (n < 0)
            {
                return false;
            }
            off += (int)n;
        }
        return true;
    }

    /// <summary>
    /// Non-blocking: sends what the socket takes of <paramref name="frame"/>[<paramref name="offset"/>..<paramref name="length"/>]
    /// (the descriptor, if any, with the first byte). Returns the bytes sent (0 if the socket is full), -1 if it failed.
    /// </summary>
    public int TrySend(byte[] frame, int offset, int length, int fd) =>
        (int)SendSome(frame, offset, length, offset == 0 ? fd : -1, MSG_DONTWAIT);

    private const int MSG_DONTWAIT = 0x40, EAGAIN = 11;

    private nint SendSome(byte[] frame, int off, int length, int fd, int flags)
    {
        byte* control = stackalloc byte[Native.CmsgSpaceOneFd];
        fixed (byte* p = frame)
        {
            while (true)
            {
                var iov = new Native.IoVec { Base = p + off, Length = (nuint)(length - off) };
                var hdr = new Native.MsgHdr { Iov = &iov, IovLen = 1 };
                if (fd >= 0)
                {
                    new Span<byte>(control, Native.CmsgSpaceOneFd).Clear();
                    var c = (Native.CmsgHdr*)control;
                    c->Len = (nuint)Native.CmsgLenOneFd;
                    c->Level = Native.SOL_SOCKET;
                    c->Type = Native.SCM_RIGHTS;
                    *(int*)(control + sizeof(Native.CmsgHdr)) = fd;
                    hdr.Control = control;
                    hdr.ControlLen = (nuint)Native.CmsgSpaceOneFd;
                }
                nint n = Native.sendmsg(_fd, &hdr, Native.MSG_NOSIGNAL | flags);
                if (n >= 0)
                {
                    return n;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EINTR)
                {
                    continue;
                }
                return errno == EAGAIN && flags != 0 ? 0 : -1;
            }
        }
    }

    public ReadOnlySpan<byte> Receive(out bool eof, int maxLength = Wire.MaxFrame)
    {
        ReadOnlySpan<byte> frame = Next(maxLength, 0, out FrameStatus status);
        eof = status != FrameStatus.Frame;
        return frame;
    }

    public enum FrameStatus
    {
        Frame,
        /// <summary>A non-blocking receive found no whole frame yet (what arrived so far stays buffered).</summary>
        WouldBlock,
        Eof,
    }

    /// <summary>Non-blocking <see cref="Receive"/>: the next frame if a whole one has arrived.</summary>
    public ReadOnlySpan<byte> TryReceive(out FrameStatus status, int maxLength = Wire.MaxFrame) => Next(maxLength, MSG_DONTWAIT, out status);

    /// <summary>Bytes already read past the last frame returned, or a read that filled the buffer (the socket may hold more).</summary>
    public bool MayHaveMore => _end > _start || _filled;

    private bool _filled;

    private ReadOnlySpan<byte> Next(int maxLength, int flags, out FrameStatus status)
    {
        if (_start == _end && _in.Length > Wire.RetainedBufferBytes)
        {
            _in = new byte[4096]; // the large frame was served: the buffer is bounded by what is in flight, not by history
            _start = _end = 0;
        }
        status = Fill(4, flags);
        if (status != FrameStatus.Frame)
        {
            return default;
        }
        uint len = BitConverter.ToUInt32(_in, _start);
        if (len > (uint)maxLength)
        {
            throw new WireException($"frame length {len} exceeds {maxLength}");
        }
        status = Fill(4 + (int)len, flags);
        if (status != FrameStatus.Frame)
        {
            return default;
        }
        var span = new ReadOnlySpan<byte>(_in, _start + 4, (int)len);
        _start += 4 + (int)len;
        return span;
    }

    public int TakeFd() => _fds.Count > 0 ? _fds.Dequeue() : -1;

    /// <summary>Closes every descriptor that arrived and was not taken.</summary>
    public void DropFds()
    {
        while (_fds.Count > 0)
        {
            Simulated.Libc.close(_fds.Dequeue());
        }
    }

    private FrameStatus Fill(int need, int flags)
    {
        if (_end - _start >= need)
        {
            return FrameStatus.Frame;
        }
        if (_start > 0)
        {
            Array.Copy(_in, _start, _in, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        byte* control = stackalloc byte[Native.ControlBytes];
        while (_end < need)
        {
            if (_end == _in.Length)
            {
                // Grown with the bytes that arrive, never to a length the peer merely claims: a frame header saying
                // 64 MiB followed by nothing costs the host nothing (at most twice what was really sent).
                Array.Resize(ref _in, Math.Min(need, _in.Length * 2));
            }
            if (flags == 0 && !Native.WaitReadable(_fd))
            {
                return FrameStatus.Eof;
            }
            nint n;
            int errno = 0;
            fixed (byte* p = _in)
            {
                var iov = new Native.IoVec { Base = p + _end, Length = (nuint)(_in.Length - _end) };
                var hdr = new Native.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = Native.ControlBytes };
                n = Native.recvmsg(_fd, &hdr, Native.MSG_CMSG_CLOEXEC | flags);
                if (n < 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                }
                else if (hdr.ControlLen > 0)
                {
                    CollectFds(control, (int)hdr.ControlLen);
                }
            }
            if (n < 0 && errno == Native.EINTR)
            {
                continue;
            }
            if (n < 0 && errno == EAGAIN && flags != 0)
            {
                return FrameStatus.WouldBlock;
            }
            if (n <= 0)
            {
                return FrameStatus.Eof;
            }
            _end += (int)n;
            _filled = _end == _in.Length;
        }
        return FrameStatus.Frame;
    }

    private void CollectFds(byte* control, int len)
    {
        int off = 0;
        while (off + sizeof(Native.CmsgHdr) <= len)
        {
            var c = (Native.CmsgHdr*)(control + off);
            if (c->Len < (nuint)sizeof(Native.CmsgHdr) || off + (int)c->Len > len)
            {
                break;
            }
            if (c->Level == Native.SOL_SOCKET && c->Type == Native.SCM_RIGHTS)
            {
                int count = ((int)c->Len - sizeof(Native.CmsgHdr)) / sizeof(int);
                for (int i = 0; i < count; i++)
                {
                    _fds.Enqueue(((int*)(control + off + sizeof(Native.CmsgHdr)))[i]);
                }
            }
            off += ((int)c->Len + 7) & ~7;
        }
    }

    /// <summary>Wakes a reader blocked on this connection and ends both directions.</summary>
    public void Shutdown()
    {
        try
        {
            _socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        if (System.Threading.Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            DropFds();
            _socket.Dispose();
        }
    }
}

/// <summary>Linux socket calls the kernel socket needs, in blittable DllImport form.</summary>
internal static unsafe class Native
{
    public const int SOL_SOCKET = 1;
    public const int SO_PEERCRED = 17;
    public const int SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int EINTR = 4;
    public const int EPIPE = 32;
    public static readonly int CmsgLenOneFd = sizeof(CmsgHdr) + sizeof(int);
    public static readonly int CmsgSpaceOneFd = sizeof(CmsgHdr) + 8;
    public const int ControlBytes = 256;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Len;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [DllImport("libc", EntryPoint = "sendmsg", ExactSpelling = true, SetLastError = true)]
    public static extern nint sendmsg(int fd, MsgHdr* msg, int flags);

    [DllImport("libc", EntryPoint = "recvmsg", ExactSpelling = true, SetLastError = true)]
    public static extern nint recvmsg(int fd, MsgHdr* msg, int flags);

    [DllImport("libc", EntryPoint = "geteuid", ExactSpelling = true)]
    public static extern uint geteuid();

    [DllImport("libc", EntryPoint = "getsockopt", ExactSpelling = true, SetLastError = true)]
    public static extern int getsockopt(int fd, int level, int name, void* value, uint* length);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private const short POLLHUP = 0x10;
    private const short POLLRDHUP = 0x2000;

    [DllImport("libc", EntryPoint = "poll", ExactSpelling = true, SetLastError = true)]
    public static extern int poll(PollFd* fds, nuint count, int timeout);

    private const short POLLIN = 0x1;

    /// <summary>
    /// Blocks until <paramref name="fd"/> has something to read, or its peer closed it (true), or poll failed (false).
    /// A blocking read waits for this first, because a reader asleep inside recvmsg on a Unix stream socket is also
    /// woken each time the peer consumes what this end wrote: the socket has one wait queue, and Linux's
    /// unix_write_space (net/unix/af_unix.c) wakes it with EPOLLOUT, which recvmsg's wait does not filter, so the
    /// reader wakes, finds nothing and sleeps again. A request/reply caller, asleep by the time the host reads its
    /// request, paid one extra context switch per round trip that way; poll waits only for POLLIN.
    /// </summary>
    public static bool WaitReadable(int fd)
    {
        var p = new PollFd { Fd = fd, Events = POLLIN };
        while (poll(&p, 1, -1) < 0)
        {
            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Whether the peer has closed its end (checked without blocking). A process's sockets close at exit,
    /// before its pid can be reused, so a closed lifeline means the process that owned it is gone.
    /// </summary>
    public static bool PeerClosed(int fd)
    {
        var p = new PollFd { Fd = fd, Events = POLLRDHUP };
        return poll(&p, 1, 0) > 0 && (p.Revents & (POLLRDHUP | POLLHUP)) != 0;
    }

    /// <summary>The peer's credentials as the kernel recorded them at connect time (SO_PEERCRED).</summary>
    public static bool TryGetPeerCred(int fd, out UCred cred)
    {
        UCred c = default;
        uint len = (uint)sizeof(UCred);
        bool ok = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) == 0 && len == (uint)sizeof(UCred) && c.Pid > 0;
        cred = c;
        return ok;
    }
}
