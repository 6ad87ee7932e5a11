using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// (a) A spawned child checks in with its task port and a send-once reply port (Ladybird's MachPortServer).
[MachMessage(1000, Local = MachMsgType.MakeSendOnce, Trailer = MachTrailerElements.Audit)]
public partial struct TaskPortCheckIn
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor TaskPort;
}
