using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// (b) The parent's reply over the send-once right: a receive right and a send right of a pre-created port pair.
[MachMessage(1100, Remote = MachMsgType.MoveSendOnce, Trailer = MachTrailerElements.Seqno)]
public partial struct PortPairReply
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor ReceivePort;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor SendPort;
}
