using System;
using System.ComponentModel;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.Messages;

/// <summary>
/// What a send did with the owned rights a generated <c>Send(SendRight remotePort, ...)</c> put in the message: a
/// <c>MOVE_*</c> disposition leaves the caller's object empty only when the kernel really took the right, as XNU
/// decides it; <c>COPY_*</c> and <c>MAKE_*</c> dispositions never touch the caller's object (the kernel makes the
/// message's right from it). Generated code calls this; users call the generated overloads.
/// </summary>
/// <remarks>
/// The outcomes, by <c>mach_msg</c> result (kernel-semantics A19-A36; XNU osfmk/ipc/ipc_kmsg.c
/// <c>ipc_kmsg_copyin_from_user</c>, osfmk/ipc/mach_msg.c <c>mach_msg_trap_send</c>):
/// <list type="bullet">
/// <item>sent (success, or a receive error of a combined send-receive): every moved right went with the message;</item>
/// <item>pseudo-received (<see cref="MachMsgReturns.IsPseudoReceived"/>): the kernel copied the message back
/// (<c>ipc_kmsg_copyout_pseudo</c>), every right under a name of this task, the header not swapped: a moved right
/// is the caller's again under the name now in its slot, and the rights the kernel made for <c>COPY_*</c> /
/// <c>MAKE_*</c> slots and the regions it mapped back are destroyed (<see cref="ReceivedMessage.DestroyUnsent"/>);</item>
/// <item>a body error (<c>MACH_SEND_INVALID_RIGHT</c>, <c>MACH_SEND_INVALID_MEMORY</c>, <c>MACH_SEND_NO_GRANT_DEST</c>,
/// <c>MACH_SEND_MSG_FILTERED</c>, or resource bits alone): the header had been copied in and was destroyed, and
/// so was every descriptor before the failing one, while the ones after it are untouched (A31): a moved header
/// right is gone, a moved descriptor right is looked up to see which side of the failure it was on;</item>
/// <item>any other error was found before anything was copied in (A2-A19): the caller still owns everything, as
/// MIG's user stubs assume for the reply port (migcom user.c <c>WriteOneMachErrorDefine</c>).</item>
/// </list>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class RightCopyin
{
    // MACH_SEND_NO_GRANT_DEST and MACH_SEND_MSG_FILTERED (mach/message.h): checked after the header copyin (A32).
    private const int SendNoGrantDest = 0x10000016;
    private const int SendMsgFiltered = 0x10000017;

    /// <summary>The name to put in the message for <paramref name="right"/> (0 for an absent optional right).</summary>
    /// <exception cref="ArgumentNullException">A required right is null.</exception>
    /// <exception cref="ObjectDisposedException">The right was already released or moved.</exception>
    public static uint Name(MachRight? right, string parameter, bool optional)
    {
        if (right is null)
        {
            return optional ? MachPortName.Null : throw new ArgumentNullException(parameter);
        }
        uint name = right.Name;
        ObjectDisposedException.ThrowIf(name == MachPortName.Null, right);
        return name;
    }

    /// <summary>
    /// Before a send: the user references of a send right a descriptor moves, so that after a body error the
    /// caller can tell whether the kernel took one (0 for every other disposition, which needs no count).
    /// </summary>
    public static uint Before(MachRight? right, MachMsgType disposition)
    {
        if (right is null || disposition != MachMsgType.MoveSend)
        {
            return 0;
        }
        uint refs = 0;
        using var _ = right.EnterOwner();
        return Mach.PortGetRefs(Mach.TaskSelf, right.Name, MachPortRight.Send, &refs) == KernReturn.Success ? refs : 0;
    }

    /// <summary>
    /// After the send: settles who owns <paramref name="right"/>, which the message carried in <paramref name="slot"/>
    /// with <paramref name="disposition"/> (see the remarks). After a pseudo-receive the slot is cleared when the
    /// right went back to <paramref name="right"/>, so that <see cref="Finish"/> does not destroy it.
    /// </summary>
    /// <param name="result">The <c>mach_msg</c> result.</param>
    /// <param name="right">The owned right, or null for none.</param>
    /// <param name="disposition">The declared disposition.</param>
    /// <param name="slot">The name's place in the message the kernel wrote back.</param>
    /// <param name="inHeader">Whether the slot is <c>msgh_remote_port</c> or <c>msgh_local_port</c>.</param>
    /// <param name="refsBefore">What <see cref="Before"/> returned.</param>
    public static void Settle(MachMsgReturn result, MachRight? right, MachMsgType disposition, uint* slot, bool inHeader, uint refsBefore)
    {
        if (right is null || disposition is not (MachMsgType.MoveReceive or MachMsgType.MoveSend or MachMsgType.MoveSendOnce))
        {
            return;
        }
        switch (Classify(result))
        {
            case Outcome.Sent:
                right.Relinquish();
                break;
            case Outcome.CopiedBack:
                right.Rebind(*slot);
                *slot = MachPortName.Null;
                break;
            case Outcome.BodyFailed when inHeader || !StillHeld(right, disposition, refsBefore):
                right.Relinquish();
                break;
        }
    }

    /// <summary>After the slots are settled: destroys what a pseudo-receive gave back and nobody owns.</summary>
    public static void Finish(MachMsgReturn result, MachMsgHeader* message)
    {
        if (Classify(result) == Outcome.CopiedBack)
        {
            ReceivedMessage.DestroyUnsent(message);
        }
    }

    private enum Outcome
    {
        Refused,
        Sent,
        CopiedBack,
        BodyFailed,
    }

    private static Outcome Classify(MachMsgReturn result)
    {
        if (result == MachMsgReturn.Success || ((int)result & 0x10004000) == 0x10004000)
        {
            return Outcome.Sent; // MACH_RCV_*: the send half of a combined call succeeded
        }
        if (result.IsPseudoReceived())
        {
            return Outcome.CopiedBack;
        }
        return (int)result.WithoutResourceBits() switch
        {
            0 or (int)MachMsgReturn.SendInvalidRight or (int)MachMsgReturn.SendInvalidMemory or SendNoGrantDest or SendMsgFiltered => Outcome.BodyFailed,
            _ => Outcome.Refused,
        };
    }

    /// <summary>Whether a descriptor's moved right is still in this task after a body error (it came after the failing one).</summary>
    private static bool StillHeld(MachRight right, MachMsgType disposition, uint refsBefore)
    {
        using var _ = right.EnterOwner();
        uint name = right.Name;
        if (disposition == MachMsgType.MoveSend)
        {
            uint refs = 0;
            return Mach.PortGetRefs(Mach.TaskSelf, name, MachPortRight.Send, &refs) == KernReturn.Success && refs >= refsBefore && refs > 0;
        }
        MachPortType type;
        if (Mach.PortType(Mach.TaskSelf, name, &type) != KernReturn.Success)
        {
            return false;
        }
        return (type & (disposition == MachMsgType.MoveReceive ? MachPortType.Receive : MachPortType.SendOnce)) != 0;
    }
}
