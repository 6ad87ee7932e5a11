using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.ProcessHelper;

// Shared by the helper and the tests (linked into MachIpc.Tests).

[MachMessage(5300, Local = MachMsgType.MakeSendOnce)]
public partial struct XPing
{
    public MachMsgHeader Header;
    public long Operand;
    public int Sequence;
}

[MachMessage(5400, Remote = MachMsgType.MoveSendOnce)]
public partial struct XPong
{
    public MachMsgHeader Header;
    public long Result;
    public int Sequence;
    public int SeenPid;
}

[MachMessage(5301, Local = MachMsgType.MakeSendOnce)]
public partial struct XFile
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor File;
}

[MachMessage(5401, Remote = MachMsgType.MoveSendOnce)]
public partial struct XFileReply
{
    public MachMsgHeader Header;
    public int BytesRead;
    public long Checksum;
    public long Reserved; // keeps msgh_size off MIG's 36-byte error-reply size
}

/// <summary>A message with one out-of-line region, built by hand (msgh_id 5302 request, 5402 reply); packed as in C.</summary>
[StructLayout(LayoutKind.Explicit, Size = 44)]
public struct XOol
{
    public const int RequestId = 5302;
    public const int ReplyId = 5402;
    [FieldOffset(0)] public MachMsgHeader Header;
    [FieldOffset(24)] public MachMsgBody Body;
    [FieldOffset(28)] public MachMsgOolDescriptor Data;
}
