using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Generator.Tests.Servers;

[MachMessage(4800, Local = MachMsgType.MakeSendOnce)]
public partial struct EchoRequest
{
    public MachMsgHeader Header;
    public long Value;
}

[MachMessage(4801, Local = MachMsgType.MakeSendOnce)]
public partial struct PortRequest
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Port;
    public int Tag;
}

[MachServer]
public partial class EchoServer
{
    public int Handled;

    private void OnPort(MachReceived<PortRequest> request) => Handled++;

    private void OnEcho(MachReceived<EchoRequest> request) => Handled++;

    // Not a handler: no MachReceived<T> parameter.
    private void Helper(int value) => Handled += value;
}
