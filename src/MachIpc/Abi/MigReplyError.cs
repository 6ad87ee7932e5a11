using System.Runtime.InteropServices;

namespace MachIpc.Abi;

/// <summary><c>mig_reply_error_t</c>: the reply MIG servers send when a request fails (id = request id + 100).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MigReplyError
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 36;
    /// <summary>MIG convention: a reply's id is the request's id plus this.</summary>
    public const int ReplyIdOffset = 100;

    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The NDR record.</summary>
    public NdrRecord Ndr;
    /// <summary>The error (a <see cref="MigReturn"/> or <see cref="KernReturn"/> value).</summary>
    public int RetCode;
}
