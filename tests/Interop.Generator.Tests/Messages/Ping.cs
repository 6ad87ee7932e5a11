using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// (e) A header-only message.
[MachMessage(4000, Local = MachMsgType.MakeSendOnce)]
public partial struct Ping
{
    public MachMsgHeader Header;
}
