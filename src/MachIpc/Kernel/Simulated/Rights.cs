using System.Collections.Generic;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// ipc_right.c / ipc_object.c / ipc_port.c: taking rights out of a space (copyin), putting them in
// (copyout), releasing and destroying them. Every method runs with the kernel lock held.
internal sealed unsafe partial class SimulatedKernel
{
    private const uint UrefsMax = MachPortName.UrefsMax;

    /// <summary>
    /// <c>ipc_right_check</c>: a send or send-once entry whose port has died becomes a dead name in place,
    /// keeping its urefs (a send-once entry gets 1), plus one if a dead-name request was armed (C10e).
    /// </summary>
    private static bool CheckDead(IpcSpace s, IpcEntry e)
    {
        if (e.Port is not { Active: false } p || (e.Type & (MachPortType.Send | MachPortType.SendOnce)) == 0)
        {
            return false;
        }
        s.UnindexPort(e);
        uint urefs;
        if (e.Has(MachPortType.SendOnce))
        {
            p.SoRights--;
            urefs = 1;
        }
        else
        {
            p.SRights--;
            urefs = e.Urefs;
        }
        if (e.DnRequest && urefs < UrefsMax)
        {
            urefs++;
        }
        e.DnRequest = false;
        e.Type = MachPortType.DeadName;
        e.Urefs = urefs;
        e.Port = null;
        return true;
    }

    /// <summary>Lookup that applies <see cref="CheckDead"/>, as every mach_port_* query does.</summary>
    private static IpcEntry? LookupChecked(IpcSpace s, uint name)
    {
        IpcEntry? e = s.Lookup(name);
        if (e is not null)
        {
            CheckDead(s, e);
        }
        return e;
    }

    /// <summary><c>ipc_port_release_send</c>: one send right fewer; the last one fires an armed no-senders request (D3).</summary>
    private void ReleaseSend(IpcPort p)
    {
        p.SRights--;
        if (p.SRights != 0 || !p.Active)
        {
            return;
        }
        if (p.NsRequest is IpcPort notify)
        {
            p.NsRequest = null;
            NotifyNoSenders(notify, p.MsCount);
        }
        if (p.Kind == KObjectKind.Fileport)
        {
            FileportNoSenders(p);
        }
    }

    /// <summary>An unused send-once right is destroyed: MACH_NOTIFY_SEND_ONCE goes to its port through it (C12).</summary>
    private void DestroySendOnce(IpcPort p)
    {
        if (p.Active && !p.IsKernelOwned && p.MsgCount < MachPortLimits.QLimitKernel)
        {
            NotifySendOnce(p); // the notification consumes the right as its destination
        }
        else
        {
            p.SoRights--;
        }
    }

    /// <summary>Releases a right carried by a destroyed message (<c>ipc_object_destroy</c>).</summary>
    private void ReleaseKRight(in KRight r)
    {
        if (r.Port is not IpcPort p)
        {
            return;
        }
        switch (r.Type)
        {
            case MachMsgType.PortSend:
                ReleaseSend(p);
                break;
            case MachMsgType.PortSendOnce:
                DestroySendOnce(p);
                break;
            case MachMsgType.PortReceive:
                p.TransitDestination = null;
                DestroyReceive(p);
                break;
        }
    }

    /// <summary>
    /// <c>ipc_port_clear_receiver</c>: the receive right leaves its space (moved or destroyed). The port
    /// leaves every set, blocked receivers get MACH_RCV_PORT_CHANGED, and mscount, seqno and context reset (A25).
    /// </summary>
    private static void ClearReceiver(IpcPort p)
    {
        p.Receiver = null;
        p.ReceiverName = 0;
        if (p.Sets is { Count: > 0 } sets)
        {
            foreach (IpcPortSet set in sets)
            {
                set.RemoveMember(p);
            }
            sets.Clear();
        }
        p.Receivers.WakeAll(WakeReason.PortChanged);
        p.MsCount = 0;
        p.Seqno = 0;
        p.Context = 0;
    }

    /// <summary>
    /// <c>ipc_port_destroy</c>: the receive right is gone (the caller has updated the entry). With a
    /// port-destroyed request the right goes to the notify port instead (C11); otherwise the port dies (C10).
    /// </summary>
    private void DestroyReceive(IpcPort p)
    {
        if (!p.Active)
        {
            return;
        }
        ClearReceiver(p);
        if (p.PdRequest is IpcPort pd)
        {
            p.PdRequest = null;
            NotifyPortDestroyed(pd, p);
            return;
        }
        _livePorts--;
        _ports.Remove(p);
        KillPort(p);
        BootstrapPortDied(p);
    }

    /// <summary>
    /// The end of <c>ipc_port_destroy</c> (osfmk/ipc/ipc_port.c) once no port-destroyed request claims the port:
    /// it goes inactive, blocked senders fail, queued messages are destroyed, an armed no-senders request's
    /// send-once right is destroyed, and every dead-name request fires (<c>ipc_port_dnnotify</c>). Kernel-object
    /// ports reach it too, through <c>ipc_port_dealloc_special_and_unlock</c>.
    /// </summary>
    private void KillPort(IpcPort p)
    {
        p.Active = false;
        p.Senders.WakeAll(WakeReason.PortDied);
        while (p.Queue.Dequeue() is KMsg m)
        {
            DestroyMsg(m);
        }
        p.MsgCount = 0;
        if (p.NsRequest is IpcPort ns)
        {
            // C10c / D4: no NO_SENDERS; the request's send-once right is destroyed instead.
            p.NsRequest = null;
            DestroySendOnce(ns);
        }
        if (p.DnRequests is { Count: > 0 } dns)
        {
            DeadNameRequest[] fire = dns.ToArray();
            dns.Clear();
            foreach (DeadNameRequest r in fire)
            {
                NotifyDeadName(r.Notify, r.Name); // C10d: immediately; the entry gets +1 uref when converted
            }
        }
    }

    /// <summary>Cancels the dead-name request on an entry that loses its right while the port lives (D7).</summary>
    private void CancelDnRequest(IpcSpace s, IpcEntry e)
    {
        if (!e.DnRequest)
        {
            return;
        }
        e.DnRequest = false;
        if (e.Port is { Active: true, DnRequests: { } list })
        {
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i].Space == s && list[i].Name == e.Name)
                {
                    IpcPort notify = list[i].Notify;
                    list.RemoveAt(i);
                    NotifyPortDeleted(notify, e.Name);
                    return;
                }
            }
        }
    }

    /// <summary>Removes the name, answering its dead-name request with PORT_DELETED if the port lives.</summary>
    private void FreeEntry(IpcSpace s, IpcEntry e)
    {
        CancelDnRequest(s, e);
        s.Free(e);
    }

    /// <summary><c>ipc_right_destroy</c> (mach_port_destroy, task death): every right under the name at once (C8).</summary>
    private void DestroyEntry(IpcSpace s, IpcEntry e)
    {
        CheckDead(s, e);
        if (e.PortSet is IpcPortSet set)
        {
            DestroySet(s, e, set);
            return;
        }
        IpcPort? p = e.Port;
        if (p is null)
        {
            s.Free(e); // dead name
            return;
        }
        if (e.Has(MachPortType.Receive))
        {
            bool hadSend = e.Has(MachPortType.Send);
            s.Free(e); // any dead-name request on the name stays on the port and fires as the port dies
            if (hadSend)
            {
                ReleaseSend(p);
            }
            DestroyReceive(p);
            return;
        }
        if (e.Has(MachPortType.Send))
        {
            FreeEntry(s, e);
            ReleaseSend(p);
            return;
        }
        if (e.Has(MachPortType.SendOnce))
        {
            FreeEntry(s, e);
            DestroySendOnce(p);
        }
    }

    private static void DestroySet(IpcSpace s, IpcEntry e, IpcPortSet set)
    {
        set.Active = false;
        foreach (IpcPort m in set.Members)
        {
            m.Sets?.Remove(set);
        }
        set.Clear();
        set.Receivers.WakeAll(WakeReason.PortChanged); // B5
        s.Free(e);
    }

    /// <summary>
    /// <c>ipc_right_copyin</c>: takes a right out of <paramref name="s"/> with disposition
    /// <paramref name="disp"/> (A20-A25). With <paramref name="deadOk"/>, dead names and send rights to dead
    /// ports are accepted and yield MACH_PORT_DEAD (a MOVE consumes one dead-name uref, A28).
    /// </summary>
    private KernReturn CopyinRight(IpcSpace s, uint name, MachMsgType disp, bool deadOk, out KRight r)
    {
        r = default;
        IpcEntry? e = s.Lookup(name);
        if (e is null)
        {
            return KernReturn.InvalidName;
        }
        KernReturn kr = CopyinCheck(s, e, disp, deadOk, 1);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        CopyinApply(s, e, disp, out r);
        return KernReturn.Success;
    }

    /// <summary>
    /// The checking half of <c>ipc_right_copyin</c>, without side effects other than the dead-name
    /// conversion that lookups always do. <paramref name="moves"/> is 2 when the same name is moved twice (A27).
    /// </summary>
    private static KernReturn CopyinCheck(IpcSpace s, IpcEntry e, MachMsgType disp, bool deadOk, int moves)
    {
        switch (disp)
        {
            case MachMsgType.MoveReceive:
                if (!e.Has(MachPortType.Receive) || e.Port is null)
                {
                    return KernReturn.InvalidRight;
                }
                return e.Port.IsKernelOwned ? KernReturn.InvalidCapability : KernReturn.Success;
            case MachMsgType.MakeSend:
            case MachMsgType.MakeSendOnce:
                return e.Has(MachPortType.Receive) ? KernReturn.Success : KernReturn.InvalidRight;
            case MachMsgType.CopySend:
            case MachMsgType.MoveSend:
                CheckDead(s, e);
                if (e.Has(MachPortType.DeadName))
                {
                    if (!deadOk)
                    {
                        return KernReturn.InvalidRight;
                    }
                    return disp == MachMsgType.MoveSend && e.Urefs < (uint)moves ? KernReturn.InvalidRight : KernReturn.Success;
                }
                if (!e.Has(MachPortType.Send))
                {
                    return KernReturn.InvalidRight;
                }
                if (disp == MachMsgType.MoveSend && e.Urefs < (uint)moves)
                {
                    return KernReturn.InvalidRight;
                }
                return KernReturn.Success;
            case MachMsgType.MoveSendOnce:
                if (e.Has(MachPortType.SendOnce) && e.Port is { Active: false })
                {
                    // A16: a send-once right to a dead port without a dead-name request is accepted as is.
                    if (!e.DnRequest)
                    {
                        return KernReturn.Success;
                    }
                    CheckDead(s, e);
                    return deadOk ? KernReturn.Success : KernReturn.InvalidRight;
                }
                if (e.Has(MachPortType.DeadName))
                {
                    return deadOk ? KernReturn.Success : KernReturn.InvalidRight;
                }
                return e.Has(MachPortType.SendOnce) ? KernReturn.Success : KernReturn.InvalidRight;
            default:
                return KernReturn.InvalidValue;
        }
    }

    /// <summary>The effect half of <c>ipc_right_copyin</c>; <see cref="CopyinCheck"/> must have succeeded.</summary>
    private void CopyinApply(IpcSpace s, IpcEntry e, MachMsgType disp, out KRight r)
    {
        r = default;
        if (e.Has(MachPortType.DeadName))
        {
            r = KRight.None(MachPortName.Dead);
            r.Type = MachMsgTypes.ReceivedForm(disp);
            if (disp is MachMsgType.MoveSend or MachMsgType.MoveSendOnce)
            {
                if (--e.Urefs == 0)
                {
                    s.Free(e);
                }
            }
            return;
        }
        IpcPort p = e.Port!;
        switch (disp)
        {
            case MachMsgType.MoveReceive:
                if (e.Has(MachPortType.Send))
                {
                    e.Type &= ~MachPortType.Receive; // A25: the name stays with just the send right
                }
                else
                {
                    FreeEntry(s, e);
                }
                ClearReceiver(p);
                r = new KRight { Port = p, Type = MachMsgType.PortReceive };
                break;
            case MachMsgType.MakeSend:
                p.MsCount++;
                p.SRights++;
                r = new KRight { Port = p, Type = MachMsgType.PortSend };
                break;
            case MachMsgType.MakeSendOnce:
                p.SoRights++;
                r = new KRight { Port = p, Type = MachMsgType.PortSendOnce };
                break;
            case MachMsgType.CopySend:
                p.SRights++;
                r = new KRight { Port = p, Type = MachMsgType.PortSend };
                break;
            case MachMsgType.MoveSend:
                if (e.Urefs == UrefsMax)
                {
                    p.SRights++; // pegged urefs stay pegged (A21)
                }
                else if (--e.Urefs == 0)
                {
                    // The entry's send right itself travels: srights unchanged.
                    if (e.Has(MachPortType.Receive))
                    {
                        e.Type &= ~MachPortType.Send;
                    }
                    else
                    {
                        FreeEntry(s, e);
                    }
                }
                else
                {
                    p.SRights++;
                }
                r = new KRight { Port = p, Type = MachMsgType.PortSend };
                break;
            case MachMsgType.MoveSendOnce:
                FreeEntry(s, e);
                r = new KRight { Port = p, Type = MachMsgType.PortSendOnce };
                break;
        }
    }

    /// <summary>
    /// <c>ipc_object_copyout</c>: puts a carried right into <paramref name="s"/> and returns its name. Send
    /// rights merge into an entry already holding send or receive rights for the port (B14, urefs pegged at
    /// 65535); send-once rights always get a new name; a right to a dead port comes out as MACH_PORT_DEAD (B15).
    /// </summary>
    private uint CopyoutRight(IpcSpace s, in KRight r)
    {
        if (r.Port is not IpcPort p)
        {
            return r.Passthrough;
        }
        switch (r.Type)
        {
            case MachMsgType.PortSend:
            {
                if (!p.Active)
                {
                    p.SRights--;
                    return MachPortName.Dead;
                }
                IpcEntry? e = s.LookupPort(p);
                if (e is not null)
                {
                    if (e.Has(MachPortType.Send))
                    {
                        if (e.Urefs < UrefsMax)
                        {
                            e.Urefs++;
                        }
                        p.SRights--; // the entry already accounts for one send right
                    }
                    else
                    {
                        e.Type |= MachPortType.Send;
                        e.Urefs = 1;
                    }
                    return e.Name;
                }
                e = s.Allocate();
                e.Type = MachPortType.Send;
                e.Urefs = 1;
                e.Port = p;
                s.IndexPort(e);
                return e.Name;
            }
            case MachMsgType.PortSendOnce:
            {
                if (!p.Active)
                {
                    p.SoRights--;
                    return MachPortName.Dead;
                }
                IpcEntry e = s.Allocate();
                e.Type = MachPortType.SendOnce;
                e.Urefs = 1;
                e.Port = p;
                return e.Name;
            }
            case MachMsgType.PortReceive:
            {
                p.TransitDestination = null;
                IpcEntry? e = s.LookupPort(p);
                if (e is null)
                {
                    e = s.Allocate();
                    e.Port = p;
                }
                e.Type |= MachPortType.Receive;
                s.IndexPort(e);
                p.Receiver = s;
                p.ReceiverName = e.Name;
                // Messages queued while in transit may now be handed to waiters on this space's sets later.
                return e.Name;
            }
        }
        return MachPortName.Null;
    }

    /// <summary>Every carried receive right whose destination chain leads back to itself (A26).</summary>
    private static bool IsCircular(IpcPort dest, IpcPort moved)
    {
        IpcPort? p = dest;
        for (int guard = 0; p is not null && guard < 100000; guard++)
        {
            if (p == moved)
            {
                return true;
            }
            p = p.Receiver is null ? p.TransitDestination : null;
        }
        return false;
    }

    internal static List<IpcEntry> Snapshot(IpcSpace s)
    {
        var list = new List<IpcEntry>();
        foreach (IpcEntry e in s.Entries)
        {
            list.Add(e);
        }
        return list;
    }
}
