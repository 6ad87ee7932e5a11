using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;

namespace MachIpc.Server;

/// <summary>Answers a request with <c>mig_reply_error_t</c>, as a MIG server does when it cannot handle it.</summary>
public static unsafe class MigReply
{
    /// <summary>
    /// Sends a <c>mig_reply_error_t</c> carrying <paramref name="code"/> to the reply right of the received message
    /// at <paramref name="request"/>, consuming that right; the header is updated so that a later
    /// <see cref="ReceivedMessage.Destroy"/> of the request does not release it again. Returns false when the message has
    /// no usable reply right or the reply could not be sent (the right then stays in the header).
    /// </summary>
    public static bool TrySendError(MachMsgHeader* request, int code)
    {
        MachMsgType replyType = request->RemoteDisposition;
        if (!MachPortName.IsValid(request->RemotePort) || (replyType != MachMsgType.PortSendOnce && replyType != MachMsgType.PortSend))
        {
            return false;
        }
        MigReplyError reply = default;
        reply.Header.Bits = MachMsgBits.Make(replyType == MachMsgType.PortSendOnce ? MachMsgType.MoveSendOnce : MachMsgType.MoveSend, MachMsgType.None);
        reply.Header.Size = MigReplyError.SizeOf;
        reply.Header.RemotePort = request->RemotePort;
        reply.Header.Id = request->Id + MigReplyError.ReplyIdOffset;
        reply.Ndr = NdrRecord.Native;
        reply.RetCode = code;
        // Timeout 0: a server never blocks on a client's full queue (send-once replies bypass it anyway, A34).
        var mr = Mach.Msg(&reply.Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, MigReplyError.SizeOf, 0, MachPortName.Null, 0, MachPortName.Null);
        if (mr.IsPseudoReceived())
        {
            // The kernel pseudo-received the reply right back into our buffer (A36): release it from there.
            ReceivedMessage.DestroyUnsent(&reply.Header);
        }
        else if (mr != MachMsgReturn.Success)
        {
            // Failed before copyin: the right is still where the request header says.
            return false;
        }
        request->RemotePort = MachPortName.Null;
        request->Bits &= ~MachMsgBits.RemoteMask;
        return mr == MachMsgReturn.Success;
    }
}
