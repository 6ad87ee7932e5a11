using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Samples.HelperPool;

// The helper <-> parent protocol, declared once and shared by both sides. The generator turns each struct
// into its exact C layout, constants, Prepare/Send/Receive and a validator that never trusts the sender.

/// <summary>Helper asks the parent to compute something; replies come back on a send-once right.</summary>
[MachMessage(1000, Local = MachMsgType.MakeSendOnce)]
public partial struct ComputeRequest
{
    public MachMsgHeader Header;
    public long Operand;
    public int Sequence;
}

[MachMessage(1100, Remote = MachMsgType.MoveSendOnce)]
public partial struct ComputeReply
{
    public MachMsgHeader Header;
    public long Result;
    public int Sequence;
    /// <summary>The pid the parent saw in the request's audit trailer.</summary>
    public int SeenPid;
}

/// <summary>Helper hands the parent an open file as a fileport.</summary>
[MachMessage(1001, Local = MachMsgType.MakeSendOnce)]
public partial struct FileRequest
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor File;
}

[MachMessage(1101, Remote = MachMsgType.MoveSendOnce)]
public partial struct FileReply
{
    public MachMsgHeader Header;
    public int BytesRead;
    public unsafe fixed byte FirstBytes[64];
}
