using System.Runtime.InteropServices;

namespace MachIpc.Abi;

/// <summary>Kernel notification message ids (<c>mach/notify.h</c>, subsystem base 64).</summary>
public static class MachNotify
{
    /// <summary>First id of the notification subsystem.</summary>
    public const int Base = 64;
    /// <summary><c>MACH_NOTIFY_PORT_DELETED</c>.</summary>
    public const int PortDeleted = 65;
    /// <summary><c>MACH_NOTIFY_SEND_POSSIBLE</c>.</summary>
    public const int SendPossible = 66;
    /// <summary><c>MACH_NOTIFY_PORT_DESTROYED</c>.</summary>
    public const int PortDestroyed = 69;
    /// <summary><c>MACH_NOTIFY_NO_SENDERS</c>.</summary>
    public const int NoSenders = 70;
    /// <summary><c>MACH_NOTIFY_SEND_ONCE</c>.</summary>
    public const int SendOnce = 71;
    /// <summary><c>MACH_NOTIFY_DEAD_NAME</c>.</summary>
    public const int DeadName = 72;
    /// <summary>Lowest id reserved for kernel notifications; user protocols must avoid 64..72.</summary>
    public const int ReservedFirst = 64;
    /// <summary>Highest id reserved for kernel notifications.</summary>
    public const int ReservedLast = 72;

    /// <summary>Whether <paramref name="msgId"/> falls in the kernel notification range 64..72.</summary>
    public static bool IsReserved(int msgId) => msgId >= ReservedFirst && msgId <= ReservedLast;
}

/// <summary><c>mach_port_deleted_notification_t</c> (id 65) and, with the same layout, dead-name (72) and send-possible (66).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachPortNameNotification
{
    /// <summary>Size as sent (<c>msgh_size</c>).</summary>
    public const int SizeOf = 36;
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The NDR record.</summary>
    public NdrRecord Ndr;
    /// <summary><c>not_port</c>: the requester's name for the port.</summary>
    public uint NotPort;
}

/// <summary><c>mach_no_senders_notification_t</c> (id 70).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachNoSendersNotification
{
    /// <summary>Size as sent (<c>msgh_size</c>).</summary>
    public const int SizeOf = 36;
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The NDR record.</summary>
    public NdrRecord Ndr;
    /// <summary><c>not_count</c>: the port's make-send count when the last send right went away.</summary>
    public uint NotCount;
}

/// <summary><c>mach_send_once_notification_t</c> (id 71): header only.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachSendOnceNotification
{
    /// <summary>Size as sent (<c>msgh_size</c>).</summary>
    public const int SizeOf = 24;
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
}

/// <summary><c>mach_port_destroyed_notification_t</c> (id 69): carries the receive right back.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MachPortDestroyedNotification
{
    /// <summary>Size as sent (<c>msgh_size</c>).</summary>
    public const int SizeOf = 40;
    /// <summary>The header.</summary>
    public MachMsgHeader Header;
    /// <summary>The body (one descriptor).</summary>
    public MachMsgBody Body;
    /// <summary>The receive right (disposition 16).</summary>
    public MachMsgPortDescriptor NotPort;
}
