using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// (c) Two port descriptors followed by a 64-bit id and two 32-bit ids, in both packings: under pack(4) the
// 64-bit id follows the descriptors at 52; naturally aligned it moves to 56.
[MachMessage(2000, Layout = MachMessageLayout.Pack4)]
public partial struct SurfacePortsPack4
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Surface;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Metadata;
    public ulong SurfaceId;
    public uint Width;
    public uint Height;
}

[MachMessage(2001, Layout = MachMessageLayout.Natural)]
public partial struct SurfacePortsNatural
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Surface;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Metadata;
    public ulong SurfaceId;
    public uint Width;
    public uint Height;
}
