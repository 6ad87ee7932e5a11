using System.Runtime.InteropServices;

namespace MachIpc.Generator.Tests.ExternalTypes;

/// <summary>5 bytes, 1-byte aligned: <c>#pragma pack(1)</c> in C.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct ExternalPacked1
{
    public byte A;
    public int B;
}

/// <summary>10 bytes, 2-byte aligned: <c>#pragma pack(2)</c> in C.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2)]
public struct ExternalPacked2
{
    public byte A;
    public long B;
}

/// <summary>16 bytes for one int: <c>Size</c> is a minimum; a C mirror spells the tail bytes out.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct ExternalSized16
{
    public int A;
}

/// <summary>
/// <c>Size = 8</c> is below the 12 bytes of fields: the CLR keeps 12 bytes with 8-byte alignment, unpadded. Only a
/// message packed to 4 can hold it the way C does (a <c>#pragma pack(4)</c> mirror of 12 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct ExternalShortSize
{
    public long A;
    public int B;
}

/// <summary>No <c>[StructLayout]</c>: natural alignment, 16 bytes.</summary>
public struct ExternalNatural
{
    public int A;
    public long B;
}
