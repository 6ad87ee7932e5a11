using System.ComponentModel;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Mig;

/// <summary>
/// The <c>mach_msg</c> calls of generated MIG clients (what MIG's user stubs inline): one combined send and receive
/// for a routine, a send for a simpleroutine, and MIG's handling of the reply port and of a request that came back
/// after a failed send.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class MigClient
{
    /// <summary>No client timeout: the call waits as long as the server takes (MIG without <c>WaitTime</c>).</summary>
    public const int NoTimeout = -1;

    /// <summary>
    /// Sends the request at <paramref name="message"/> and receives the reply into the same buffer (MIG's
    /// <c>mach_msg(MACH_SEND_MSG|MACH_RCV_MSG)</c> on the request's reply port). <paramref name="migReplyPort"/> says the
    /// reply port is the thread's MIG reply port, which a failed call may destroy.
    /// </summary>
    public static MachMsgReturn Call(MachMsgHeader* message, uint sendSize, uint receiveSize, bool migReplyPort, int options, int timeoutMs)
    {
        uint replyPort = message->LocalPort;
        var option = MachMsgOption.SendMsg | MachMsgOption.RcvMsg | (MachMsgOption)options;
        if (timeoutMs >= 0)
        {
            option |= MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout;
        }
        MachMsgReturn mr = Mach.Msg(message, option, sendSize, receiveSize, replyPort, timeoutMs >= 0 ? (uint)timeoutMs : 0, MachPortName.Null);
        if (mr != MachMsgReturn.Success)
        {
            if (migReplyPort)
            {
                // MIG's __MachMsgErrorWithTimeout: keep the port only if the request never left.
                MigReplyPort.Release(mr);
            }
            ConsumeUnsent(message, mr);
        }
        return mr;
    }

    /// <summary>Sends a simpleroutine's request (<c>mach_msg(MACH_SEND_MSG)</c>).</summary>
    public static MachMsgReturn Send(MachMsgHeader* message, uint sendSize, int options, int timeoutMs)
    {
        var option = MachMsgOption.SendMsg | (MachMsgOption)options;
        if (timeoutMs >= 0)
        {
            option |= MachMsgOption.SendTimeout;
        }
        MachMsgReturn mr = Mach.Msg(message, option, sendSize, 0, MachPortName.Null, timeoutMs >= 0 ? (uint)timeoutMs : 0, MachPortName.Null);
        ConsumeUnsent(message, mr);
        return mr;
    }

    /// <summary>
    /// After a send that failed once the rights were copied in, the kernel pseudo-receives the request back into the
    /// sender's buffer (A36): release what it holds, local port included, as MIG's ConsumeOnSendError code and
    /// libsyscall's <c>mach_msg_server_consume_unsent_message</c> do, so nothing leaks.
    /// </summary>
    private static void ConsumeUnsent(MachMsgHeader* message, MachMsgReturn mr)
    {
        if (mr is not (MachMsgReturn.SendTimedOut or MachMsgReturn.SendInterrupted or MachMsgReturn.SendNoBuffer))
        {
            return;
        }
        uint local = message->LocalPort;
        if (MachPortName.IsValid(local) && message->LocalDisposition is MachMsgType.MoveSend or MachMsgType.MoveSendOnce)
        {
            Mach.PortDeallocate(Mach.TaskSelf, local);
            message->LocalPort = MachPortName.Null;
        }
        Mach.MsgDestroy(message);
    }
}
