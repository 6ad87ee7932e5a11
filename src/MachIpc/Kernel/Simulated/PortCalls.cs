using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// mach_port.c / mach_kernelrpc.c: the mach_port_* calls (section C, D1-D8, E2-E3). Each opens with a
// SpaceCall (the target space resolved, locked and active); calls that also copy a right in from, or out to,
// the caller's space do that before or after, never holding two spaces' locks.
internal sealed unsafe partial class SimulatedKernel
{
    private const int ReceiveStatusFlavor = 2;   // MACH_PORT_RECEIVE_STATUS
    private const uint ReceiveStatusCount = 10;  // MACH_PORT_RECEIVE_STATUS_COUNT
    private const int TaskKernelPort = 1;        // TASK_KERNEL_PORT

    public KernReturn PortAllocate(uint task, MachPortRight right, uint* name)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        IpcSpace s = call.Space;
        if (right is not (MachPortRight.Receive or MachPortRight.PortSet or MachPortRight.DeadName))
        {
            return KernReturn.InvalidValue; // C2
        }
        IpcEntry? e = s.Allocate();
        if (e is null)
        {
            return KernReturn.NoSpace; // ipc_port_alloc -> ipc_entry_alloc: the table is at its limit
        }
        switch (right)
        {
            case MachPortRight.Receive:
                IpcPort p = NewPort(s);
                e.Type = MachPortType.Receive;
                e.Port = p;
                p.ReceiverName = e.Name;
                s.IndexPort(e);
                break;
            case MachPortRight.PortSet:
                e.Type = MachPortType.PortSet;
                e.PortSet = new IpcPortSet(s, e.Name);
                break;
            default:
                e.Type = MachPortType.DeadName;
                e.Urefs = 1;
                break;
        }
        if (name is not null)
        {
            *name = e.Name;
        }
        return KernReturn.Success;
    }

    public KernReturn PortDeallocate(uint task, uint name)
    {
        using var call = new SpaceCall(this, task);
        return call.Failed(out KernReturn kr) ? kr : Dealloc(call.Space, name);
    }

    /// <summary><c>ipc_right_dealloc</c> (C6).</summary>
    private KernReturn Dealloc(IpcSpace s, uint name)
    {
        if (!MachPortName.IsValid(name))
        {
            return KernReturn.Success;
        }
        IpcEntry? e = LookupChecked(s, name);
        if (e is null)
        {
            return KernReturn.InvalidName;
        }
        if (e.PortSet is IpcPortSet set)
        {
            DestroySet(s, e, set);
            return KernReturn.Success;
        }
        if (e.Has(MachPortType.DeadName))
        {
            if (--e.Urefs == 0)
            {
                s.Free(e);
            }
            return KernReturn.Success;
        }
        IpcPort p = e.Port!;
        if (e.Has(MachPortType.SendOnce))
        {
            FreeEntry(s, e);
            DestroySendOnce(p);
            return KernReturn.Success;
        }
        if (e.Has(MachPortType.Send))
        {
            DropSendUrefs(s, e, p, 1);
            return KernReturn.Success;
        }
        return KernReturn.InvalidRight; // receive only
    }

    /// <summary>Takes <paramref name="n"/> send urefs off an entry; at 0 the send right goes (C6).</summary>
    private void DropSendUrefs(IpcSpace s, IpcEntry e, IpcPort p, uint n)
    {
        if (e.Urefs == UrefsMax && n != UrefsMax)
        {
            return; // pegged
        }
        e.Urefs -= n;
        if (e.Urefs != 0)
        {
            return;
        }
        if (e.Has(MachPortType.Receive))
        {
            e.Type &= ~MachPortType.Send;
        }
        else
        {
            FreeEntry(s, e);
        }
        ReleaseSend(p);
    }

    public KernReturn PortDestroy(uint task, uint name)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        if (!MachPortName.IsValid(name))
        {
            return KernReturn.Success;
        }
        IpcEntry? e = call.Space.Lookup(name);
        if (e is null)
        {
            return KernReturn.InvalidName;
        }
        DestroyEntry(call.Space, e); // C8
        return KernReturn.Success;
    }

    public KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        if (right >= MachPortRight.Number)
        {
            return KernReturn.InvalidValue;
        }
        if (!MachPortName.IsValid(name))
        {
            return right is MachPortRight.Send or MachPortRight.SendOnce ? KernReturn.Success : KernReturn.InvalidName;
        }
        IpcEntry? e = call.Space.Lookup(name);
        return e is null ? KernReturn.InvalidName : ModRefs(call.Space, e, right, delta);
    }

    /// <summary><c>ipc_right_delta</c> / <c>ipc_right_delta_dead</c> (C7).</summary>
    private KernReturn ModRefs(IpcSpace s, IpcEntry e, MachPortRight right, int delta)
    {
        switch (right)
        {
            case MachPortRight.Send:
            {
                if (CheckDead(s, e) || !e.Has(MachPortType.Send))
                {
                    return KernReturn.InvalidRight;
                }
                return DeltaUrefs(s, e, delta, isSend: true);
            }
            case MachPortRight.Receive:
            {
                if (!e.Has(MachPortType.Receive))
                {
                    return KernReturn.InvalidRight;
                }
                if (delta == 0)
                {
                    return KernReturn.Success;
                }
                if (delta != -1)
                {
                    return KernReturn.InvalidValue;
                }
                IpcPort p = e.Port!;
                using (p.Lock.EnterScope())
                {
                    if (e.Has(MachPortType.Send))
                    {
                        if (p.PdRequest is not null)
                        {
                            e.Type &= ~MachPortType.Receive; // the port lives on: the send right stays live
                        }
                        else
                        {
                            // The send right becomes a dead name under the same name (+1 for a dead-name request).
                            s.UnindexPort(e);
                            Interlocked.Decrement(ref p.SRights);
                            e.Type = MachPortType.DeadName;
                            if (e.DnRequest && e.Urefs < UrefsMax)
                            {
                                e.Urefs++;
                            }
                            e.DnRequest = false;
                            e.Port = null;
                        }
                    }
                    else
                    {
                        s.Free(e);
                    }
                    DestroyReceiveLocked(p);
                }
                return KernReturn.Success;
            }
            case MachPortRight.SendOnce:
            {
                CheckDead(s, e);
                if (!e.Has(MachPortType.SendOnce))
                {
                    return KernReturn.InvalidRight;
                }
                if (delta == 0)
                {
                    return KernReturn.Success;
                }
                if (delta != -1)
                {
                    return KernReturn.InvalidValue;
                }
                IpcPort p = e.Port!;
                FreeEntry(s, e);
                DestroySendOnce(p);
                return KernReturn.Success;
            }
            case MachPortRight.PortSet:
            {
                if (e.PortSet is not IpcPortSet set)
                {
                    return KernReturn.InvalidRight;
                }
                if (delta == 0)
                {
                    return KernReturn.Success;
                }
                if (delta != -1)
                {
                    return KernReturn.InvalidValue;
                }
                DestroySet(s, e, set);
                return KernReturn.Success;
            }
            default: // DeadName
            {
                CheckDead(s, e);
                if (!e.Has(MachPortType.DeadName))
                {
                    return KernReturn.InvalidRight;
                }
                return DeltaUrefs(s, e, delta, isSend: false);
            }
        }
    }

    private KernReturn DeltaUrefs(IpcSpace s, IpcEntry e, int delta, bool isSend)
    {
        if (delta > (int)UrefsMax || delta < -(int)UrefsMax)
        {
            return KernReturn.InvalidValue;
        }
        if (delta == 0)
        {
            return KernReturn.Success;
        }
        long next = (long)e.Urefs + delta;
        if (next < 0)
        {
            return KernReturn.InvalidValue;
        }
        if (e.Urefs == UrefsMax && delta != -(int)UrefsMax)
        {
            return KernReturn.Success; // pegged
        }
        if (next >= UrefsMax)
        {
            e.Urefs = UrefsMax;
            return KernReturn.Success;
        }
        if (next == 0)
        {
            if (isSend)
            {
                e.Urefs = 1;
                DropSendUrefs(s, e, e.Port!, 1);
            }
            else
            {
                s.Free(e);
            }
            return KernReturn.Success;
        }
        e.Urefs = (uint)next;
        return KernReturn.Success;
    }

    public KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly)
    {
        try
        {
            KernReturn kr = ResolveSpace(task, out IpcSpace s);
            if (kr != KernReturn.Success)
            {
                return kr;
            }
            IpcSpace caller = CurrentTask.Space;
            if (name == poly && s == caller && polyPoly is MachMsgType.MakeSend or MachMsgType.CopySend)
            {
                using (s.Lock.EnterScope())
                {
                    return s.Active ? InsertSendSameName(s, name, polyPoly) : KernReturn.InvalidTask; // C4
                }
            }
            // C5: copy the source right in (A14 rules), then insert it under the target name.
            if (polyPoly is < MachMsgType.MoveReceive or > MachMsgType.MakeSendOnce)
            {
                return KernReturn.InvalidRight;
            }
            KRight r = default;
            using (caller.Lock.EnterScope())
            {
                kr = caller.Active ? CopyinRight(caller, poly, polyPoly, deadOk: true, out r) : KernReturn.InvalidTask;
            }
            if (kr != KernReturn.Success)
            {
                return kr == KernReturn.InvalidValue ? KernReturn.InvalidRight : kr;
            }
            using (s.Lock.EnterScope())
            {
                kr = s.Active ? InsertNamed(s, name, r) : KernReturn.InvalidTask;
            }
            if (kr != KernReturn.Success)
            {
                ReleaseKRight(r);
            }
            return kr;
        }
        finally
        {
            Flush();
        }
    }

    private static KernReturn InsertSendSameName(IpcSpace s, uint name, MachMsgType disp)
    {
        IpcEntry? e = LookupChecked(s, name);
        if (e is null)
        {
            return KernReturn.InvalidName;
        }
        if (e.Has(MachPortType.DeadName))
        {
            return KernReturn.InvalidCapability;
        }
        IpcPort? p = e.Port;
        if (disp == MachMsgType.MakeSend)
        {
            if (!e.Has(MachPortType.Receive) || p is null)
            {
                return KernReturn.InvalidRight;
            }
            using (p.Lock.EnterScope())
            {
                p.MsCount++;
                if (!e.Has(MachPortType.Send))
                {
                    Interlocked.Increment(ref p.SRights);
                    e.Type |= MachPortType.Send;
                    e.Urefs = 1;
                }
                else if (e.Urefs < UrefsMax)
                {
                    e.Urefs++;
                }
            }
            return KernReturn.Success;
        }
        if (!e.Has(MachPortType.Send))
        {
            return KernReturn.InvalidRight;
        }
        if (e.Urefs < UrefsMax)
        {
            e.Urefs++;
        }
        return KernReturn.Success;
    }

    /// <summary>
    /// <c>mach_port_insert_right</c> + <c>ipc_object_copyout_name</c>: inserts a carried right under a chosen name
    /// (C5), in XNU's order: the name (KERN_INVALID_VALUE), the carried port (KERN_INVALID_CAPABILITY), the entry
    /// for the name (ipc_entry_alloc_name: KERN_NO_SPACE, KERN_INVALID_VALUE, KERN_FAILURE), the port's liveness,
    /// then merging (KERN_RIGHT_EXISTS, KERN_NAME_EXISTS). Space locked.
    /// </summary>
    private static KernReturn InsertNamed(IpcSpace s, uint name, in KRight r)
    {
        if (!MachPortName.IsValid(name))
        {
            return KernReturn.InvalidValue;
        }
        if (r.Port is not IpcPort p)
        {
            return KernReturn.InvalidCapability;
        }
        KernReturn kr = s.AllocateNamed(name, out IpcEntry? e);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        bool fresh = e!.IsFree;
        using (p.Lock.EnterScope())
        {
            kr = p.Active ? MergeNamed(s, e, p, r.Type, fresh) : KernReturn.InvalidCapability;
        }
        if (kr != KernReturn.Success && fresh)
        {
            s.Free(e);
        }
        return kr;
    }

    /// <summary><c>ipc_right_reverse</c> + <c>ipc_right_copyout</c> under a chosen name (space and port locked).</summary>
    private static KernReturn MergeNamed(IpcSpace s, IpcEntry e, IpcPort p, MachMsgType type, bool fresh)
    {
        if (type != MachMsgType.PortSendOnce)
        {
            IpcEntry? other = s.LookupPort(p);
            if (other is not null && other != e)
            {
                return KernReturn.RightExists;
            }
        }
        if (!fresh)
        {
            if (e.Port != p || type == MachMsgType.PortSendOnce || e.Has(MachPortType.SendOnce | MachPortType.DeadName))
            {
                return KernReturn.NameExists;
            }
            if (type == MachMsgType.PortSend)
            {
                if (e.Has(MachPortType.Send))
                {
                    if (e.Urefs < UrefsMax)
                    {
                        e.Urefs++;
                    }
                    Interlocked.Decrement(ref p.SRights);
                }
                else
                {
                    e.Type |= MachPortType.Send;
                    e.Urefs = 1;
                }
            }
            else
            {
                if (e.Has(MachPortType.Receive))
                {
                    return KernReturn.RightExists;
                }
                e.Type |= MachPortType.Receive;
                p.Receiver = s;
                p.ReceiverName = e.Name;
            }
            s.IndexPort(e);
            return KernReturn.Success;
        }
        e.Port = p;
        switch (type)
        {
            case MachMsgType.PortSend:
                e.Type = MachPortType.Send;
                e.Urefs = 1;
                break;
            case MachMsgType.PortSendOnce:
                e.Type = MachPortType.SendOnce;
                e.Urefs = 1;
                break;
            default:
                e.Type = MachPortType.Receive;
                p.Receiver = s;
                p.ReceiverName = e.Name;
                break;
        }
        s.IndexPort(e);
        return KernReturn.Success;
    }

    public KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly)
    {
        KRight r;
        using (var call = new SpaceCall(this, task))
        {
            if (call.Failed(out KernReturn kr))
            {
                return kr;
            }
            if (msgtName is < MachMsgType.MoveReceive or > MachMsgType.MakeSendOnce)
            {
                return KernReturn.InvalidValue; // C13
            }
            if (!MachPortName.IsValid(name))
            {
                return KernReturn.InvalidRight;
            }
            kr = CopyinRight(call.Space, name, msgtName, deadOk: true, out r);
            if (kr != KernReturn.Success)
            {
                return kr;
            }
        }
        try
        {
            // The MIG reply carries the right to the caller.
            KernReturn kr = CopyoutToSpace(CurrentTask.Space, r, out uint got);
            if (kr != KernReturn.Success)
            {
                return MigReplyLost(kr);
            }
            if (poly is not null)
            {
                *poly = got;
            }
            if (polyPoly is not null)
            {
                *polyPoly = MachMsgTypes.ReceivedForm(msgtName);
            }
            return KernReturn.Success;
        }
        finally
        {
            Flush();
        }
    }

    /// <summary>
    /// A MIG reply carrying a right could not be received into the caller's space: the stub returns mach_msg's
    /// MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE (the right itself was destroyed).
    /// </summary>
    private static KernReturn MigReplyLost(KernReturn kr) =>
        kr == KernReturn.NoSpace ? (KernReturn)((int)MachMsgReturn.RcvBodyError | MachMsgIpcSpace) : KernReturn.InvalidTask;

    public KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        if (right >= MachPortRight.Number)
        {
            return KernReturn.InvalidValue;
        }
        uint value;
        if (!MachPortName.IsValid(name))
        {
            if (right is not (MachPortRight.Send or MachPortRight.SendOnce))
            {
                return KernReturn.InvalidName;
            }
            value = 1; // C9
        }
        else
        {
            IpcEntry? e = LookupChecked(call.Space, name);
            if (e is null)
            {
                return KernReturn.InvalidName;
            }
            value = right switch
            {
                MachPortRight.Send => e.Has(MachPortType.Send) ? e.Urefs : 0,
                MachPortRight.DeadName => e.Has(MachPortType.DeadName) ? e.Urefs : 0,
                MachPortRight.Receive => e.Has(MachPortType.Receive) ? 1u : 0,
                MachPortRight.SendOnce => e.Has(MachPortType.SendOnce) ? 1u : 0,
                _ => e.Has(MachPortType.PortSet) ? 1u : 0,
            };
        }
        if (refs is not null)
        {
            *refs = value;
        }
        return KernReturn.Success;
    }

    public KernReturn PortType(uint task, uint name, MachPortType* ptype)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        MachPortType t;
        if (name == MachPortName.Null)
        {
            return KernReturn.InvalidName;
        }
        if (name == MachPortName.Dead)
        {
            t = MachPortType.DeadName;
        }
        else
        {
            IpcEntry? e = LookupChecked(call.Space, name);
            if (e is null)
            {
                return KernReturn.InvalidName;
            }
            t = e.Type | (e.DnRequest ? MachPortType.DnRequest : 0);
        }
        if (ptype is not null)
        {
            *ptype = t;
        }
        return KernReturn.Success;
    }

    public KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous)
    {
        try
        {
            KernReturn kr = ResolveSpace(task, out IpcSpace s);
            if (kr != KernReturn.Success)
            {
                return kr;
            }
            IpcSpace caller = CurrentTask.Space;
            // The MIG request carries notify as a mach_port_send_once_t port descriptor: it is copied in
            // first (a bad name fails the send), and a failing routine destroys the request, so the
            // send-once right is destroyed (which sends MACH_NOTIFY_SEND_ONCE to the notify port).
            KRight so = KRight.None(notify);
            if (MachPortName.IsValid(notify))
            {
                if (notifyPoly is not (MachMsgType.MakeSendOnce or MachMsgType.MoveSendOnce))
                {
                    return (KernReturn)MigReturn.TypeError;
                }
                using (caller.Lock.EnterScope())
                {
                    kr = caller.Active ? CopyinRight(caller, notify, notifyPoly, deadOk: true, out so) : KernReturn.InvalidTask;
                }
                if (kr != KernReturn.Success)
                {
                    return (KernReturn)MachMsgReturn.SendInvalidRight;
                }
            }
            IpcPort? oldNotify = null;
            using (s.Lock.EnterScope())
            {
                kr = s.Active ? RequestNotification(s, name, msgid, sync, so, ref oldNotify) : KernReturn.InvalidTask;
            }
            if (kr != KernReturn.Success)
            {
                ReleaseKRight(so);
                return kr;
            }
            uint prev = MachPortName.Null;
            if (oldNotify is not null)
            {
                var old = new KRight { Port = oldNotify, Type = MachMsgType.PortSendOnce };
                if (previous is null)
                {
                    ReleaseKRight(old);
                }
                else if ((kr = CopyoutToSpace(caller, old, out prev)) != KernReturn.Success)
                {
                    return MigReplyLost(kr);
                }
            }
            if (previous is not null)
            {
                *previous = prev;
            }
            return KernReturn.Success;
        }
        finally
        {
            Flush();
        }
    }

    /// <summary>The routine proper (space locked); the request's send-once right is <paramref name="so"/>.</summary>
    private KernReturn RequestNotification(IpcSpace s, uint name, int msgid, uint sync, in KRight so, ref IpcPort? previous)
    {
        if (so.Port is null && so.Passthrough == MachPortName.Dead)
        {
            return KernReturn.InvalidCapability; // D1
        }
        if (so.Port is { Active: false })
        {
            return KernReturn.InvalidCapability;
        }
        IpcPort? notify = so.Port;
        switch (msgid)
        {
            case MachNotify.PortDestroyed:
            {
                if (sync != 0)
                {
                    return KernReturn.InvalidValue; // D8
                }
                if (!MachPortName.IsValid(name))
                {
                    return KernReturn.InvalidRight;
                }
                KernReturn kr = TranslateReceive(s, name, out IpcPort p);
                if (kr != KernReturn.Success)
                {
                    return kr;
                }
                using (p.Lock.EnterScope())
                {
                    if (p.PdRequest is not null)
                    {
                        return KernReturn.Failure;
                    }
                    p.PdRequest = notify;
                }
                return KernReturn.Success;
            }
            case MachNotify.NoSenders:
            {
                if (!MachPortName.IsValid(name))
                {
                    return KernReturn.InvalidRight; // D2
                }
                KernReturn kr = TranslateReceive(s, name, out IpcPort p);
                if (kr != KernReturn.Success)
                {
                    return kr;
                }
                using (p.Lock.EnterScope())
                {
                    previous = p.NsRequest;
                    p.NsRequest = null;
                    if (notify is not null && p.SRights == 0 && sync <= p.MsCount)
                    {
                        NotifyNoSenders(notify, p.MsCount);
                    }
                    else
                    {
                        p.NsRequest = notify;
                    }
                }
                return KernReturn.Success;
            }
            case MachNotify.DeadName:
            {
                if (!MachPortName.IsValid(name))
                {
                    return KernReturn.InvalidArgument; // D5
                }
                IpcEntry? e = LookupChecked(s, name);
                if (e is null)
                {
                    return KernReturn.InvalidName;
                }
                if (e.Has(MachPortType.PortSet))
                {
                    return KernReturn.InvalidRight;
                }
                if (e.Has(MachPortType.DeadName))
                {
                    return KernReturn.InvalidArgument; // D6 (xnu-8792 and later)
                }
                IpcPort p = e.Port!;
                using (p.Lock.EnterScope())
                {
                    if (p.Active)
                    {
                        p.DnRequests ??= new();
                        for (int i = 0; i < p.DnRequests.Count; i++)
                        {
                            if (p.DnRequests[i].Space == s && p.DnRequests[i].Name == name)
                            {
                                previous = p.DnRequests[i].Notify;
                                p.DnRequests.RemoveAt(i);
                                break;
                            }
                        }
                        if (notify is null)
                        {
                            e.DnRequest = false;
                        }
                        else
                        {
                            p.DnRequests.Add(new DeadNameRequest { Space = s, Name = name, Notify = notify });
                            e.DnRequest = true;
                        }
                        return KernReturn.Success;
                    }
                }
                CheckDead(s, e); // died since the lookup: ipc_right_request_alloc's ipc_right_check sees it (D6)
                return KernReturn.InvalidArgument;
            }
            default:
                // SEND_POSSIBLE is not modelled; SEND_ONCE / PORT_DELETED cannot be requested (D1).
                return KernReturn.InvalidValue;
        }
    }

    public KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        if (flavor != MachPortLimits.LimitsInfoFlavor)
        {
            return KernReturn.InvalidArgument;
        }
        if (portInfoCount < MachPortLimits.LimitsInfoCount || portInfo is null)
        {
            return KernReturn.Failure; // E2
        }
        uint qlimit = (uint)portInfo[0];
        if (qlimit > MachPortLimits.QLimitMax)
        {
            return KernReturn.InvalidValue;
        }
        if (!MachPortName.IsValid(name))
        {
            return KernReturn.InvalidRight;
        }
        kr = TranslateReceive(call.Space, name, out IpcPort p);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        using (p.Lock.EnterScope())
        {
            SetQLimit(p, qlimit);
        }
        return KernReturn.Success;
    }

    public KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        if (portInfoCount is null)
        {
            return KernReturn.InvalidArgument;
        }
        uint need = flavor switch
        {
            MachPortLimits.LimitsInfoFlavor => MachPortLimits.LimitsInfoCount,
            ReceiveStatusFlavor => ReceiveStatusCount,
            _ => 0,
        };
        if (need == 0)
        {
            return KernReturn.InvalidArgument;
        }
        if (*portInfoCount < need || portInfo is null)
        {
            return KernReturn.Failure;
        }
        if (!MachPortName.IsValid(name))
        {
            if (flavor == MachPortLimits.LimitsInfoFlavor)
            {
                *portInfoCount = 0; // E3
                return KernReturn.Success;
            }
            return KernReturn.InvalidRight;
        }
        kr = TranslateReceive(call.Space, name, out IpcPort p);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        using (p.Lock.EnterScope())
        {
            if (flavor == MachPortLimits.LimitsInfoFlavor)
            {
                portInfo[0] = (int)p.QLimit;
            }
            else
            {
                portInfo[0] = p.InSet ? 1 : 0;            // mps_pset
                portInfo[1] = (int)p.Seqno;               // mps_seqno
                portInfo[2] = (int)p.MsCount;             // mps_mscount
                portInfo[3] = (int)p.QLimit;              // mps_qlimit
                portInfo[4] = p.Queue.Count;              // mps_msgcount
                portInfo[5] = (int)p.SoRights;            // mps_sorights
                portInfo[6] = p.SRights > 0 ? 1 : 0;      // mps_srights
                portInfo[7] = p.PdRequest is not null ? 1 : 0;
                portInfo[8] = p.NsRequest is not null ? 1 : 0;
                portInfo[9] = 0;                          // mps_flags
            }
        }
        *portInfoCount = need;
        return KernReturn.Success;
    }

    /// <summary>
    /// <c>ipc_port_translate_receive</c> (space locked): the port whose receive right <paramref name="name"/> names;
    /// KERN_INVALID_NAME for an unknown name, KERN_INVALID_RIGHT for any other right.
    /// </summary>
    private static KernReturn TranslateReceive(IpcSpace s, uint name, out IpcPort p)
    {
        p = null!;
        IpcEntry? e = LookupChecked(s, name);
        if (e is null)
        {
            return KernReturn.InvalidName;
        }
        if (!e.Has(MachPortType.Receive))
        {
            return KernReturn.InvalidRight;
        }
        p = e.Port!;
        return KernReturn.Success;
    }

    private static KernReturn LookupMemberAndSet(IpcSpace s, uint name, uint pset, out IpcPort? port, out IpcPortSet? set)
    {
        port = null;
        set = null;
        if (!MachPortName.IsValid(name) || !MachPortName.IsValid(pset))
        {
            return KernReturn.InvalidRight;
        }
        IpcEntry? e = LookupChecked(s, name);
        IpcEntry? se = LookupChecked(s, pset);
        if (e is null || se is null)
        {
            return KernReturn.InvalidName;
        }
        if (!e.Has(MachPortType.Receive) || se.PortSet is null)
        {
            return KernReturn.InvalidRight;
        }
        port = e.Port;
        set = se.PortSet;
        return KernReturn.Success;
    }

    public KernReturn PortInsertMember(uint task, uint name, uint pset)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        kr = LookupMemberAndSet(call.Space, name, pset, out IpcPort? p, out IpcPortSet? set);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        using (p!.Lock.EnterScope())
        {
            if (p.Sets is not null && p.Sets.Contains(set!))
            {
                return KernReturn.AlreadyInSet; // C14
            }
            AddMember(p, set!);
        }
        return KernReturn.Success;
    }

    /// <summary><c>ipc_mqueue_add_locked</c> (space and port locked; takes the set's lock).</summary>
    private void AddMember(IpcPort p, IpcPortSet set)
    {
        using (set.Lock.EnterScope())
        {
            (p.Sets ??= new()).Add(set);
            set.Members.Add(p);
            // Queued messages go to threads already waiting on the set (B5 note).
            ServeSetWaiters(p, set); // and preposts the set if messages remain (ipc_mqueue_add_locked)
        }
    }

    public KernReturn PortExtractMember(uint task, uint name, uint pset)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        kr = LookupMemberAndSet(call.Space, name, pset, out IpcPort? p, out IpcPortSet? set);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        using (p!.Lock.EnterScope())
        {
            if (p.Sets is null || !p.Sets.Remove(set!))
            {
                return KernReturn.NotInSet;
            }
            using (set!.Lock.EnterScope())
            {
                set.RemoveMember(p);
            }
        }
        return KernReturn.Success;
    }

    public KernReturn PortMoveMember(uint task, uint member, uint after)
    {
        using var call = new SpaceCall(this, task);
        if (call.Failed(out KernReturn kr))
        {
            return kr;
        }
        IpcSpace s = call.Space;
        if (!MachPortName.IsValid(member))
        {
            return KernReturn.InvalidRight;
        }
        kr = TranslateReceive(s, member, out IpcPort p);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        IpcPortSet? target = null;
        if (after != MachPortName.Null)
        {
            if (after == MachPortName.Dead)
            {
                return KernReturn.InvalidRight;
            }
            IpcEntry? se = LookupChecked(s, after);
            if (se is null)
            {
                return KernReturn.InvalidName;
            }
            if (se.PortSet is null)
            {
                return KernReturn.InvalidRight;
            }
            target = se.PortSet;
        }
        using (p.Lock.EnterScope())
        {
            if (target is null && !p.InSet)
            {
                return KernReturn.NotInSet; // C14
            }
            bool wasInTarget = false;
            if (p.Sets is { } sets)
            {
                foreach (IpcPortSet old in sets)
                {
                    if (old == target)
                    {
                        wasInTarget = true;
                        continue;
                    }
                    using (old.Lock.EnterScope())
                    {
                        old.RemoveMember(p);
                    }
                }
                sets.Clear();
                if (wasInTarget)
                {
                    sets.Add(target!);
                }
            }
            if (target is not null && !wasInTarget)
            {
                AddMember(p, target);
            }
        }
        return KernReturn.Success;
    }

    public KernReturn VmDeallocate(uint task, ulong address, ulong size)
    {
        KernReturn kr = ResolveSpace(task, out IpcSpace s);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        // Regions the simulator handed out are freed; like vm_deallocate on an unmapped range, any other address
        // is a successful no-op. The task's map lock, not its space lock, guards its regions.
        s.Task.Vm.Deallocate(address);
        return KernReturn.Success;
    }

    public KernReturn TaskGetSpecialPort(uint task, int which, uint* port)
    {
        try
        {
            KernReturn kr = ResolveSpace(task, out IpcSpace s);
            if (kr != KernReturn.Success)
            {
                return kr;
            }
            IpcPort target;
            if (which == MachPortName.TaskBootstrapPort)
            {
                target = _bootstrapPort; // F7
            }
            else if (which == TaskKernelPort)
            {
                target = s.Task.TaskPort;
            }
            else
            {
                return KernReturn.InvalidArgument;
            }
            Interlocked.Increment(ref target.SRights);
            kr = CopyoutToSpace(CurrentTask.Space, new KRight { Port = target, Type = MachMsgType.PortSend }, out uint name);
            if (kr != KernReturn.Success)
            {
                return MigReplyLost(kr);
            }
            if (port is not null)
            {
                *port = name;
            }
            return KernReturn.Success;
        }
        finally
        {
            Flush();
        }
    }

    /// <summary>
    /// libsyscall's <c>mach_msg_destroy</c> (libsyscall/mach/mach_msg.c), a user-level walk through the ordinary
    /// calls: each right is released by its type (<c>mach_msg_destroy_port</c>, lines 331-364), an out-of-line
    /// region or port array is freed only when its descriptor says <c>deallocate</c> (lines 434 and 470), a
    /// volatile region is skipped ("Just skip it", line 446), and <c>msgh_local_port</c> is left alone ("The
    /// msgh_local_port field doesn't hold a port right", line 397). The walk stops at <c>msgh_size</c> and at an
    /// unknown descriptor type, where libsyscall would read past the message.
    /// </summary>
    public void MsgDestroy(MachMsgHeader* msg)
    {
        if (msg is null)
        {
            return;
        }
        uint self = TaskSelf();
        DestroyPortByType(self, msg->RemotePort, msg->RemoteDisposition);
        DestroyPortByType(self, msg->VoucherPort, msg->VoucherDisposition);
        if (!msg->IsComplex || msg->Size < MachMsgBase.SizeOf)
        {
            return;
        }
        byte* b = (byte*)msg;
        uint count = *(uint*)(b + MachMsgHeader.SizeOf);
        uint off = MachMsgBase.SizeOf;
        for (uint i = 0; i < count && off + 12 <= msg->Size; i++)
        {
            var type = (MachMsgDescriptorType)b[off + 11];
            bool deallocate = b[off + 8] != 0;
            switch (type)
            {
                case MachMsgDescriptorType.Port:
                    DestroyPortByType(self, *(uint*)(b + off), (MachMsgType)b[off + 10]);
                    off += 12;
                    continue;
                case MachMsgDescriptorType.GuardedPort:
                    DestroyPortByType(self, *(uint*)(b + off + 12), (MachMsgType)b[off + 10]);
                    break;
                case MachMsgDescriptorType.Ool:
                    if (deallocate && *(uint*)(b + off + 12) != 0)
                    {
                        VmDeallocate(self, *(ulong*)(b + off), *(uint*)(b + off + 12));
                    }
                    break;
                case MachMsgDescriptorType.OolVolatile:
                    break; // libsyscall: "Just skip it"
                case MachMsgDescriptorType.OolPorts:
                {
                    uint n = *(uint*)(b + off + 12);
                    var names = (uint*)*(ulong*)(b + off);
                    if (names is not null)
                    {
                        for (uint k = 0; k < n; k++)
                        {
                            DestroyPortByType(self, names[k], (MachMsgType)b[off + 10]);
                        }
                        if (deallocate && n != 0)
                        {
                            VmDeallocate(self, (ulong)names, n * 4ul);
                        }
                    }
                    break;
                }
                default:
                    return;
            }
            off += 16;
        }
    }

    /// <summary>
    /// libsyscall's <c>mach_msg_destroy_port</c> (libsyscall/mach/mach_msg.c, lines 331-364): MOVE_SEND /
    /// MOVE_SEND_ONCE deallocate, MOVE_RECEIVE drops the receive right, and MAKE_SEND / MAKE_SEND_ONCE (a message
    /// that was never sent) make the right and destroy it, so the side effects of a send happen (a send-once
    /// notification, a no-senders request firing).
    /// </summary>
    internal void DestroyPortByType(uint self, uint name, MachMsgType type)
    {
        if (!MachPortName.IsValid(name))
        {
            return;
        }
        switch (type)
        {
            case MachMsgType.MoveReceive:
                PortModRefs(self, name, MachPortRight.Receive, -1);
                break;
            case MachMsgType.MoveSend:
            case MachMsgType.MoveSendOnce:
                PortDeallocate(self, name);
                break;
            case MachMsgType.MakeSend:
                PortInsertRight(self, name, name, MachMsgType.MakeSend);
                PortDeallocate(self, name);
                break;
            case MachMsgType.MakeSendOnce:
            {
                uint sendOnce;
                MachMsgType made;
                if (PortExtractRight(self, name, MachMsgType.MakeSendOnce, &sendOnce, &made) == KernReturn.Success)
                {
                    PortDeallocate(self, sendOnce);
                }
                break;
            }
        }
    }

    /// <summary><c>ipc_mqueue_set_qlimit_locked</c> (port locked): raising the limit wakes up to (new - old) senders, each with a slot.</summary>
    private static void SetQLimit(IpcPort p, uint qlimit)
    {
        uint old = p.QLimit;
        p.QLimit = qlimit;
        for (uint i = old; i < qlimit && p.Senders.First is Waiter w; i++)
        {
            p.MsgCount++;
            w.Wake(WakeReason.SlotGranted);
        }
    }

    /// <summary>
    /// <c>mach_port_construct</c> (osfmk/ipc/mach_port.c): a receive right with the options' attributes. The
    /// option checks follow XNU's order. Reply-port enforcement, guards, service/connection ports and exception
    /// ports are not modelled: those flags fail with KERN_NOT_SUPPORTED rather than yield a port that silently
    /// lacks the protection asked for. MPO_PROVISIONAL_REPLY_PORT is an ordinary port, as on macOS where
    /// <c>provisional_reply_port_enforced</c> is off (IPC_PORT_INIT_PROVISIONAL_REPLY only marks the port).
    /// </summary>
    public KernReturn PortConstruct(uint task, MachPortOptions* options, ulong context, uint* name)
    {
        if (options is null)
        {
            return KernReturn.InvalidArgument; // the MIG stub cannot copy in a NULL options pointer
        }
        MachPortConstructFlags flags = options->Flags;
        MachPortConstructFlags one = flags & (MachPortConstructFlags.ServicePort | MachPortConstructFlags.ConnectionPort | MachPortConstructFlags.TgBlockTracking);
        if ((one & (one - 1)) != 0)
        {
            return KernReturn.InvalidArgument; // "at most one of the listed flags can be set"
        }
        one = flags & (MachPortConstructFlags.ReplyPort | MachPortConstructFlags.EnforceReplyPortSemantics
                       | MachPortConstructFlags.ExceptionPort | MachPortConstructFlags.ProvisionalReplyPort);
        if ((one & (one - 1)) != 0)
        {
            return KernReturn.InvalidArgument;
        }
        if ((flags & (MachPortConstructFlags.ServicePort | MachPortConstructFlags.TgBlockTracking)) != 0)
        {
            return KernReturn.Denied; // launchd / the window server only (release kernels)
        }
        const MachPortConstructFlags notModelled = MachPortConstructFlags.ContextAsGuard | MachPortConstructFlags.Strict
            | MachPortConstructFlags.ImmovableReceive | MachPortConstructFlags.ConnectionPort | MachPortConstructFlags.ReplyPort
            | MachPortConstructFlags.EnforceReplyPortSemantics | MachPortConstructFlags.ExceptionPort;
        if ((flags & notModelled) != 0 || (uint)flags > 0xFFFF)
        {
            return KernReturn.NotSupported;
        }
        if ((flags & MachPortConstructFlags.QLimit) != 0 && options->QLimit > MachPortLimits.QLimitMax)
        {
            return KernReturn.InvalidValue;
        }
        uint local;
        KernReturn kr = PortAllocate(task, MachPortRight.Receive, &local);
        if (kr != KernReturn.Success)
        {
            return kr;
        }
        using (var call = new SpaceCall(this, task))
        {
            if (!call.Failed(out _) && call.Space.Lookup(local) is { Port: IpcPort p })
            {
                using (p.Lock.EnterScope())
                {
                    if ((flags & MachPortConstructFlags.QLimit) != 0)
                    {
                        SetQLimit(p, options->QLimit);
                    }
                    p.Context = context;
                    p.ProvisionalReplyPort = (flags & MachPortConstructFlags.ProvisionalReplyPort) != 0;
                }
            }
        }
        if ((flags & MachPortConstructFlags.InsertSendRight) != 0)
        {
            kr = PortInsertRight(task, local, local, MachMsgType.MakeSend);
            if (kr != KernReturn.Success)
            {
                PortModRefs(task, local, MachPortRight.Receive, -1);
                return kr;
            }
        }
        if (name is not null)
        {
            *name = local;
        }
        return KernReturn.Success;
    }

    /// <summary>
    /// <c>mach_port_names</c> (osfmk/ipc/mach_port.c): every name in the space with its type, in two arrays the
    /// kernel allocates in the caller's space (out-of-line memory the caller frees with vm_deallocate).
    /// </summary>
    public KernReturn PortNames(uint task, uint** names, uint* namesCount, MachPortType** types, uint* typesCount)
    {
        List<PortRightInfo> rights;
        using (var call = new SpaceCall(this, task))
        {
            if (call.Failed(out KernReturn kr))
            {
                return kr;
            }
            rights = RightsLocked(call.Space);
        }
        // The two arrays come back out of line: regions of the caller's, as the MIG reply's would be.
        uint count = (uint)rights.Count;
        SimulatedTask caller = CurrentTask;
        uint* n = count == 0 ? null : (uint*)VmMap.AllocateBlock(count * 4);
        var t = count == 0 ? null : (MachPortType*)VmMap.AllocateBlock(count * 4);
        for (int i = 0; i < rights.Count; i++)
        {
            n[i] = rights[i].Name;
            t[i] = rights[i].Type;
        }
        if (count != 0)
        {
            caller.Vm.Add((byte*)n, count * 4);
            caller.Vm.Add((byte*)t, count * 4);
        }
        if (names is not null)
        {
            *names = n;
        }
        if (namesCount is not null)
        {
            *namesCount = count;
        }
        if (types is not null)
        {
            *types = t;
        }
        if (typesCount is not null)
        {
            *typesCount = count;
        }
        return KernReturn.Success;
    }

    /// <summary>
    /// <c>pid_for_task</c> (bsd/kern/kern_proc.c): <c>port_name_to_task_name</c> on the caller's name; the pid is
    /// written (-1 on failure) whatever the result.
    /// </summary>
    public KernReturn PidForTask(uint task, int* pid)
    {
        int result = -1;
        KernReturn kr = KernReturn.Failure;
        SimulatedTask caller = CurrentTask;
        using (caller.Space.Lock.EnterScope())
        {
            if (caller.Space.Active && MachPortName.IsValid(task))
            {
                IpcEntry? e = LookupChecked(caller.Space, task);
                if (e is { Port: { Kind: KObjectKind.Task, Active: true, KObject: SimulatedTask target } } && e.Has(MachPortType.Send))
                {
                    result = target.Pid;
                    kr = KernReturn.Success;
                }
            }
        }
        if (pid is not null)
        {
            *pid = result;
        }
        return kr;
    }

    /// <summary>The task's <c>bootstrap_port</c>: the send right it was born with (<see cref="SimulatedTask.BootstrapName"/>).</summary>
    public uint BootstrapPort() => CurrentTask.BootstrapName;
}
