using System;

namespace MachIpc.Abi;

/// <summary>Special port names and port-related constants.</summary>
public static class MachPortName
{
    /// <summary><c>MACH_PORT_NULL</c>.</summary>
    public const uint Null = 0;
    /// <summary><c>MACH_PORT_DEAD</c>.</summary>
    public const uint Dead = 0xffffffff;
    /// <summary><c>MACH_PORT_VALID(name)</c>: neither NULL nor DEAD.</summary>
    public static bool IsValid(uint name) => name != Null && name != Dead;
    /// <summary><c>TASK_BOOTSTRAP_PORT</c> special port index.</summary>
    public const int TaskBootstrapPort = 4;
    /// <summary><c>MACH_PORT_UREFS_MAX</c>.</summary>
    public const uint UrefsMax = 65535;
}

/// <summary><c>mach_port_right_t</c>.</summary>
public enum MachPortRight : uint
{
    /// <summary><c>MACH_PORT_RIGHT_SEND</c>.</summary>
    Send = 0,
    /// <summary><c>MACH_PORT_RIGHT_RECEIVE</c>.</summary>
    Receive = 1,
    /// <summary><c>MACH_PORT_RIGHT_SEND_ONCE</c>.</summary>
    SendOnce = 2,
    /// <summary><c>MACH_PORT_RIGHT_PORT_SET</c>.</summary>
    PortSet = 3,
    /// <summary><c>MACH_PORT_RIGHT_DEAD_NAME</c>.</summary>
    DeadName = 4,
    /// <summary><c>MACH_PORT_RIGHT_NUMBER</c>: one past the last right.</summary>
    Number = 5,
}

/// <summary><c>mach_port_type_t</c> bits (<c>MACH_PORT_TYPE(right)</c> = 1 &lt;&lt; (right + 16)).</summary>
[Flags]
public enum MachPortType : uint
{
    /// <summary><c>MACH_PORT_TYPE_NONE</c>.</summary>
    None = 0,
    /// <summary><c>MACH_PORT_TYPE_SEND</c>.</summary>
    Send = 0x10000,
    /// <summary><c>MACH_PORT_TYPE_RECEIVE</c>.</summary>
    Receive = 0x20000,
    /// <summary><c>MACH_PORT_TYPE_SEND_ONCE</c>.</summary>
    SendOnce = 0x40000,
    /// <summary><c>MACH_PORT_TYPE_PORT_SET</c>.</summary>
    PortSet = 0x80000,
    /// <summary><c>MACH_PORT_TYPE_DEAD_NAME</c>.</summary>
    DeadName = 0x100000,
    /// <summary><c>MACH_PORT_TYPE_SEND_RECEIVE</c>.</summary>
    SendReceive = Send | Receive,
    /// <summary><c>MACH_PORT_TYPE_DNREQUEST</c>: a dead-name request is armed on the name.</summary>
    DnRequest = 0x80000000,
}

/// <summary>Queue limits and <c>mach_port_set_attributes</c> flavors.</summary>
public static class MachPortLimits
{
    /// <summary><c>MACH_PORT_LIMITS_INFO</c> flavor.</summary>
    public const int LimitsInfoFlavor = 1;
    /// <summary><c>MACH_PORT_LIMITS_INFO_COUNT</c>: one natural_t.</summary>
    public const uint LimitsInfoCount = 1;
    /// <summary><c>MACH_PORT_QLIMIT_ZERO</c>.</summary>
    public const uint QLimitZero = 0;
    /// <summary><c>MACH_PORT_QLIMIT_DEFAULT</c> (= BASIC).</summary>
    public const uint QLimitDefault = 5;
    /// <summary><c>MACH_PORT_QLIMIT_SMALL</c>.</summary>
    public const uint QLimitSmall = 16;
    /// <summary><c>MACH_PORT_QLIMIT_MAX</c> (= LARGE).</summary>
    public const uint QLimitMax = 1024;
    /// <summary><c>MACH_PORT_QLIMIT_KERNEL</c>: the limit that even send-once and kernel messages respect.</summary>
    public const uint QLimitKernel = 65534;
}

/// <summary>Size limits the kernel enforces on messages.</summary>
public static class MachMsgLimits
{
    /// <summary><c>IPC_KMSG_MAX_BODY_SPACE</c>: (64 MiB * 3/4) - MAX_TRAILER_SIZE.</summary>
    public const uint MaxBodySpace = 50331648 - 68;
    /// <summary><c>IPC_KMSG_MAX_OOL_PORT_COUNT</c>.</summary>
    public const uint MaxOolPortCount = 16383;
}

/// <summary>Bootstrap (launchd) name limits.</summary>
public static class BootstrapLimits
{
    /// <summary><c>BOOTSTRAP_MAX_NAME_LEN</c>: 128 bytes including the terminating NUL.</summary>
    public const int MaxNameLength = 128;
}
