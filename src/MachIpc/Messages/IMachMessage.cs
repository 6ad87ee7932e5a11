using System;
using MachIpc.Abi;

namespace MachIpc.Messages;

/// <summary>
/// Implemented by every struct the MachIpc generator turns into a Mach message, so that servers and RPC
/// clients can be written generically over message types without reflection.
/// </summary>
/// <typeparam name="TSelf">The message struct itself.</typeparam>
public interface IMachMessage<TSelf> where TSelf : unmanaged, IMachMessage<TSelf>
{
    /// <summary>The <c>msgh_id</c>.</summary>
    static abstract int MsgId { get; }

    /// <summary>The C <c>sizeof</c> of the message, which is the <c>msgh_size</c> it is sent with.</summary>
    static abstract int SendSize { get; }

    /// <summary>The smallest acceptable <c>msgh_size</c> (equal to <see cref="SendSize"/> for fixed-size messages).</summary>
    static abstract int MinSize { get; }

    /// <summary>Whether the message carries a body (<c>MACH_MSGH_BITS_COMPLEX</c>).</summary>
    static abstract bool IsComplex { get; }

    /// <summary>The number of descriptors.</summary>
    static abstract int DescriptorCount { get; }

    /// <summary>The trailer elements a receiver requests for this message.</summary>
    static abstract MachTrailerElements TrailerElements { get; }

    /// <summary>The size in bytes of the requested trailer.</summary>
    static abstract int TrailerSize { get; }

    /// <summary>A receive buffer size that always fits the message and its requested trailer.</summary>
    static abstract int ReceiveBufferSize { get; }

    /// <summary>Checks <paramref name="received"/> (the bytes the kernel wrote, from the header on) without trusting the sender.</summary>
    static abstract MachValidationError Validate(ReadOnlySpan<byte> received);

    /// <summary>Validates <paramref name="received"/> and, when valid, returns a typed view over it.</summary>
    static abstract MachValidationError TryRead(ReadOnlySpan<byte> received, out MachReceived<TSelf> message);
}
