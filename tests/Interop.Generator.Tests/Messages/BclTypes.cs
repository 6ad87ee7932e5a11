using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// The BCL structs whose layout is part of their contract (their reference assemblies hide their fields), each
// after a byte so that a wrong size or alignment moves what follows.
[MachMessage(7200)]
public partial struct BclPack4
{
    public MachMsgHeader Header;
    public byte T1;
    public Guid Id;
    public byte T2;
    public Half Ratio;
    public byte T3;
    public Int128 Big;
    public byte T4;
    public UInt128 Unsigned;
    public byte T5;
    public NFloat Scale;
    public int X;
}

[MachMessage(7201, Layout = MachMessageLayout.Natural)]
public partial struct BclNatural
{
    public MachMsgHeader Header;
    public byte T1;
    public Guid Id;
    public byte T2;
    public Half Ratio;
    public byte T3;
    public Int128 Big;
    public byte T4;
    public UInt128 Unsigned;
    public byte T5;
    public NFloat Scale;
    public int X;
}
