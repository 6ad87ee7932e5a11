using System.Runtime.InteropServices;

namespace MachIpc.Abi;

/// <summary><c>mach_msg_header_t</c>: the 24-byte header that starts every Mach message.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgHeader
{
    /// <summary>Size in bytes of <c>mach_msg_header_t</c>.</summary>
    public const int SizeOf = 24;

    /// <summary><c>msgh_bits</c>: remote, local and voucher dispositions plus <see cref="MachMsgBits.Complex"/>.</summary>
    public uint Bits;
    /// <summary><c>msgh_size</c>: size of the message proper in bytes, never including the trailer.</summary>
    public uint Size;
    /// <summary><c>msgh_remote_port</c>: the destination on send; the reply right on receive.</summary>
    public uint RemotePort;
    /// <summary><c>msgh_local_port</c>: the reply right on send; the receiver's name for the destination on receive.</summary>
    public uint LocalPort;
    /// <summary><c>msgh_voucher_port</c>.</summary>
    public uint VoucherPort;
    /// <summary><c>msgh_id</c>: the message kind, chosen by the protocol.</summary>
    public int Id;

    /// <summary>The remote (destination on send, reply on receive) disposition nibble.</summary>
    public readonly MachMsgType RemoteDisposition => MachMsgBits.Remote(Bits);
    /// <summary>The local (reply on send, destination on receive) disposition nibble.</summary>
    public readonly MachMsgType LocalDisposition => MachMsgBits.Local(Bits);
    /// <summary>The voucher disposition nibble.</summary>
    public readonly MachMsgType VoucherDisposition => MachMsgBits.Voucher(Bits);
    /// <summary>Whether <see cref="MachMsgBits.Complex"/> is set (a body with descriptors follows the header).</summary>
    public readonly bool IsComplex => MachMsgBits.IsComplex(Bits);
}

/// <summary><c>mach_msg_body_t</c>: the descriptor count that follows the header of a complex message.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgBody
{
    /// <summary>Size in bytes of <c>mach_msg_body_t</c>.</summary>
    public const int SizeOf = 4;

    /// <summary><c>msgh_descriptor_count</c>.</summary>
    public uint DescriptorCount;
}

/// <summary><c>mach_msg_base_t</c>: header plus body, the start of every complex message.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgBase
{
    /// <summary>Size in bytes of <c>mach_msg_base_t</c>.</summary>
    public const int SizeOf = 28;

    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The body (descriptor count).</summary>
    public MachMsgBody Body;
}
