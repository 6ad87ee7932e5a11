using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.Messages;

/// <summary>
/// A validated, allocation-free view of a received message of type <typeparamref name="T"/> and of the
/// trailer the kernel appended at <c>round_msg(msgh_size)</c>. Only generated validators create it; every
/// trailer accessor returns <see langword="null"/> unless the validated trailer is large enough to hold it.
/// </summary>
/// <typeparam name="T">The generated message struct.</typeparam>
public readonly ref struct MachReceived<T> where T : unmanaged
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _trailerOffset;
    private readonly int _trailerSize;

    private MachReceived(ReadOnlySpan<byte> buffer, int trailerOffset, int trailerSize)
    {
        _buffer = buffer;
        _trailerOffset = trailerOffset;
        _trailerSize = trailerSize;
    }

    /// <summary>
    /// For generated validators only: wraps a buffer that has already been validated. The caller guarantees
    /// that <paramref name="buffer"/> holds at least <c>sizeof(T)</c> bytes and a format-0 trailer of
    /// <paramref name="trailerSize"/> bytes at <paramref name="trailerOffset"/>.
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
        get => ref MemoryMarshal.AsRef<T>(_buffer);
    }

    /// <summary>The received header.</summary>
    public ref readonly MachMsgHeader Header
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref MemoryMarshal.AsRef<MachMsgHeader>(_buffer);
    }

    /// <summary>The received <c>msgh_size</c>: how many bytes of <see cref="Message"/> the sender supplied.</summary>
    public int MessageSize => (int)Header.Size;

    /// <summary>The reply right the sender attached (the kernel moves it to <c>msgh_remote_port</c>), or 0.</summary>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TValue Read<TValue>(int trailerOffset) where TValue : unmanaged =>
        MemoryMarshal.Read<TValue>(_buffer.Slice(_trailerOffset + trailerOffset));
}
