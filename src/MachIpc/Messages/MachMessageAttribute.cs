using System;
using MachIpc.Abi;

namespace MachIpc.Messages;

/// <summary>How the generator lays out a message's fields.</summary>
public enum MachMessageLayout
{
    /// <summary><c>#pragma pack(4)</c>, as the Mach headers and MIG declare messages (the default).</summary>
    Pack4 = 0,
    /// <summary>Natural C alignment, as a C compiler lays out the same struct without <c>#pragma pack</c>.</summary>
    Natural = 1,
}

/// <summary>
/// Declares a <c>partial struct</c> as a Mach message. The struct starts with a <see cref="MachMsgHeader"/>,
/// then (for complex messages) a <see cref="MachMsgBody"/> and its descriptors, then inline data. The
/// MachIpc generator emits its exact C layout, constants, send preparation, receive validation and stubs.
/// </summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class MachMessageAttribute : Attribute
{
    /// <summary>Declares a message with <c>msgh_id</c> = <paramref name="id"/>.</summary>
    public MachMessageAttribute(int id) => Id = id;

    /// <summary>The <c>msgh_id</c>. Must be outside the kernel notification range 64..72, and unique among the messages one server handles.</summary>
    public int Id { get; }

    /// <summary>Disposition of the destination (remote) port on send. Default <see cref="MachMsgType.CopySend"/>.</summary>
    public MachMsgType Remote { get; set; } = MachMsgType.CopySend;

    /// <summary>Disposition of the reply (local) port on send, or <see cref="MachMsgType.None"/> for no reply port.</summary>
    public MachMsgType Local { get; set; } = MachMsgType.None;

    /// <summary>The trailer the receiver asks the kernel for. Default <see cref="MachTrailerElements.Audit"/>.</summary>
    public MachTrailerElements Trailer { get; set; } = MachTrailerElements.Audit;

    /// <summary>Field layout. Default <see cref="MachMessageLayout.Pack4"/>.</summary>
    public MachMessageLayout Layout { get; set; } = MachMessageLayout.Pack4;

    /// <summary>
    /// For variable-length messages: the smallest acceptable <c>msgh_size</c>. 0 (the default) means the
    /// message has a fixed size and <c>msgh_size</c> must equal its send size exactly.
    /// </summary>
    public int MinSize { get; set; }
}

/// <summary>Declares the disposition of a <see cref="MachMsgPortDescriptor"/> field.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class MachPortAttribute : Attribute
{
    /// <summary>Declares the port's disposition on send; the receiver expects its received form.</summary>
    public MachPortAttribute(MachMsgType disposition) => Disposition = disposition;

    /// <summary>The disposition on send.</summary>
    public MachMsgType Disposition { get; }
}

/// <summary>Declares the bounds of a <see cref="MachMsgOolDescriptor"/> field.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class MachOolAttribute : Attribute
{
    /// <summary>The largest region a receiver accepts, in bytes.</summary>
    public int MaxSize { get; set; } = int.MaxValue;

    /// <summary>The smallest region a receiver accepts, in bytes.</summary>
    public int MinSize { get; set; }

    /// <summary>The copy option used on send.</summary>
    public MachMsgCopy Copy { get; set; } = MachMsgCopy.Virtual;

    /// <summary>Whether the send deallocates the sender's region.</summary>
    public bool Deallocate { get; set; }
}

/// <summary>Declares the disposition and bounds of a <see cref="MachMsgOolPortsDescriptor"/> field.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class MachOolPortsAttribute : Attribute
{
    /// <summary>Declares the disposition applied to every name in the array.</summary>
    public MachOolPortsAttribute(MachMsgType disposition) => Disposition = disposition;

    /// <summary>The disposition on send.</summary>
    public MachMsgType Disposition { get; }

    /// <summary>The largest number of names a receiver accepts.</summary>
    public int MaxCount { get; set; } = 16383;

    /// <summary>The copy option used on send (MIG uses physical copy for port arrays).</summary>
    public MachMsgCopy Copy { get; set; } = MachMsgCopy.Physical;

    /// <summary>Whether the send deallocates the sender's name array.</summary>
    public bool Deallocate { get; set; }
}

/// <summary>
/// Marks the integer field that holds how many elements of a variable-length message's trailing fixed-size buffer
/// were sent: the generated <c>SetPayload</c> sets it with the payload's length. It must come before the buffer and
/// within <see cref="MachMessageAttribute.MinSize"/> (a receiver always gets it), and be wide enough for the buffer's length.
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class MachCountAttribute : Attribute
{
}
