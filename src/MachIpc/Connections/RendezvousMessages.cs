using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Connections;

// The rendezvous protocols' messages, declared like any user's. Ids are in 0x4D490000.. ("MI"), a range MachIpc
// reserves for its own protocols. Internal: both ends are this library.
//
// Pattern 1 (HelperRendezvous): the helper checks in with nothing but a send-once reply port; it trusts the
// answer (its channel) only when the audit token of the reply names its parent. Only then, and only if it was
// asked to, it sends its task port in a second request, which the parent accepts only from the process that
// checked in and only when pid_for_task says the right is that process's task port.

/// <summary>A helper announces itself. The parent learns who it is from the audit trailer, never from the message.</summary>
[MachMessage(0x4D490001, Local = MachMsgType.MakeSendOnce, Trailer = MachTrailerElements.Audit)]
internal partial struct HelperCheckInRequest
{
    /// <summary><see cref="Options"/>: the helper will send its task port once it has verified the answer.</summary>
    public const uint TaskPortFollows = 1;

    public MachMsgHeader Header;
    /// <summary>Flags; unknown bits are refused.</summary>
    public uint Options;
}

/// <summary>The parent's answer: the helper's end of its pre-created channel.</summary>
[MachMessage(0x4D490002, Remote = MachMsgType.MoveSendOnce, Trailer = MachTrailerElements.Audit)]
internal partial struct HelperCheckInReply
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    /// <summary>The receive right for messages from the parent.</summary>
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor ChannelReceive;
    /// <summary>A send right to the parent's receive right for this helper.</summary>
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor ChannelSend;
}

/// <summary>The helper's task port, sent (opt-in) only to a parent whose answer it has verified.</summary>
[MachMessage(0x4D490003, Local = MachMsgType.MakeSendOnce, Trailer = MachTrailerElements.Audit)]
internal partial struct HelperTaskPortRequest
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor TaskPort;
}

/// <summary>The parent verified and kept the task port (a refusal comes back as a MIG error reply).</summary>
[MachMessage(0x4D490004, Remote = MachMsgType.MoveSendOnce, Trailer = MachTrailerElements.Audit)]
internal partial struct HelperTaskPortReply
{
    public MachMsgHeader Header;
    public int Reserved;
}

/// <summary>
/// Pattern 2 (SocketRendezvous): the first message on each side's checked-in service. It must come from the
/// socket's peer (audit token pid = the socket's peer pid) and carries the send right the channel then uses.
/// </summary>
[MachMessage(0x4D490011, Trailer = MachTrailerElements.Audit)]
internal partial struct SocketRendezvousHello
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    /// <summary>A send right to the sender's receive right for this channel.</summary>
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Channel;
}
