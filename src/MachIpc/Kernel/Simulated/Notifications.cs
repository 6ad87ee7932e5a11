using System;
using System.Buffers.Binary;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// ipc_notify.c: kernel-generated messages. Each goes out over the send-once right the request held, with
// MACH_SEND_ALWAYS (past qlimit, A34) and the kernel's audit and security tokens (B27, D10). As in XNU, a
// notification is sent once the port whose change caused it is unlocked (Deferred.cs).
internal sealed unsafe partial class SimulatedKernel
{
    private static KMsg RentNotification(uint size, int id, uint otherBits = 0)
    {
        KMsg m = KMsg.Rent(size);
        m.Bytes.Clear();
        m.Id = id;
        m.OtherBits = otherBits;
        m.Audit = default;
        m.Security = SecurityToken.Kernel;
        m.Reply = default;
        return m;
    }

    private static void WriteNdrAndWord(KMsg m, uint word)
    {
        *(NdrRecord*)(m.Data + MachMsgHeader.SizeOf) = NdrRecord.Native;
        BinaryPrimitives.WriteUInt32LittleEndian(m.Bytes.Slice(MachMsgHeader.SizeOf + NdrRecord.SizeOf), word);
    }

    /// <summary>
    /// Sends a kernel message over the send-once right to <paramref name="dest"/> that the caller held, with no
    /// lock held (a deferred notification). A port-destroyed notification's receive right is now in transit
    /// towards <paramref name="dest"/> (A26) — unless that would be circular: the notify port is the destroyed
    /// port itself, or a port queued (in transit) inside it. XNU's ipc_kmsg_copyin_port_from_kernel
    /// (osfmk/ipc/ipc_kmsg.c) then marks the message MACH_MSGH_BITS_CIRCULAR and ipc_kmsg_send destroys it
    /// (IPC_KMSG_DESTROY_ALL) and returns success: the receive right dies with the message, so the port is
    /// destroyed after all instead of living on in a message queued on itself, which nothing could ever receive.
    /// </summary>
    private void SendKernelMessage(IpcPort dest, KMsg m)
    {
        if (m.DescCount > 0 && m.Descs[0].Right is { Type: MachMsgType.PortReceive, Port: IpcPort moving })
        {
            bool circular;
            using (_transitLock.EnterScope())
            {
                circular = IsCircular(dest, moving);
                if (!circular)
                {
                    moving.TransitDestination = dest;
                }
            }
            if (circular)
            {
                m.Dest = dest;
                m.DestType = MachMsgType.PortSendOnce;
                DestroyMsg(m);
                return;
            }
        }
        using (dest.Lock.EnterScope())
        {
            SendKernelMessageLocked(dest, m);
        }
    }

    private void SendKernelMessageLocked(IpcPort dest, KMsg m)
    {
        m.Dest = dest;
        m.DestType = MachMsgType.PortSendOnce;
        if (!dest.Active || dest.IsKernelOwned || dest.MsgCount >= MachPortLimits.QLimitKernel)
        {
            DeferDestroy(m);
            return;
        }
        Post(dest, m, reserved: false);
    }

    // The notifiers below run with the port that caused the notification locked, so the message goes out later.

    private static void NotifyNoSenders(IpcPort notify, uint mscount)
    {
        KMsg m = RentNotification(MachNoSendersNotification.SizeOf, MachNotify.NoSenders);
        WriteNdrAndWord(m, mscount);
        DeferNotify(notify, m);
    }

    private static void NotifyDeadName(IpcPort notify, uint name)
    {
        KMsg m = RentNotification(MachPortNameNotification.SizeOf, MachNotify.DeadName);
        WriteNdrAndWord(m, name);
        DeferNotify(notify, m);
    }

    private static void NotifyPortDeleted(IpcPort notify, uint name)
    {
        KMsg m = RentNotification(MachPortNameNotification.SizeOf, MachNotify.PortDeleted);
        WriteNdrAndWord(m, name);
        DeferNotify(notify, m);
    }

    /// <summary>MACH_NOTIFY_SEND_ONCE to <paramref name="port"/> itself (locked), through the destroyed send-once right (C12).</summary>
    private void NotifySendOnce(IpcPort port)
    {
        KMsg m = RentNotification(MachSendOnceNotification.SizeOf, MachNotify.SendOnce);
        SendKernelMessageLocked(port, m);
    }

    /// <summary>MACH_NOTIFY_PORT_DESTROYED carrying the receive right of <paramref name="port"/> (C11).</summary>
    private static void NotifyPortDestroyed(IpcPort notify, IpcPort port)
    {
        KMsg m = RentNotification(MachPortDestroyedNotification.SizeOf, MachNotify.PortDestroyed, MachMsgBits.Complex);
        BinaryPrimitives.WriteUInt32LittleEndian(m.Bytes.Slice(MachMsgHeader.SizeOf), 1);
        m.Data[MachMsgBase.SizeOf + 10] = (byte)MachMsgType.MoveReceive;
        m.Data[MachMsgBase.SizeOf + 11] = (byte)MachMsgDescriptorType.Port;
        ref KDesc d = ref m.AddDesc();
        d.Kind = KDescKind.Port;
        d.UserType = MachMsgDescriptorType.Port;
        d.Offset = MachMsgBase.SizeOf;
        d.Right = new KRight { Port = port, Type = MachMsgType.PortReceive };
        DeferNotify(notify, m);
    }
}
