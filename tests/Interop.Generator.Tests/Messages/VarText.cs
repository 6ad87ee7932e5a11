using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// A variable-length message: the sender may send only the first msgh_size bytes (at least the length word), which
// SetPayload sets with the count.
[MachMessage(5000, MinSize = 28)]
public unsafe partial struct VarText
{
    public MachMsgHeader Header;
    [MachCount] public uint Length;
    public fixed byte Text[64];
}

// Two-byte elements after a two-byte count: the payload starts at 26, so short payloads round up to MinSize 28.
[MachMessage(5001, MinSize = 28)]
public unsafe partial struct VarSamples
{
    public MachMsgHeader Header;
    [MachCount] public ushort Count;
    public fixed short Samples[10];
}
