using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Connections;

// The rendezvous protocol's messages, declared like any user's. Ids are in 0x4D490000.. ("MI"), a range
// MachIpc reserves for its own protocols.

/// <summary>A helper announces itself: its task port (<c>COPY_SEND</c>) and a send-once reply port. The parent learns the helper's pid from the audit trailer.</summary>
[MachMessage(0x4D490001, Local = MachMsgType.MakeSendOnce, Trailer = MachTrailerElements.Audit)]
public partial struct HelperCheckInRequest
{
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The body.</summary>
    public MachMsgBody Body;
    /// <summary>The helper's task port.</summary>
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor TaskPort;
}

/// <summary>The parent's answer: the helper's end of a pre-created channel.</summary>
[MachMessage(0x4D490002, Remote = MachMsgType.MoveSendOnce, Trailer = MachTrailerElements.Audit)]
public partial struct HelperCheckInReply
{
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The body.</summary>
    public MachMsgBody Body;
    /// <summary>The receive right for messages from the parent.</summary>
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor ChannelReceive;
    /// <summary>A send right to the parent's receive right for this helper.</summary>
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor ChannelSend;
}
