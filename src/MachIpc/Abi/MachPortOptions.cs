using System;
using System.Runtime.InteropServices;

namespace MachIpc.Abi;

/// <summary><c>MPO_*</c>: the <c>flags</c> of <see cref="MachPortOptions"/> (<c>mach/port.h</c>).</summary>
[Flags]
public enum MachPortConstructFlags : uint
{
    /// <summary>No option.</summary>
    None = 0,
    /// <summary><c>MPO_CONTEXT_AS_GUARD</c>: guard the port with the context value.</summary>
    ContextAsGuard = 0x01,
    /// <summary><c>MPO_QLIMIT</c>: set the queue limit from <see cref="MachPortOptions.QLimit"/>.</summary>
    QLimit = 0x02,
    /// <summary><c>MPO_TEMPOWNER</c>.</summary>
    TempOwner = 0x04,
    /// <summary><c>MPO_IMPORTANCE_RECEIVER</c>.</summary>
    ImportanceReceiver = 0x08,
    /// <summary><c>MPO_INSERT_SEND_RIGHT</c>: also make a send right under the same name.</summary>
    InsertSendRight = 0x10,
    /// <summary><c>MPO_STRICT</c>: strict guard.</summary>
    Strict = 0x20,
    /// <summary><c>MPO_DENAP_RECEIVER</c>.</summary>
    DenapReceiver = 0x40,
    /// <summary><c>MPO_IMMOVABLE_RECEIVE</c>: the receive right cannot be moved (guarded).</summary>
    ImmovableReceive = 0x80,
    /// <summary><c>MPO_FILTER_MSG</c>.</summary>
    FilterMsg = 0x100,
    /// <summary><c>MPO_TG_BLOCK_TRACKING</c> (window server only).</summary>
    TgBlockTracking = 0x200,
    /// <summary><c>MPO_SERVICE_PORT</c> (launchd only).</summary>
    ServicePort = 0x400,
    /// <summary><c>MPO_CONNECTION_PORT</c>.</summary>
    ConnectionPort = 0x800,
    /// <summary><c>MPO_REPLY_PORT</c>: a reply port with enforced reply-port semantics.</summary>
    ReplyPort = 0x1000,
    /// <summary><c>MPO_ENFORCE_REPLY_PORT_SEMANTICS</c>.</summary>
    EnforceReplyPortSemantics = 0x2000,
    /// <summary>
    /// <c>MPO_PROVISIONAL_REPLY_PORT</c> (macOS 13+): a reply port whose reply-port semantics are enforced only
    /// where the system enforces them (hardened processes); elsewhere it behaves as an ordinary port.
    /// </summary>
    ProvisionalReplyPort = 0x4000,
    /// <summary><c>MPO_EXCEPTION_PORT</c>: a hardened exception port (immovable).</summary>
    ExceptionPort = 0x8000,
}

/// <summary>
/// <c>mach_port_options_t</c>, the argument of <c>mach_port_construct</c>: 24 bytes, 8-aligned (the union holds
/// a <c>uint64_t reserved[2]</c>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = SizeOf)]
public struct MachPortOptions
{
    /// <summary><c>sizeof(mach_port_options_t)</c>.</summary>
    public const int SizeOf = 24;

    /// <summary><c>flags</c>.</summary>
    [FieldOffset(0)] public MachPortConstructFlags Flags;
    /// <summary><c>mpl.mpl_qlimit</c>, used with <see cref="MachPortConstructFlags.QLimit"/>.</summary>
    [FieldOffset(4)] public uint QLimit;
    /// <summary><c>reserved[0]</c> of the union (work interval / service port fields overlay it).</summary>
    [FieldOffset(8)] public ulong Reserved0;
    /// <summary><c>reserved[1]</c> of the union.</summary>
    [FieldOffset(16)] public ulong Reserved1;
}
