using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// (d) Out-of-line data with declared bounds, plus inline flags.
[MachMessage(3000, Trailer = MachTrailerElements.Sender)]
public partial struct OolData
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachOol(MinSize = 1, MaxSize = 1 << 20, Copy = MachMsgCopy.Virtual, Deallocate = true)] public MachMsgOolDescriptor Data;
    public int Flags;
}

// An out-of-line array of send rights.
[MachMessage(3100, Trailer = MachTrailerElements.Null)]
public partial struct OolPortArray
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachOolPorts(MachMsgType.CopySend, MaxCount = 8)] public MachMsgOolPortsDescriptor Ports;
}

// Natural layout with an OOL descriptor: the descriptor keeps the 4-byte alignment <mach/message.h> gives it (the
// kernel reads descriptors back to back after the body), the following u64 is naturally aligned.
[MachMessage(3200, Layout = MachMessageLayout.Natural)]
public partial struct OolNatural
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachOol(MaxSize = 4096)] public MachMsgOolDescriptor Data;
    public ulong Cookie;
}
