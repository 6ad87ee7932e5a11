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

/// <summary>One of each: a send, a send-once and a receive right, a region and a port array, with a reply port.</summary>
[MachMessage(5010, Local = MachMsgType.MakeSendOnce)]
public partial struct CarriesAll
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor SendPort;
    [MachPort(MachMsgType.MakeSendOnce)] public MachMsgPortDescriptor SendOncePort;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor ReceivePort;
    [MachOol(MaxSize = 4096, Copy = MachMsgCopy.Physical)] public MachMsgOolDescriptor Data;
    [MachOolPorts(MachMsgType.CopySend, MaxCount = 4)] public MachMsgOolPortsDescriptor Ports;
}

/// <summary>A variable-length request: only the first msgh_size bytes (at least the length word) are sent.</summary>
[MachMessage(5011, Local = MachMsgType.MakeSendOnce, MinSize = 28)]
public unsafe partial struct VarEcho
{
    public MachMsgHeader Header;
    public uint Length;
    public fixed byte Text[256];
}

/// <summary>A variable-length request with a port descriptor before its data.</summary>
[MachMessage(5012, Local = MachMsgType.MakeSendOnce, MinSize = 48)]
public unsafe partial struct VarWithPort
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Port;
    public ulong Cookie;
    public fixed byte Data[256];
}

/// <summary>Carries a copy of a send right the sender holds.</summary>
[MachMessage(5013, Local = MachMsgType.MakeSendOnce)]
public partial struct CarriesSend
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Port;
}
