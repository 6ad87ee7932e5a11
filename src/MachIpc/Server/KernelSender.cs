using MachIpc.Abi;

namespace MachIpc.Server;

/// <summary>
/// Reads who sent a received message from the kernel's audit trailer, which the kernel writes at
/// <c>round_msg(msgh_size)</c> (checked to be there first). Tells a message the kernel generated (a notification, a
/// send-once notification for a dropped reply right) from a peer's forgery with the same id: only the kernel's audit
/// token is all zeros (B27, D10).
/// </summary>
internal static unsafe class KernelSender
{
    /// <param name="header">A received message, trailer requested with at least the audit elements.</param>
    /// <param name="length">The number of valid bytes at <paramref name="header"/>.</param>
    public static bool IsKernel(MachMsgHeader* header, int length) => TryGetAuditToken(header, length, out var token) && token.IsKernel;

    /// <summary>The sender's pid, or -1 when the message has no audit trailer.</summary>
    public static int SenderPid(MachMsgHeader* header, int length) => TryGetAuditToken(header, length, out var token) ? token.Pid : -1;

    private static bool TryGetAuditToken(MachMsgHeader* header, int length, out AuditToken token)
    {
        token = default;
        uint offset = MachTrailerRequest.RoundMsg(header->Size);
        if (offset > (uint)length || (uint)length - offset < MachMsgAuditTrailer.SizeOf)
        {
            return false;
        }
        var trailer = (MachMsgAuditTrailer*)((byte*)header + offset);
        if (trailer->Size < MachMsgAuditTrailer.SizeOf)
        {
            return false;
        }
        token = trailer->Audit;
        return true;
    }
}
