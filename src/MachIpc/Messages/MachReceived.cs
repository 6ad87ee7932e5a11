using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Ports;

namespace MachIpc.Messages;

/// <summary>
/// A validated, allocation-free view of a received message of type <typeparamref name="T"/> and of the
/// trailer the kernel appended at <c>round_msg(msgh_size)</c>. Only generated validators create it; every
/// trailer accessor returns <see langword="null"/> unless the validated trailer is large enough to hold it.
/// </summary>
/// <remarks>
/// <para>
/// Ownership is explicit: the receiver of a message owns every right and region in it, and whatever a handler
/// does not take is destroyed after it returns (or throws) with <see cref="ReceivedMessage.Destroy"/>. A handler
/// keeps a right by taking it (<see cref="TakeSendRight"/>, <see cref="TakeSendOnceRight"/>,
/// <see cref="TakeReceiveRight"/>, <see cref="TakePorts"/>, <see cref="TakeMemory"/>, <see cref="TakeReplyRight"/>)
/// and answers with <see cref="Reply{TReply}"/> (or refuses with <see cref="ReplyError"/>), which consume the reply
/// right exactly once. Taking clears the
/// right in the receive buffer, so nothing later releases it a second time (a received send right merges into an
/// existing name, so a second release would take another holder's reference).
/// </para>
/// <para>
/// A take method refuses what is not a live right with <see cref="InvalidOperationException"/>: a descriptor
/// holding <c>MACH_PORT_NULL</c> (no right was sent, or it was already taken) or <c>MACH_PORT_DEAD</c> (the
/// port died in transit; the receiver holds nothing under that value). Check <see cref="MachPortName.IsValid"/>
/// on the descriptor's name first when a peer may legitimately send either.
/// </para>
/// </remarks>
/// <typeparam name="T">The generated message struct.</typeparam>
public readonly ref struct MachReceived<T> where T : unmanaged
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly byte[]? _copy;
    private readonly int _trailerOffset;
    private readonly int _trailerSize;

    private MachReceived(ReadOnlySpan<byte> buffer, int trailerOffset, int trailerSize)
    {
        _buffer = buffer;
        _trailerOffset = trailerOffset;
        _trailerSize = trailerSize;
        if (buffer.Length < Unsafe.SizeOf<T>())
        {
            // A short variable-length message in a buffer cut to its length: the struct is read from a zero-extended
            // copy, while rights are still taken from (and cleared in) the receive buffer itself.
            _copy = new byte[Unsafe.SizeOf<T>()];
            buffer.CopyTo(_copy);
        }
    }

    /// <summary>
    /// For generated validators only: wraps a buffer that has already been validated. The caller guarantees
    /// that <paramref name="buffer"/> holds the message's fixed part and a format-0 trailer of
    /// <paramref name="trailerSize"/> bytes at <paramref name="trailerOffset"/>. A buffer shorter than
    /// <c>sizeof(T)</c> (a short variable-length message) is read through a zero-extended copy.
    /// </summary>
    /// <param name="buffer">The received bytes, from the header on.</param>
    /// <param name="trailerOffset"><c>round_msg(msgh_size)</c> of the received header.</param>
    /// <param name="trailerSize">The number of trailer bytes that were validated.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static MachReceived<T> FromValidated(ReadOnlySpan<byte> buffer, int trailerOffset, int trailerSize) =>
        new(buffer, trailerOffset, trailerSize);

    /// <summary>The message. For variable-length messages only the first <see cref="MessageSize"/> bytes were sent.</summary>
    public ref readonly T Message
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref MemoryMarshal.AsRef<T>(_copy is null ? _buffer : _copy);
    }

    /// <summary>The received header.</summary>
    public ref readonly MachMsgHeader Header
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref MemoryMarshal.AsRef<MachMsgHeader>(_buffer);
    }

    /// <summary>The received <c>msgh_size</c>: how many bytes of <see cref="Message"/> the sender supplied.</summary>
    public int MessageSize => (int)Header.Size;

    /// <summary>The reply right the sender attached (the kernel moves it to <c>msgh_remote_port</c>), or 0 once taken or replied on.</summary>
    public uint ReplyPort => Header.RemotePort;

    /// <summary>The received form of the reply right (<see cref="MachMsgType.PortSendOnce"/>, <see cref="MachMsgType.PortSend"/>, or none).</summary>
    public MachMsgType ReplyDisposition => Header.RemoteDisposition;

    /// <summary>The receiver's name for the port the message arrived on (the kernel moves it to <c>msgh_local_port</c>).</summary>
    public uint DestinationPort => Header.LocalPort;

    /// <summary>The offset of the trailer from the start of the message: <c>round_msg(msgh_size)</c>.</summary>
    public int TrailerOffset => _trailerOffset;

    /// <summary>The number of validated trailer bytes.</summary>
    public int TrailerSize => _trailerSize;

    /// <summary>The validated trailer bytes.</summary>
    public ReadOnlySpan<byte> Trailer => _buffer.Slice(_trailerOffset, _trailerSize);

    /// <summary>The destination port's sequence number, if the validated trailer holds it.</summary>
    public uint? Seqno => _trailerSize >= MachMsgSeqnoTrailer.SizeOf ? Read<uint>(8) : null;

    /// <summary>The sender's security token {euid, egid}, if the validated trailer holds it.</summary>
    public SecurityToken? Sender => _trailerSize >= MachMsgSecurityTrailer.SizeOf ? Read<SecurityToken>(12) : null;

    /// <summary>The sender's audit token, if the validated trailer holds it.</summary>
    public AuditToken? AuditToken => _trailerSize >= MachMsgAuditTrailer.SizeOf ? Read<AuditToken>(MachMsgAuditTrailer.AuditOffset) : null;

    /// <summary>The sender's pid (audit token <c>val[5]</c>), if the validated trailer holds an audit token.</summary>
    public int? SenderPid => _trailerSize >= MachMsgAuditTrailer.SizeOf
        ? Read<int>(MachMsgAuditTrailer.AuditOffset + Abi.AuditToken.PidOffset)
        : null;

    /// <summary>
    /// Whether the kernel sent this message (its audit token is <c>KERNEL_AUDIT_TOKEN_VALUE</c>, pid 0); false when the
    /// validated trailer holds no audit token. See <see cref="ReceivedMessage.IsFromKernel"/>.
    /// </summary>
    public bool IsFromKernel => _trailerSize >= MachMsgAuditTrailer.SizeOf && Read<AuditToken>(MachMsgAuditTrailer.AuditOffset).IsKernel;

    /// <summary>Takes the send right a port descriptor of this message carries (received type <see cref="MachMsgType.PortSend"/>).</summary>
    /// <param name="descriptor">The descriptor, as <c>in received.Message.Field</c>.</param>
    /// <exception cref="ArgumentException">The descriptor is not one of this message's descriptors.</exception>
    /// <exception cref="InvalidOperationException">It holds no live send right (another type, MACH_PORT_NULL, MACH_PORT_DEAD, or already taken).</exception>
    public SendRight TakeSendRight(in MachMsgPortDescriptor descriptor) => SendRight.Adopt(TakePort(in descriptor, MachMsgType.PortSend));

    /// <summary>Takes the send-once right a port descriptor of this message carries.</summary>
    /// <inheritdoc cref="TakeSendRight" path="/param"/>
    /// <inheritdoc cref="TakeSendRight" path="/exception"/>
    public SendOnceRight TakeSendOnceRight(in MachMsgPortDescriptor descriptor) => SendOnceRight.Adopt(TakePort(in descriptor, MachMsgType.PortSendOnce));

    /// <summary>Takes the receive right a port descriptor of this message carries.</summary>
    /// <inheritdoc cref="TakeSendRight" path="/param"/>
    /// <inheritdoc cref="TakeSendRight" path="/exception"/>
    public ReceiveRight TakeReceiveRight(in MachMsgPortDescriptor descriptor) => ReceiveRight.Adopt(TakePort(in descriptor, MachMsgType.PortReceive));

    /// <summary>
    /// Takes the rights of an out-of-line port array (one owned right per name, of the array's received type) and
    /// frees the array itself. All or nothing: an array holding MACH_PORT_NULL or MACH_PORT_DEAD is refused whole.
    /// </summary>
    /// <param name="descriptor">The descriptor, as <c>in received.Message.Field</c>.</param>
    /// <exception cref="ArgumentException">The descriptor is not one of this message's descriptors.</exception>
    /// <exception cref="InvalidOperationException">An entry is not a live right, or the array was already taken.</exception>
    public unsafe MachRight[] TakePorts(in MachMsgOolPortsDescriptor descriptor)
    {
        int offset = Locate(in descriptor, MachMsgDescriptorType.OolPorts, MachMsgDescriptorType.OolPorts);
        ref MachMsgOolPortsDescriptor held = ref At<MachMsgOolPortsDescriptor>(offset);
        var names = (uint*)held.Address;
        if (names is null && held.Count != 0)
        {
            throw new InvalidOperationException("the port array was already taken");
        }
        for (uint i = 0; i < held.Count; i++)
        {
            RequireLive(names[i]);
        }
        var rights = new MachRight[held.Count];
        for (uint i = 0; i < held.Count; i++)
        {
            rights[i] = Adopt(names[i], held.Disposition);
        }
        using (new OutOfLineMemory(held.Address, held.Count * (ulong)sizeof(uint)))
        {
            held.Address = 0;
            held.Count = 0;
            Mirror(offset, sizeof(MachMsgOolPortsDescriptor));
        }
        return rights;
    }

    /// <summary>Takes an out-of-line region of this message (plain or volatile); the caller frees it by disposing.</summary>
    /// <param name="descriptor">The descriptor, as <c>in received.Message.Field</c>.</param>
    /// <exception cref="ArgumentException">The descriptor is not one of this message's descriptors.</exception>
    /// <exception cref="InvalidOperationException">The region was already taken.</exception>
    public OutOfLineMemory TakeMemory(in MachMsgOolDescriptor descriptor)
    {
        int offset = Locate(in descriptor, MachMsgDescriptorType.Ool, MachMsgDescriptorType.OolVolatile);
        ref MachMsgOolDescriptor held = ref At<MachMsgOolDescriptor>(offset);
        if (held.Address == 0 && held.Size != 0)
        {
            throw new InvalidOperationException("the region was already taken");
        }
        var region = new OutOfLineMemory(held.Address, held.Size);
        held.Address = 0;
        held.Size = 0;
        Mirror(offset, Unsafe.SizeOf<MachMsgOolDescriptor>());
        return region;
    }

    /// <summary>
    /// Takes the reply right (a <see cref="SendOnceRight"/> or a <see cref="SendRight"/>), for a reply sent later or
    /// elsewhere. To answer now, use <see cref="Reply{TReply}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The message carries no live reply right, or it was already taken.</exception>
    public MachRight TakeReplyRight()
    {
        ref MachMsgHeader header = ref At<MachMsgHeader>(0);
        MachMsgType type = header.RemoteDisposition;
        if (type is not (MachMsgType.PortSendOnce or MachMsgType.PortSend))
        {
            throw new InvalidOperationException("the message carries no reply right, or it was already taken or replied on");
        }
        uint name = header.RemotePort;
        RequireLive(name);
        MachRight right = Adopt(name, type);
        header.RemotePort = MachPortName.Null;
        header.Bits &= ~MachMsgBits.RemoteMask;
        Mirror(0, MachMsgHeader.SizeOf);
        return right;
    }

    /// <summary>
    /// Answers the request: sends <paramref name="reply"/> (prepared with its generated <c>Prepare</c>; the
    /// destination is filled in here) on the reply right, consuming that right exactly once whatever the outcome,
    /// with <c>MACH_SEND_TIMEOUT</c> so that a server never blocks on a client's full queue. After a send that
    /// failed, the rights <paramref name="reply"/> carried were destroyed or are still the caller's exactly as
    /// after any failed <c>mach_msg</c> send (see the generated <c>Send</c>).
    /// </summary>
    /// <typeparam name="TReply">The generated reply message.</typeparam>
    /// <param name="reply">The reply; its header is updated as the kernel leaves it.</param>
    /// <param name="timeout">Send timeout in milliseconds (0: fail at once on a full queue; send-once replies never wait).</param>
    /// <returns>The <c>mach_msg</c> result.</returns>
    /// <exception cref="ArgumentException"><paramref name="reply"/> was not prepared (its <c>msgh_size</c> is not a valid size of <typeparamref name="TReply"/>).</exception>
    /// <exception cref="InvalidOperationException">The message carries no reply right, or it was already taken or replied on.</exception>
    public unsafe MachMsgReturn Reply<TReply>(ref TReply reply, uint timeout = 0)
        where TReply : unmanaged, IMachMessage<TReply>
    {
        ref MachMsgHeader replyHeader = ref Unsafe.As<TReply, MachMsgHeader>(ref reply);
        uint size = replyHeader.Size;
        if (size < TReply.MinSize || size > TReply.SendSize || (size & 3) != 0)
        {
            throw new ArgumentException($"prepare the reply first: msgh_size {size} is not a size of {typeof(TReply).Name}", nameof(reply));
        }
        ref MachMsgHeader header = ref At<MachMsgHeader>(0);
        if (header.RemoteDisposition is not (MachMsgType.PortSendOnce or MachMsgType.PortSend) || header.RemotePort == MachPortName.Null)
        {
            throw new InvalidOperationException("the message carries no reply right, or it was already taken or replied on");
        }
        // A reply right whose port died in transit arrives as MACH_PORT_DEAD: the send fails with
        // MACH_SEND_INVALID_DEST, as it would have after the client died a moment later.
        MachMsgReturn mr;
        fixed (MachMsgHeader* message = &replyHeader)
        {
            mr = ReplyRight.Send(ref header, message, timeout);
        }
        Mirror(0, MachMsgHeader.SizeOf);
        return mr;
    }

    /// <summary>
    /// Answers the request with a <c>mig_reply_error_t</c> carrying <paramref name="code"/>, as a MIG server refuses a
    /// request, consuming the reply right exactly once (<see cref="Server.MigReply.TrySendError"/>).
    /// </summary>
    /// <param name="code">A <see cref="MigReturn"/>, <see cref="KernReturn"/> or protocol error code.</param>
    /// <returns>Whether the reply was delivered; false also when the message has no reply right (left).</returns>
    public unsafe bool ReplyError(int code)
    {
        bool sent;
        fixed (MachMsgHeader* header = &At<MachMsgHeader>(0))
        {
            sent = Server.MigReply.TrySendError(header, code);
        }
        Mirror(0, MachMsgHeader.SizeOf);
        return sent;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TValue Read<TValue>(int trailerOffset) where TValue : unmanaged =>
        MemoryMarshal.Read<TValue>(_buffer.Slice(_trailerOffset + trailerOffset));

    private uint TakePort(in MachMsgPortDescriptor descriptor, MachMsgType type)
    {
        int offset = Locate(in descriptor, MachMsgDescriptorType.Port, MachMsgDescriptorType.Port);
        ref MachMsgPortDescriptor held = ref At<MachMsgPortDescriptor>(offset);
        if (held.Disposition != type)
        {
            throw new InvalidOperationException($"the descriptor carries a right of received type {held.Disposition}, not {type}");
        }
        uint name = held.Name;
        RequireLive(name);
        held.Name = MachPortName.Null;
        Mirror(offset, MachMsgPortDescriptor.SizeOf);
        return name;
    }

    private static void RequireLive(uint name)
    {
        if (name == MachPortName.Dead)
        {
            throw new InvalidOperationException("the right is MACH_PORT_DEAD: its port died in transit, and this task holds nothing under that value");
        }
        if (name == MachPortName.Null)
        {
            throw new InvalidOperationException("no right here (MACH_PORT_NULL): none was sent, or it was already taken");
        }
    }

    private static MachRight Adopt(uint name, MachMsgType receivedType) => receivedType switch
    {
        MachMsgType.PortSend => SendRight.Adopt(name),
        MachMsgType.PortSendOnce => SendOnceRight.Adopt(name),
        MachMsgType.PortReceive => ReceiveRight.Adopt(name),
        _ => throw new InvalidOperationException($"received type {receivedType} is not a right"),
    };

    /// <summary>
    /// The offset of <paramref name="descriptor"/> in the message, checked to be one of the descriptors the kernel
    /// wrote (a walk over the received body), of one of the expected types.
    /// </summary>
    private int Locate<TDescriptor>(in TDescriptor descriptor, MachMsgDescriptorType expected, MachMsgDescriptorType alsoExpected)
        where TDescriptor : unmanaged
    {
        ReadOnlySpan<byte> message = _copy is null ? _buffer : _copy;
        nint offset = Unsafe.ByteOffset(
            ref MemoryMarshal.GetReference(message),
            ref Unsafe.As<TDescriptor, byte>(ref Unsafe.AsRef(in descriptor)));
        ref readonly MachMsgHeader header = ref Header;
        if (header.IsComplex && offset >= MachMsgBase.SizeOf && offset < header.Size)
        {
            uint count = MemoryMarshal.Read<uint>(_buffer.Slice(MachMsgHeader.SizeOf));
            int at = MachMsgBase.SizeOf;
            for (uint i = 0; i < count && at + MachMsgTypeDescriptor.SizeOf <= header.Size; i++)
            {
                var type = (MachMsgDescriptorType)_buffer[at + MachMsgTypeDescriptor.TypeOffset];
                if (at == offset)
                {
                    if (type != expected && type != alsoExpected)
                    {
                        break;
                    }
                    return at;
                }
                at += type == MachMsgDescriptorType.Port ? MachMsgPortDescriptor.SizeOf : MachMsgOolDescriptor.SizeOf;
            }
        }
        throw new ArgumentException("pass one of this message's own descriptors of the right kind (in received.Message.Field)", nameof(descriptor));
    }

    /// <summary>A writable reference into the receive buffer (the bytes the kernel wrote for this task).</summary>
    private ref TValue At<TValue>(int offset) where TValue : unmanaged =>
        ref Unsafe.As<byte, TValue>(ref Unsafe.AsRef(in _buffer[offset]));

    /// <summary>Keeps the zero-extended copy (if any) in step with a change to the receive buffer.</summary>
    private void Mirror(int offset, int length)
    {
        if (_copy is not null)
        {
            _buffer.Slice(offset, length).CopyTo(_copy.AsSpan(offset));
        }
    }
}
