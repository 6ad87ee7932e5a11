namespace MachIpc.Abi;

/// <summary>The trailer elements a receiver can request (<c>MACH_RCV_TRAILER_*</c>).</summary>
public enum MachTrailerElements
{
    /// <summary><c>MACH_RCV_TRAILER_NULL</c>: 8 bytes.</summary>
    Null = 0,
    /// <summary><c>MACH_RCV_TRAILER_SEQNO</c>: 12 bytes.</summary>
    Seqno = 1,
    /// <summary><c>MACH_RCV_TRAILER_SENDER</c>: 20 bytes.</summary>
    Sender = 2,
    /// <summary><c>MACH_RCV_TRAILER_AUDIT</c>: 52 bytes.</summary>
    Audit = 3,
    /// <summary><c>MACH_RCV_TRAILER_CTX</c>: 60 bytes.</summary>
    Context = 4,
    /// <summary><c>MACH_RCV_TRAILER_AV</c>: 68 bytes.</summary>
    Av = 7,
    /// <summary><c>MACH_RCV_TRAILER_LABELS</c>: 68 bytes.</summary>
    Labels = 8,
}

/// <summary>Receive-trailer request helpers and sizes (<c>mach/message.h</c>).</summary>
public static class MachTrailerRequest
{
    /// <summary><c>MACH_MSG_TRAILER_FORMAT_0</c>.</summary>
    public const uint Format0 = 0;
    /// <summary><c>MAX_TRAILER_SIZE</c>.</summary>
    public const int MaxSize = 68;
    /// <summary><c>MACH_MSG_TRAILER_MINIMUM_SIZE</c>.</summary>
    public const int MinimumSize = 8;

    /// <summary><c>MACH_RCV_TRAILER_TYPE(t)</c> = (t &amp; 0xf) &lt;&lt; 28.</summary>
    public static MachMsgOption Type(uint format) => (MachMsgOption)(int)((format & 0xf) << 28);

    /// <summary><c>MACH_RCV_TRAILER_ELEMENTS(e)</c> = (e &amp; 0xf) &lt;&lt; 24.</summary>
    public static MachMsgOption Elements(MachTrailerElements elements) => (MachMsgOption)(((int)elements & 0xf) << 24);

    /// <summary>The receive option bits requesting <paramref name="elements"/> in format 0.</summary>
    public static MachMsgOption Option(MachTrailerElements elements) => Type(Format0) | Elements(elements);

    /// <summary><c>GET_RCV_ELEMENTS(option)</c>: the elements nibble of a receive option.</summary>
    public static MachTrailerElements ElementsOf(MachMsgOption option) => (MachTrailerElements)(((int)option >> 24) & 0xf);

    /// <summary><c>REQUESTED_TRAILER_SIZE</c> for a 64-bit receiver: 8, 12, 20, 52, 60, else 68.</summary>
    public static int SizeOf(MachTrailerElements elements) => (int)elements switch
    {
        0 => MachMsgTrailer.SizeOf,
        1 => MachMsgSeqnoTrailer.SizeOf,
        2 => MachMsgSecurityTrailer.SizeOf,
        3 => MachMsgAuditTrailer.SizeOf,
        4 => MachMsgContextTrailer.SizeOf,
        _ => MaxSize,
    };

    /// <summary>The trailer size the kernel writes for a receive with <paramref name="option"/>.</summary>
    public static int SizeOf(MachMsgOption option) => SizeOf(ElementsOf(option));

    /// <summary><c>round_msg(size)</c>: <paramref name="size"/> rounded up to a multiple of 4, where the trailer starts.</summary>
    public static uint RoundMsg(uint size) => (size + 3u) & ~3u;
}
