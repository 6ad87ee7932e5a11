using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Messages;

/// <summary>
/// Sends a reply on the reply right a received request carries, consuming that right exactly once whatever
/// happens: it is cleared from the request before the send, so nothing destroys or replies on it again.
/// </summary>
internal static unsafe class ReplyRight
{
    /// <summary>
    /// Sends <paramref name="reply"/> (prepared, any destination) to the reply right in <paramref name="request"/>
    /// with <c>MACH_SEND_TIMEOUT</c>: a server never blocks on a client's full queue. Returns the <c>mach_msg</c>
    /// result, or <see cref="MachMsgReturn.SendInvalidDest"/> when the request carries no reply right.
    /// </summary>
    /// <remarks>
    /// After the call the right is gone: delivered with the reply; or, when the send failed after copyin and the
    /// kernel pseudo-received the reply, destroyed with the reply's other rights
    /// (<see cref="ReceivedMessage.DestroyUnsent"/>); or, after <c>MACH_SEND_INVALID_DATA/DEST/HEADER</c>, when
    /// nothing was copied in, released here (MIG's rule for which errors leave the header's rights in place,
    /// migcom user.c <c>WriteOneMachErrorDefine</c>); after any other error the copyin already destroyed it
    /// (kernel-semantics A31).
    /// </remarks>
    internal static MachMsgReturn Send(ref MachMsgHeader request, MachMsgHeader* reply, uint timeout)
    {
        uint name = request.RemotePort;
        MachMsgType type = request.RemoteDisposition;
        request.RemotePort = MachPortName.Null;
        request.Bits &= ~MachMsgBits.RemoteMask;
        if (!MachPortName.IsValid(name) || type is not (MachMsgType.PortSendOnce or MachMsgType.PortSend))
        {
            return MachMsgReturn.SendInvalidDest;
        }
        reply->RemotePort = name;
        reply->Bits = (reply->Bits & ~MachMsgBits.RemoteMask) | (uint)type; // PORT_SEND_ONCE = MOVE_SEND_ONCE, PORT_SEND = MOVE_SEND
        var mr = Mach.Msg(reply, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, reply->Size, 0, MachPortName.Null, timeout, MachPortName.Null);
        if (mr.IsPseudoReceived())
        {
            ReceivedMessage.DestroyUnsent(reply);
        }
        else if (mr.WithoutResourceBits() is MachMsgReturn.SendInvalidData or MachMsgReturn.SendInvalidDest or MachMsgReturn.SendInvalidHeader)
        {
            ReceivedMessage.Release(ref name, type);
        }
        return mr;
    }
}
