using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

public enum SurfaceState
{
    Idle = 0,
    Busy = 1,
}

public struct Point64
{
    public int X;
    public long Y;
}

// Inline data of every shape the generator accepts: bytes, shorts, an enum, a nested struct, a fixed buffer.
[MachMessage(6000, Layout = MachMessageLayout.Natural, Trailer = MachTrailerElements.Context)]
public unsafe partial struct MixedNatural
{
    public MachMsgHeader Header;
    public byte Kind;
    public ushort Flags;
    public SurfaceState State;
    public Point64 Origin;
    public byte Tail;
    public fixed ushort Name[3];
}

[MachMessage(6001, Layout = MachMessageLayout.Pack4, Trailer = MachTrailerElements.Av)]
public unsafe partial struct MixedPack4
{
    public MachMsgHeader Header;
    public byte Kind;
    public ushort Flags;
    public SurfaceState State;
    public Point64 Origin;
    public byte Tail;
    public fixed ushort Name[3];
}
