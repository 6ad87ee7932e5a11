using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests;

/// <summary>Builds receive buffers the way the kernel would write them: the message, then a trailer at round_msg(msgh_size).</summary>
internal static class TestBuffers
{
    public const int SenderPid = 4242;

    public static byte[] Bytes<T>(in T message) where T : unmanaged
    {
        var bytes = new byte[Unsafe.SizeOf<T>()];
        MemoryMarshal.Write(bytes, in message);
        return bytes;
    }

    /// <summary>
    /// A receive buffer as the kernel leaves it: <paramref name="messageBytes"/> (of which the first
    /// <paramref name="msghSize"/> were sent), the header dispositions swapped to their received forms, and an audit-capable
    /// format-0 trailer at round_msg(msghSize) carrying <see cref="SenderPid"/>.
    /// </summary>
    public static byte[] Received<T>(ReadOnlySpan<byte> messageBytes, int bufferSize, int? msghSize = null, uint trailerSize = 52, int pid = SenderPid)
        where T : unmanaged, IMachMessage<T>
    {
        var buffer = new byte[bufferSize];
        messageBytes.CopyTo(buffer);
        int size = msghSize ?? T.SendSize;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), (uint)size);
        WriteTrailer(buffer, (size + 3) & ~3, trailerSize, pid);
        return buffer;
    }

    public static void WriteTrailer(Span<byte> buffer, int offset, uint trailerSize, int pid)
    {
        Span<byte> trailer = buffer.Slice(offset);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, MachTrailerRequest.Format0);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.Slice(4), trailerSize);
        if (trailerSize >= 12 && trailer.Length >= 12)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.Slice(8), 7); // seqno
        }
        if (trailerSize >= 20 && trailer.Length >= 20)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.Slice(12), 501); // euid
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.Slice(16), 20); // egid
        }
        if (trailerSize >= 52 && trailer.Length >= 52)
        {
            BinaryPrimitives.WriteInt32LittleEndian(trailer.Slice(40), pid);
        }
    }

    /// <summary>What the kernel does to msgh_bits on delivery: swaps remote/local and turns dispositions into received rights.</summary>
    public static uint ReceivedBits(MachMsgType remote, MachMsgType local, bool complex) =>
        MachMsgBits.Make(MachMsgTypes.ReceivedForm(local), MachMsgTypes.ReceivedForm(remote), MachMsgType.None, complex);

    /// <summary>What the kernel does to a port descriptor's disposition on delivery.</summary>
    public static void Deliver(ref MachMsgPortDescriptor descriptor) => descriptor.Disposition = MachMsgTypes.ReceivedForm(descriptor.Disposition);
}
