using System.ComponentModel;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Mig;

/// <summary>
/// How a generated MIG dispatcher finishes one request, as MIG's server stubs and libsyscall's
/// <c>mach_msg_server</c> do: reject it with the check's code, answer a failed routine with
/// <c>mig_reply_error_t</c> and destroy the request, or send the routine's reply.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class MigRequest
{
    /// <summary>
    /// The request failed MIG's type check with <paramref name="code"/> (<c>MIG_BAD_ARGUMENTS</c>,
    /// <c>MIG_TYPE_ERROR</c>, <c>MIG_TRAILER_ERROR</c>): the sender gets that code in a <c>mig_reply_error_t</c>, and the
    /// server loop destroys the request (the reply right is already spent).
    /// </summary>
    public static MachDispatchResult Reject(MachMsgHeader* request, int code)
    {
        MigReply.TrySendError(request, code);
        return MachDispatchResult.Rejected(Describe(code));
    }

    /// <summary>
    /// The handler returned <paramref name="retCode"/> for a simpleroutine, or an error for a routine:
    /// <c>MIG_NO_REPLY</c> leaves everything (reply right included) to the handler; any other error is answered with
    /// <c>mig_reply_error_t</c> and the request destroyed, its rights never having been taken
    /// (libsyscall mach_msg.c <c>mach_msg_server</c>); a simpleroutine's success keeps the rights with the handler and
    /// answers only if the sender attached a reply right.
    /// </summary>
    public static MachDispatchResult Finish(MachMsgHeader* request, int retCode)
    {
        if (retCode == (int)MigReturn.NoReply)
        {
            ReceivedMessage.HandOver(request, replyRight: true);
            return MachDispatchResult.Handled;
        }
        MigReply.TrySendError(request, retCode);
        if (retCode != (int)KernReturn.Success)
        {
            ReceivedMessage.Destroy(request);
        }
        else
        {
            ReceivedMessage.HandOver(request, replyRight: false);
        }
        return MachDispatchResult.Handled;
    }

    /// <summary>
    /// The handler succeeded, and owns the request's rights, but its results cannot be sent (an array longer than the
    /// interface allows): the client gets <paramref name="code"/> in a <c>mig_reply_error_t</c>.
    /// </summary>
    public static MachDispatchResult ReplyError(MachMsgHeader* request, int code)
    {
        MigReply.TrySendError(request, code);
        ReceivedMessage.HandOver(request, replyRight: false);
        return MachDispatchResult.Handled;
    }

    /// <summary>
    /// Sends the routine's reply at <paramref name="reply"/> to the request's reply right: without a timeout to a
    /// send-once right, with a zero timeout to a send right, and destroying the reply when the send fails in a way
    /// the kernel hands back (libsyscall mach_msg.c <c>mach_msg_server</c>,
    /// <c>mach_msg_server_is_recoverable_send_error</c>). The handler owns the request's other rights.
    /// </summary>
    public static MachDispatchResult Reply(MachMsgHeader* request, MachMsgHeader* reply)
    {
        if (!MachPortName.IsValid(reply->RemotePort))
        {
            return MachDispatchResult.Handled;
        }
        MachMsgOption option = reply->RemoteDisposition == MachMsgType.MoveSendOnce
            ? MachMsgOption.SendMsg
            : MachMsgOption.SendMsg | MachMsgOption.SendTimeout;
        MachMsgReturn mr = Mach.Msg(reply, option, reply->Size, 0, MachPortName.Null, MachMsgTimeout.None, MachPortName.Null);
        if (mr is MachMsgReturn.SendInvalidDest or MachMsgReturn.SendTimedOut or MachMsgReturn.SendInterrupted)
        {
            Mach.MsgDestroy(reply);
        }
        // Sent, or consumed: the request no longer holds the reply right, and the handler owns the rest.
        ReceivedMessage.HandOver(request, replyRight: true);
        return MachDispatchResult.Handled;
    }

    /// <summary>A constant name for a check's code, suitable as a metric tag.</summary>
    public static string Describe(int code) => code switch
    {
        (int)MigReturn.BadArguments => "MIG_BAD_ARGUMENTS",
        (int)MigReturn.TypeError => "MIG_TYPE_ERROR",
        (int)MigReturn.TrailerError => "MIG_TRAILER_ERROR",
        (int)MigReturn.ArrayTooLarge => "MIG_ARRAY_TOO_LARGE",
        _ => "MIG check failed",
    };
}
