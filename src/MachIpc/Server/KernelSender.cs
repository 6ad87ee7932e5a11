using MachIpc.Abi;

namespace MachIpc.Server;

/// <summary>
/// Tells a message the kernel generated (a notification, a send-once notification for a dropped reply right)
/// from a peer's forgery with the same id: only the kernel's audit token is all zeros (B27, D10). The trailer
/// is read where the kernel wrote it, at <c>round_msg(msgh_size)</c>, after checking that it is there.
/// </summary>
internal static unsafe class KernelSender
{
    /// <param name="header">A received message, trailer requested with at least the audit elements.</param>
    /// <param name="length">The number of valid bytes at <paramref name="header"/>.</param>
    public static bool IsKernel(MachMsgHeader* header, int length)
    {
        uint offset = MachTrailerRequest.RoundMsg(header->Size);
        if (offset > (uint)length || (uint)length - offset < MachMsgAuditTrailer.SizeOf)
        {
            return false;
        }
        var trailer = (MachMsgAuditTrailer*)((byte*)header + offset);
        return trailer->Size >= MachMsgAuditTrailer.SizeOf && trailer->Audit.IsKernel;
    }
}
