using System.Runtime.InteropServices;

namespace MachIpc.Abi;

// The kernel writes the trailer at round_msg(msgh_size) counted from the start of the received
// header, and copies out only the requested number of bytes (see MachTrailerRequest). Every
// trailer kind extends the previous one, so each is declared in full rather than nested: a
// reader can cast the trailer pointer to the largest kind whose size it has verified.

/// <summary><c>mach_msg_trailer_t</c>: the minimal 8-byte trailer (format and size).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 8;
    /// <summary><c>msgh_trailer_type</c>: always <see cref="MachTrailerRequest.Format0"/>.</summary>
    public uint Type;
    /// <summary><c>msgh_trailer_size</c>: the number of trailer bytes the kernel wrote.</summary>
    public uint Size;
}

/// <summary><c>mach_msg_seqno_trailer_t</c>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgSeqnoTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 12;
    /// <summary>Trailer format.</summary>
    public uint Type;
    /// <summary>Trailer size.</summary>
    public uint Size;
    /// <summary>The destination port's sequence number for this message.</summary>
    public uint Seqno;
}

/// <summary><c>mach_msg_security_trailer_t</c>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgSecurityTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 20;
    /// <summary>Trailer format.</summary>
    public uint Type;
    /// <summary>Trailer size.</summary>
    public uint Size;
    /// <summary>Sequence number.</summary>
    public uint Seqno;
    /// <summary>The sender's security token {euid, egid}.</summary>
    public SecurityToken Sender;
}

/// <summary><c>mach_msg_audit_trailer_t</c>: carries the sender's audit token (and so its pid).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgAuditTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 52;
    /// <summary>Offset of <see cref="Audit"/> within the trailer.</summary>
    public const int AuditOffset = 20;
    /// <summary>Trailer format.</summary>
    public uint Type;
    /// <summary>Trailer size.</summary>
    public uint Size;
    /// <summary>Sequence number.</summary>
    public uint Seqno;
    /// <summary>The sender's security token.</summary>
    public SecurityToken Sender;
    /// <summary>The sender's audit token.</summary>
    public AuditToken Audit;
}

/// <summary><c>mach_msg_context_trailer_t</c>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgContextTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 60;
    /// <summary>Trailer format.</summary>
    public uint Type;
    /// <summary>Trailer size.</summary>
    public uint Size;
    /// <summary>Sequence number.</summary>
    public uint Seqno;
    /// <summary>The sender's security token.</summary>
    public SecurityToken Sender;
    /// <summary>The sender's audit token.</summary>
    public AuditToken Audit;
    /// <summary>The destination port's context value at receive time.</summary>
    public ulong Context;
}

/// <summary><c>mach_msg_mac_trailer_t</c>, which is also <c>mach_msg_max_trailer_t</c>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgMacTrailer
{
    /// <summary>Size in bytes (<c>MAX_TRAILER_SIZE</c>).</summary>
    public const int SizeOf = 68;
    /// <summary>Trailer format.</summary>
    public uint Type;
    /// <summary>Trailer size.</summary>
    public uint Size;
    /// <summary>Sequence number.</summary>
    public uint Seqno;
    /// <summary>The sender's security token.</summary>
    public SecurityToken Sender;
    /// <summary>The sender's audit token.</summary>
    public AuditToken Audit;
    /// <summary>The destination port's context value.</summary>
    public ulong Context;
    /// <summary><c>msgh_ad</c>: always 0.</summary>
    public int Ad;
    /// <summary><c>msgh_labels.sender</c>: always 0.</summary>
    public uint Labels;
}
