using System;

namespace MachIpc.Abi;

/// <summary><c>mach_msg_option_t</c> bits.</summary>
[Flags]
public enum MachMsgOption
{
    /// <summary>No option.</summary>
    None = 0,
    /// <summary><c>MACH_SEND_MSG</c>.</summary>
    SendMsg = 0x1,
    /// <summary><c>MACH_RCV_MSG</c>.</summary>
    RcvMsg = 0x2,
    /// <summary><c>MACH_RCV_LARGE</c>: leave a too-large message queued and report its size.</summary>
    RcvLarge = 0x4,
    /// <summary><c>MACH_RCV_LARGE_IDENTITY</c>: with <see cref="RcvLarge"/>, also report the port holding it.</summary>
    RcvLargeIdentity = 0x8,
    /// <summary><c>MACH_SEND_TIMEOUT</c>.</summary>
    SendTimeout = 0x10,
    /// <summary><c>MACH_SEND_INTERRUPT</c>.</summary>
    SendInterrupt = 0x40,
    /// <summary><c>MACH_RCV_TIMEOUT</c>.</summary>
    RcvTimeout = 0x100,
    /// <summary><c>MACH_RCV_INTERRUPT</c>.</summary>
    RcvInterrupt = 0x400,
    /// <summary><c>MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0)</c> | <c>MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)</c>.</summary>
    RcvTrailerAudit = 0x03000000,
}

/// <summary><c>MACH_MSG_TIMEOUT_NONE</c> and friends.</summary>
public static class MachMsgTimeout
{
    /// <summary><c>MACH_MSG_TIMEOUT_NONE</c> (0).</summary>
    public const uint None = 0;
}
