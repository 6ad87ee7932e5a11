using System.Runtime.InteropServices;

namespace MachIpc.Abi;

// Every user descriptor ends with its type byte at offset 11, which is how the kernel (and our
// validators) tell them apart before trusting anything else in them. Sizes are the 64-bit user
// sizes (ikm_user_desc_size): port 12, OOL / OOL-ports / guarded 16.

/// <summary><c>mach_msg_type_descriptor_t</c>: the common shape used to read a descriptor's type byte.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgTypeDescriptor
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 12;
    /// <summary>Offset of the type byte.</summary>
    public const int TypeOffset = 11;

    /// <summary>Unused.</summary>
    public uint Pad1;
    /// <summary>Unused.</summary>
    public uint Pad2;
    /// <summary>Unused.</summary>
    public ushort Pad3;
    /// <summary>Unused.</summary>
    public byte Pad4;
    /// <summary>The descriptor type.</summary>
    public MachMsgDescriptorType Type;
}

/// <summary><c>mach_msg_port_descriptor_t</c>: one port right carried in a complex message.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgPortDescriptor
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 12;

    /// <summary>The port name (sender's name on send, receiver's name on receive).</summary>
    public uint Name;
    /// <summary>Unused.</summary>
    public uint Pad1;
    /// <summary>Unused.</summary>
    public ushort Pad2;
    /// <summary>The disposition on send; the received right type (16/17/18) on receive.</summary>
    public MachMsgType Disposition;
    /// <summary>Always <see cref="MachMsgDescriptorType.Port"/>.</summary>
    public MachMsgDescriptorType Type;
}

/// <summary><c>mach_msg_ool_descriptor_t</c> (64-bit): out-of-line memory.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgOolDescriptor
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 16;

    /// <summary>Address of the region (sender's on send, a new region of the receiver's on receive).</summary>
    public ulong Address;
    /// <summary>Whether the sender's region is deallocated by the send (byte, TRUE = 1).</summary>
    public byte Deallocate;
    /// <summary>The copy strategy (<see cref="MachMsgCopy"/>).</summary>
    public MachMsgCopy Copy;
    /// <summary>Unused.</summary>
    public byte Pad1;
    /// <summary>Always <see cref="MachMsgDescriptorType.Ool"/> or <see cref="MachMsgDescriptorType.OolVolatile"/>.</summary>
    public MachMsgDescriptorType Type;
    /// <summary>Size of the region in bytes.</summary>
    public uint Size;
}

/// <summary><c>mach_msg_ool_ports_descriptor_t</c> (64-bit): an out-of-line array of port names.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgOolPortsDescriptor
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 16;

    /// <summary>Address of the name array.</summary>
    public ulong Address;
    /// <summary>Whether the sender's array is deallocated by the send.</summary>
    public byte Deallocate;
    /// <summary>The copy strategy (<see cref="MachMsgCopy"/>).</summary>
    public MachMsgCopy Copy;
    /// <summary>The disposition applied to every name on send; the received right type on receive.</summary>
    public MachMsgType Disposition;
    /// <summary>Always <see cref="MachMsgDescriptorType.OolPorts"/>.</summary>
    public MachMsgDescriptorType Type;
    /// <summary>Number of names in the array.</summary>
    public uint Count;
}

/// <summary><c>mach_msg_guarded_port_descriptor_t</c> (64-bit): a receive right moved with a guard.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachMsgGuardedPortDescriptor
{
    /// <summary>Size in bytes.</summary>
    public const int SizeOf = 16;

    /// <summary>The guard context.</summary>
    public ulong Context;
    /// <summary>Guard flags.</summary>
    public ushort Flags;
    /// <summary>The disposition (must be MOVE_RECEIVE on send).</summary>
    public MachMsgType Disposition;
    /// <summary>Always <see cref="MachMsgDescriptorType.GuardedPort"/>.</summary>
    public MachMsgDescriptorType Type;
    /// <summary>The port name.</summary>
    public uint Name;
}
