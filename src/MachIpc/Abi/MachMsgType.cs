namespace MachIpc.Abi;

/// <summary><c>mach_msg_type_name_t</c>: port dispositions on send and right types on receive.</summary>
public enum MachMsgType : byte
{
    /// <summary>No port.</summary>
    None = 0,
    /// <summary><c>MACH_MSG_TYPE_MOVE_RECEIVE</c> (16); received as <see cref="PortReceive"/>.</summary>
    MoveReceive = 16,
    /// <summary><c>MACH_MSG_TYPE_MOVE_SEND</c> (17); received as <see cref="PortSend"/>.</summary>
    MoveSend = 17,
    /// <summary><c>MACH_MSG_TYPE_MOVE_SEND_ONCE</c> (18); received as <see cref="PortSendOnce"/>.</summary>
    MoveSendOnce = 18,
    /// <summary><c>MACH_MSG_TYPE_COPY_SEND</c> (19).</summary>
    CopySend = 19,
    /// <summary><c>MACH_MSG_TYPE_MAKE_SEND</c> (20).</summary>
    MakeSend = 20,
    /// <summary><c>MACH_MSG_TYPE_MAKE_SEND_ONCE</c> (21).</summary>
    MakeSendOnce = 21,
    /// <summary><c>MACH_MSG_TYPE_COPY_RECEIVE</c> (22, not usable by user tasks).</summary>
    CopyReceive = 22,
    /// <summary><c>MACH_MSG_TYPE_DISPOSE_RECEIVE</c> (24).</summary>
    DisposeReceive = 24,
    /// <summary><c>MACH_MSG_TYPE_DISPOSE_SEND</c> (25).</summary>
    DisposeSend = 25,
    /// <summary><c>MACH_MSG_TYPE_DISPOSE_SEND_ONCE</c> (26).</summary>
    DisposeSendOnce = 26,

    /// <summary><c>MACH_MSG_TYPE_PORT_RECEIVE</c>: a received receive right (16).</summary>
    PortReceive = MoveReceive,
    /// <summary><c>MACH_MSG_TYPE_PORT_SEND</c>: a received send right (17).</summary>
    PortSend = MoveSend,
    /// <summary><c>MACH_MSG_TYPE_PORT_SEND_ONCE</c>: a received send-once right (18).</summary>
    PortSendOnce = MoveSendOnce,
}

/// <summary>Helpers over <see cref="MachMsgType"/>.</summary>
public static class MachMsgTypes
{
    /// <summary>The right type a receiver gets for a right sent with <paramref name="disposition"/> (0 for none or invalid).</summary>
    public static MachMsgType ReceivedForm(MachMsgType disposition) => disposition switch
    {
        MachMsgType.MoveReceive => MachMsgType.PortReceive,
        MachMsgType.MoveSend or MachMsgType.CopySend or MachMsgType.MakeSend => MachMsgType.PortSend,
        MachMsgType.MoveSendOnce or MachMsgType.MakeSendOnce => MachMsgType.PortSendOnce,
        _ => MachMsgType.None,
    };

    /// <summary><c>MACH_MSG_TYPE_PORT_ANY_SEND</c>: whether the disposition sends (17..21).</summary>
    public static bool IsAnySend(MachMsgType disposition) => disposition >= MachMsgType.MoveSend && disposition <= MachMsgType.MakeSendOnce;

    /// <summary>Whether the disposition results in a send-once right.</summary>
    public static bool IsSendOnce(MachMsgType disposition) => disposition is MachMsgType.MoveSendOnce or MachMsgType.MakeSendOnce;
}

/// <summary><c>mach_msg_descriptor_type_t</c>.</summary>
public enum MachMsgDescriptorType : byte
{
    /// <summary><c>MACH_MSG_PORT_DESCRIPTOR</c>.</summary>
    Port = 0,
    /// <summary><c>MACH_MSG_OOL_DESCRIPTOR</c>.</summary>
    Ool = 1,
    /// <summary><c>MACH_MSG_OOL_PORTS_DESCRIPTOR</c>.</summary>
    OolPorts = 2,
    /// <summary><c>MACH_MSG_OOL_VOLATILE_DESCRIPTOR</c>.</summary>
    OolVolatile = 3,
    /// <summary><c>MACH_MSG_GUARDED_PORT_DESCRIPTOR</c>.</summary>
    GuardedPort = 4,
}

/// <summary><c>mach_msg_copy_options_t</c> for out-of-line descriptors.</summary>
public enum MachMsgCopy : byte
{
    /// <summary><c>MACH_MSG_PHYSICAL_COPY</c>.</summary>
    Physical = 0,
    /// <summary><c>MACH_MSG_VIRTUAL_COPY</c>.</summary>
    Virtual = 1,
}
