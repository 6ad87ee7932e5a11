using System.Runtime.InteropServices;

namespace MachIpc.Abi;

/// <summary><c>NDR_record_t</c>: MIG's 8-byte data-representation tag (alignment 1).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct NdrRecord
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 8;

    /// <summary><c>mig_vers</c>.</summary>
    public byte MigVersion;
    /// <summary><c>if_vers</c>.</summary>
    public byte InterfaceVersion;
    /// <summary><c>reserved1</c>.</summary>
    public byte Reserved1;
    /// <summary><c>mig_encoding</c>.</summary>
    public byte MigEncoding;
    /// <summary><c>int_rep</c>: 1 = little endian.</summary>
    public byte IntRep;
    /// <summary><c>char_rep</c>.</summary>
    public byte CharRep;
    /// <summary><c>float_rep</c>.</summary>
    public byte FloatRep;
    /// <summary><c>reserved2</c>.</summary>
    public byte Reserved2;

    /// <summary>The kernel's <c>NDR_record</c>: {0,0,0,0,1,0,0,0} (little-endian integers).</summary>
    public static NdrRecord Native => new() { IntRep = 1 };
}
