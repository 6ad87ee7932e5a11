using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Generator.Tests.ExternalTypes;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

/// <summary>5 bytes, 1-byte aligned.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct LocalPacked1
{
    public byte A;
    public int B;
}

/// <summary>10 bytes, 2-byte aligned.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2)]
public struct LocalPacked2
{
    public byte A;
    public long B;
}

/// <summary>16 bytes for one int.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct LocalSized16
{
    public int A;
}

/// <summary>Size below the fields' 12 bytes: the CLR keeps 12 bytes, 8-byte aligned and unpadded.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct LocalShortSize
{
    public long A;
    public int B;
}

// Nested structs with Pack and Size, declared here (where [StructLayout] is an attribute) and in another assembly
// (where it is the metadata layout row). Each is followed by a byte, so a wrong size or alignment moves it.
[MachMessage(7100)]
public partial struct NestedPack4
{
    public MachMsgHeader Header;
    public LocalPacked1 LocalP1;
    public byte X1;
    public LocalPacked2 LocalP2;
    public byte X2;
    public LocalSized16 LocalS16;
    public byte X3;
    public LocalShortSize LocalShort;
    public byte X4;
    public ExternalPacked1 ExtP1;
    public byte X5;
    public ExternalPacked2 ExtP2;
    public byte X6;
    public ExternalSized16 ExtS16;
    public byte X7;
    public ExternalShortSize ExtShort;
    public byte X8;
    public ExternalNatural ExtNatural;
    public byte X9;
}

// The same without #pragma pack. The short-Size structs are left out: no C struct has their layout when their
// 8-byte alignment shows (MACHIPC017).
[MachMessage(7101, Layout = MachMessageLayout.Natural)]
public partial struct NestedNatural
{
    public MachMsgHeader Header;
    public LocalPacked1 LocalP1;
    public byte X1;
    public LocalPacked2 LocalP2;
    public byte X2;
    public LocalSized16 LocalS16;
    public byte X3;
    public ExternalPacked1 ExtP1;
    public byte X5;
    public ExternalPacked2 ExtP2;
    public byte X6;
    public ExternalSized16 ExtS16;
    public byte X7;
    public ExternalNatural ExtNatural;
    public byte X9;
}
