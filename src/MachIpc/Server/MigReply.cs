using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Server;

/// <summary>Answers a request with <c>mig_reply_error_t</c>, as a MIG server does when it cannot handle it.</summary>
public static unsafe class MigReply
{
    /// <summary>
    /// Sends a <c>mig_reply_error_t</c> carrying <paramref name="code"/> to the reply right of the received message
    /// at <paramref name="request"/>, consuming that right exactly once whether or not the reply goes out: it is
    /// cleared from the header, so a later <see cref="ReceivedMessage.Destroy(MachMsgHeader*)"/> of the request does not release it
    /// again. Returns whether the reply was delivered; false also when the message has no reply right.
    /// </summary>
    public static bool TrySendError(MachMsgHeader* request, int code)
    {
        if (request->RemoteDisposition is not (MachMsgType.PortSendOnce or MachMsgType.PortSend) || request->RemotePort == MachPortName.Null)
        {
            return false;
        }
        MigReplyError reply = default;
        reply.Header.Size = MigReplyError.SizeOf;
        reply.Header.Id = request->Id + MigReplyError.ReplyIdOffset;
        reply.Ndr = NdrRecord.Native;
        reply.RetCode = code;
        // Timeout 0: a server never blocks on a client's full queue (send-once replies bypass it anyway, A34).
        return ReplyRight.Send(ref *request, &reply.Header, 0) == MachMsgReturn.Success;
    }
}
