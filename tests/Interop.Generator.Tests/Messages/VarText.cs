using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// A variable-length message: the sender may send only the first msgh_size bytes (at least the length word).
[MachMessage(5000, MinSize = 28)]
public unsafe partial struct VarText
{
    public MachMsgHeader Header;
    public uint Length;
    public fixed byte Text[64];
}
