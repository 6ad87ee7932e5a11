using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Tests.Server;

[MachMessage(5000, Local = MachMsgType.MakeSendOnce)]
public partial struct EchoRequest
{
    public MachMsgHeader Header;
    public int Value;
}

[MachMessage(5100, Remote = MachMsgType.MoveSendOnce)]
public partial struct EchoReply
{
    public MachMsgHeader Header;
    public int Value;
    public int SenderPid;
}

[MachMessage(5001, Local = MachMsgType.MakeSendOnce)]
public partial struct CarriesPort
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Port;
}

/// <summary>A request id no server below declares.</summary>
[MachMessage(5999, Local = MachMsgType.MakeSendOnce)]
public partial struct Unknown
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Port;
}

/// <summary>Large enough to make the server grow its buffer.</summary>
[MachMessage(5002)]
public unsafe partial struct Bulk
{
    public MachMsgHeader Header;
    public fixed byte Data[4096];
}
