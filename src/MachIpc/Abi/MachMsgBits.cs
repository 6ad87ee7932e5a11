namespace MachIpc.Abi;

/// <summary>Compose and take apart <c>msgh_bits</c> (the <c>MACH_MSGH_BITS*</c> macros).</summary>
public static class MachMsgBits
{
    /// <summary><c>MACH_MSGH_BITS_REMOTE_MASK</c>.</summary>
    public const uint RemoteMask = 0x0000001f;
    /// <summary><c>MACH_MSGH_BITS_LOCAL_MASK</c>.</summary>
    public const uint LocalMask = 0x00001f00;
    /// <summary><c>MACH_MSGH_BITS_VOUCHER_MASK</c>.</summary>
    public const uint VoucherMask = 0x001f0000;
    /// <summary><c>MACH_MSGH_BITS_PORTS_MASK</c>.</summary>
    public const uint PortsMask = RemoteMask | LocalMask | VoucherMask;
    /// <summary><c>MACH_MSGH_BITS_COMPLEX</c>: a body with descriptors follows the header.</summary>
    public const uint Complex = 0x80000000;
    /// <summary><c>MACH_MSGH_BITS_USER</c>: the bits a user send may carry; the kernel clears the rest.</summary>
    public const uint User = 0x801f1f1f;

    /// <summary><c>MACH_MSGH_BITS(remote, local)</c>.</summary>
    public static uint Make(MachMsgType remote, MachMsgType local) => (uint)remote | ((uint)local << 8);

    /// <summary><c>MACH_MSGH_BITS_SET(remote, local, voucher, other)</c>.</summary>
    public static uint Make(MachMsgType remote, MachMsgType local, MachMsgType voucher, bool complex) =>
        (uint)remote | ((uint)local << 8) | ((uint)voucher << 16) | (complex ? Complex : 0u);

    /// <summary><c>MACH_MSGH_BITS_REMOTE(bits)</c>.</summary>
    public static MachMsgType Remote(uint bits) => (MachMsgType)(bits & RemoteMask);
    /// <summary><c>MACH_MSGH_BITS_LOCAL(bits)</c>.</summary>
    public static MachMsgType Local(uint bits) => (MachMsgType)((bits & LocalMask) >> 8);
    /// <summary><c>MACH_MSGH_BITS_VOUCHER(bits)</c>.</summary>
    public static MachMsgType Voucher(uint bits) => (MachMsgType)((bits & VoucherMask) >> 16);
    /// <summary>Whether <see cref="Complex"/> is set.</summary>
    public static bool IsComplex(uint bits) => (bits & Complex) != 0;
}
