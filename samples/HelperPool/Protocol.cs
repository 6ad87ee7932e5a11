using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Samples.HelperPool;

// The helper <-> parent protocol, declared once and shared by both sides (and by MachIpc's cross-process tests).
// The generator turns each struct into its exact C layout, constants, Prepare/Send/Receive and a validator that
// never trusts the sender. Replies use the request's id + 100, as MIG does.

/// <summary>Helper asks the parent to compute something; replies come back on a send-once right.</summary>
[MachMessage(2000, Local = MachMsgType.MakeSendOnce)]
public partial struct ComputeRequest
{
    public MachMsgHeader Header;
    public long Operand;
    public int Sequence;
}

[MachMessage(2100, Remote = MachMsgType.MoveSendOnce)]
public partial struct ComputeReply
{
    public MachMsgHeader Header;
    public long Result;
    public int Sequence;
    /// <summary>The pid the parent saw in the request's audit trailer.</summary>
    public int SeenPid;
}

/// <summary>Helper hands the parent an open file as a fileport.</summary>
[MachMessage(2001, Local = MachMsgType.MakeSendOnce)]
public partial struct FileRequest
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor File;
}

[MachMessage(2101, Remote = MachMsgType.MoveSendOnce)]
public partial struct FileReply
{
    public MachMsgHeader Header;
    public int BytesRead;
    public unsafe fixed byte FirstBytes[64];
}
