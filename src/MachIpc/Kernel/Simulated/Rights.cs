using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// ipc_right.c / ipc_object.c / ipc_port.c: taking rights out of a space (copyin), putting them in
// (copyout), releasing and destroying them.
// Locks: methods taking an IpcSpace expect its lock held; *Locked methods expect the port's lock held. The
// others take what they need and may be called with at most a space lock held (never a port lock: what one
// port's change does to another port is deferred, see Deferred.cs).
internal sealed unsafe partial class SimulatedKernel
{
    private const uint UrefsMax = MachPortName.UrefsMax;

    /// <summary>
    /// <c>ipc_right_check</c>: a send or send-once entry whose port has died becomes a dead name in place,
    /// keeping its urefs (a send-once entry gets 1), plus one if a dead-name request was armed (C10e).
    /// </summary>
    private static bool CheckDead(IpcSpace s, IpcEntry e)
    {
        // Active only ever goes from true to false, so a port seen active may be treated as alive right now.
        if (e.Port is not { Active: false } p || (e.Type & (MachPortType.Send | MachPortType.SendOnce)) == 0)
        {
            return false;
        }
        s.UnindexPort(e);
        uint urefs;
        if (e.Has(MachPortType.SendOnce))
        {
            Interlocked.Decrement(ref p.SoRights);
            urefs = 1;
        }
        else
        {
            Interlocked.Decrement(ref p.SRights); // a dead port: nothing fires on its last send right
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

    private void ReleaseSend(IpcPort p)
    {
        using (p.Lock.EnterScope())
        {
            ReleaseSendLocked(p);
        }
    }

    /// <summary><c>ipc_port_release_send</c>: one send right fewer; the last one fires an armed no-senders request (D3).</summary>
    private void ReleaseSendLocked(IpcPort p)
    {
        if (Interlocked.Decrement(ref p.SRights) != 0 || !p.Active)
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

    private void DestroySendOnce(IpcPort p)
    {
        using (p.Lock.EnterScope())
        {
            DestroySendOnceLocked(p);
        }
    }

    /// <summary>An unused send-once right is destroyed: MACH_NOTIFY_SEND_ONCE goes to its port through it (C12).</summary>
    private void DestroySendOnceLocked(IpcPort p)
    {
        if (p.Active && !p.IsKernelOwned && p.MsgCount < MachPortLimits.QLimitKernel)
        {
            NotifySendOnce(p); // the notification consumes the right as its destination
        }
        else
        {
            Interlocked.Decrement(ref p.SoRights);
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
                using (_transitLock.EnterScope())
                {
                    p.TransitDestination = null;
                }
                DestroyReceive(p);
                break;
        }
    }

    /// <summary>
    /// <c>ipc_port_clear_receiver</c>: the receive right leaves its space (moved or destroyed). The port
    /// leaves every set, blocked receivers get MACH_RCV_PORT_CHANGED, and mscount, seqno and context reset (A25).
    /// </summary>
    private static void ClearReceiverLocked(IpcPort p)
    {
        p.Receiver = null;
        p.ReceiverName = 0;
        if (p.Sets is { Count: > 0 } sets)
        {
            foreach (IpcPortSet set in sets)
            {
                using (set.Lock.EnterScope())
                {
                    set.RemoveMember(p);
                }
            }
            sets.Clear();
        }
        p.Receivers.WakeAll(WakeReason.PortChanged);
        p.MsCount = 0;
        p.Seqno = 0;
        p.Context = 0;
    }

    private void DestroyReceive(IpcPort p)
    {
        using (p.Lock.EnterScope())
        {
            DestroyReceiveLocked(p);
        }
    }

    /// <summary>
    /// <c>ipc_port_destroy</c>: the receive right is gone (the caller has updated the entry). With a
    /// port-destroyed request the right goes to the notify port instead (C11); otherwise the port dies (C10).
    /// What that does to other ports (queued messages destroyed, notifications) runs once the port is unlocked.
    /// </summary>
    private void DestroyReceiveLocked(IpcPort p)
    {
        if (!p.Active)
        {
            return;
        }
        ClearReceiverLocked(p);
        if (p.PdRequest is IpcPort pd)
        {
            p.PdRequest = null;
            NotifyPortDestroyed(pd, p);
            return;
        }
        PortGone(p);
        KillPortLocked(p);
        DeferBootstrapPortDied(p);
    }

    /// <summary>
    /// The end of <c>ipc_port_destroy</c> (osfmk/ipc/ipc_port.c) once no port-destroyed request claims the port
    /// (port locked): it goes inactive, blocked senders fail, queued messages are destroyed, an armed no-senders
    /// request's send-once right is destroyed, and every dead-name request fires (<c>ipc_port_dnnotify</c>).
    /// Kernel-object ports reach it too, through <c>ipc_port_dealloc_special_and_unlock</c>.
    /// </summary>
    private void KillPortLocked(IpcPort p)
    {
        p.Active = false;
        p.Senders.WakeAll(WakeReason.PortDied);
        while (p.Queue.Dequeue() is KMsg m)
        {
            DeferDestroy(m);
        }
        p.MsgCount = 0;
        if (p.NsRequest is IpcPort ns)
        {
            // C10c / D4: no NO_SENDERS; the request's send-once right is destroyed instead.
            p.NsRequest = null;
            DeferRelease(new KRight { Port = ns, Type = MachMsgType.PortSendOnce });
        }
        if (p.DnRequests is { Count: > 0 } dns)
        {
            foreach (DeadNameRequest r in dns)
            {
                NotifyDeadName(r.Notify, r.Name); // C10d: immediately; the entry gets +1 uref when converted
            }
            dns.Clear();
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
        if (e.Port is not IpcPort p)
        {
            return;
        }
        using (p.Lock.EnterScope())
        {
            if (p is { Active: true, DnRequests: { } list })
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
            using (p.Lock.EnterScope())
            {
                if (hadSend)
                {
                    ReleaseSendLocked(p);
                }
                DestroyReceiveLocked(p);
            }
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

    /// <summary>
    /// <c>ipc_pset_destroy</c>: the set goes inactive, its waiters get MACH_RCV_PORT_CHANGED (B5), then each former
    /// member forgets it under its own lock (never a member's lock under the set's: the order is port, then set).
    /// </summary>
    private static void DestroySet(IpcSpace s, IpcEntry e, IpcPortSet set)
    {
        IpcPort[] members;
        using (set.Lock.EnterScope())
        {
            set.Active = false;
            members = set.Members.ToArray();
            set.Clear();
            set.Receivers.WakeAll(WakeReason.PortChanged);
        }
        foreach (IpcPort m in members)
        {
            using (m.Lock.EnterScope())
            {
                m.Sets?.Remove(set);
            }
        }
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

    /// <summary>
    /// What copying a right with <paramref name="disp"/> (COPY_SEND, MAKE_SEND or MAKE_SEND_ONCE) does to its port: one
    /// more send or send-once right, and for MAKE_SEND one more made (mscount, which needs the port's lock held).
    /// Returns the type the message carries.
    /// </summary>
    private static MachMsgType CountCopiedRight(IpcPort p, MachMsgType disp)
    {
        switch (disp)
        {
            case MachMsgType.MakeSendOnce:
                Interlocked.Increment(ref p.SoRights);
                return MachMsgType.PortSendOnce;
            case MachMsgType.MakeSend:
                p.MsCount++;
                break;
        }
        Interlocked.Increment(ref p.SRights);
        return MachMsgType.PortSend;
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
                using (p.Lock.EnterScope())
                {
                    ClearReceiverLocked(p);
                }
                r = new KRight { Port = p, Type = MachMsgType.PortReceive };
                break;
            case MachMsgType.MakeSend:
                using (p.Lock.EnterScope())
                {
                    r = new KRight { Port = p, Type = CountCopiedRight(p, disp) };
                }
                break;
            case MachMsgType.MakeSendOnce:
            case MachMsgType.CopySend:
                // No port lock: the receive right is ours (the port cannot die meanwhile), or the entry keeps its own
                // send right (the count cannot be passing through zero).
                r = new KRight { Port = p, Type = CountCopiedRight(p, disp) };
                break;
            case MachMsgType.MoveSend:
                if (e.Urefs == UrefsMax)
                {
                    Interlocked.Increment(ref p.SRights); // pegged urefs stay pegged (A21)
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
                    Interlocked.Increment(ref p.SRights);
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
    /// <c>ipc_object_copyout</c>: puts a carried right into <paramref name="s"/> (locked and active) and returns its
    /// name. Send rights merge into an entry already holding send or receive rights for the port (B14, urefs
    /// pegged at 65535); send-once rights always get a new name; a right to a dead port comes out as MACH_PORT_DEAD
    /// (B15). False, with the right not consumed, when the space has no room for a new name (KERN_NO_SPACE).
    /// </summary>
    private bool TryCopyoutRight(IpcSpace s, in KRight r, out uint name)
    {
        name = MachPortName.Null;
        if (r.Port is not IpcPort p)
        {
            name = r.Passthrough;
            return true;
        }
        switch (r.Type)
        {
            case MachMsgType.PortSend:
            {
                // No port lock: the right being copied out keeps the count above zero until it is merged, and a
                // port that dies right after it is seen alive leaves a send right that lookups turn into a dead
                // name (ipc_right_check).
                if (!p.Active)
                {
                    Interlocked.Decrement(ref p.SRights);
                    name = MachPortName.Dead;
                    return true;
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
                        Interlocked.Decrement(ref p.SRights); // the entry already accounts for one send right
                    }
                    else
                    {
                        e.Type |= MachPortType.Send;
                        e.Urefs = 1;
                    }
                    name = e.Name;
                    return true;
                }
                e = s.Allocate();
                if (e is null)
                {
                    return false;
                }
                e.Type = MachPortType.Send;
                e.Urefs = 1;
                e.Port = p;
                s.IndexPort(e);
                name = e.Name;
                return true;
            }
            case MachMsgType.PortSendOnce:
            {
                if (!p.Active)
                {
                    Interlocked.Decrement(ref p.SoRights);
                    name = MachPortName.Dead;
                    return true;
                }
                IpcEntry? e = s.Allocate();
                if (e is null)
                {
                    return false;
                }
                e.Type = MachPortType.SendOnce;
                e.Urefs = 1;
                e.Port = p;
                name = e.Name;
                return true;
            }
            case MachMsgType.PortReceive:
            {
                IpcEntry? e = s.LookupPort(p);
                if (e is null)
                {
                    e = s.Allocate();
                    if (e is null)
                    {
                        return false;
                    }
                    e.Port = p;
                }
                using (_transitLock.EnterScope())
                {
                    p.TransitDestination = null;
                }
                using (p.Lock.EnterScope())
                {
                    e.Type |= MachPortType.Receive;
                    s.IndexPort(e);
                    p.Receiver = s;
                    p.ReceiverName = e.Name;
                }
                name = e.Name;
                return true;
            }
        }
        return true;
    }

    /// <summary>
    /// Copies a carried right out into <paramref name="s"/>, taking its lock; the right is destroyed if the space
    /// is dead (KERN_INVALID_TASK) or full (KERN_NO_SPACE). Called with no lock held.
    /// </summary>
    private KernReturn CopyoutToSpace(IpcSpace s, in KRight r, out uint name)
    {
        using (s.Lock.EnterScope())
        {
            if (s.Active && TryCopyoutRight(s, r, out name))
            {
                return KernReturn.Success;
            }
        }
        name = MachPortName.Null;
        ReleaseKRight(r);
        return s.Active ? KernReturn.NoSpace : KernReturn.InvalidTask;
    }

    /// <summary>
    /// A26: whether <paramref name="moved"/> is <paramref name="dest"/> or a port the destination chain reaches
    /// through receive rights in transit (ipc_port_check_circularity). Transit lock held; each port is locked
    /// only to read its receiver.
    /// </summary>
    private static bool IsCircular(IpcPort dest, IpcPort moved)
    {
        IpcPort? p = dest;
        for (int guard = 0; p is not null && guard < 100000; guard++)
        {
            if (p == moved)
            {
                return true;
            }
            bool inTransit;
            using (p.Lock.EnterScope())
            {
                inTransit = p.Receiver is null;
            }
            p = inTransit ? p.TransitDestination : null;
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
