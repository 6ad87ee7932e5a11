using System;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// mach_msg receive half: ipc_mqueue_receive / ipc_mqueue_post / ipc_kmsg_copyout (section B).
// Locks: the name is resolved to a port (or set) that is then locked and confirms it (ipc_mqueue_copyin; see
// TryLockReceiveRight); a message leaves its queue under the port lock alone; it is copied out into the
// receiver's buffer with no lock held, and its rights into the receiver's space under that space's lock.
internal sealed unsafe partial class SimulatedKernel
{
    private const MachMsgOption RcvGuardedDesc = (MachMsgOption)0x1000;
    private const int MachMsgIpcSpace = 0x00002000; // MACH_MSG_IPC_SPACE: no room in the space for a right

    private MachMsgReturn Receive(SimulatedTask task, Waiter self, byte* buf, MachMsgOption option, uint rcvSize, uint rcvName, uint timeout)
    {
        IpcSpace s = task.Space;
        if (buf is null)
        {
            rcvSize = 0;
        }
        if (!TryLockReceiveRight(s, rcvName, out IpcPort? port, out IpcPortSet? set))
        {
            return MachMsgReturn.RcvInvalidName; // B1
        }
        uint trailerSize = (uint)MachTrailerRequest.SizeOf(option);
        bool hasTimeout = (option & MachMsgOption.RcvTimeout) != 0;
        long deadline = Deadline(hasTimeout, timeout);
        return port is not null
            ? ReceiveOnPort(task, self, port, buf, option, rcvSize, trailerSize, hasTimeout, deadline)
            : ReceiveOnSet(task, self, set!, buf, option, rcvSize, trailerSize, hasTimeout, deadline);
    }

    /// <summary>
    /// <c>ipc_mqueue_copyin</c>: the port or port set <paramref name="name"/> denotes in <paramref name="s"/>,
    /// returned locked. The entry is first read without the space lock and the object, once locked, confirms it is
    /// still this space's under this name: a port's receiver and its name there change only under the port's lock
    /// (a set's name and space never change; it only dies). Otherwise the lookup is done again under the space lock.
    /// </summary>
    private static bool TryLockReceiveRight(IpcSpace s, uint name, out IpcPort? port, out IpcPortSet? set)
    {
        port = null;
        set = null;
        IpcEntry? e = s.Lookup(name);
        if (e?.Port is IpcPort p && e.Has(MachPortType.Receive))
        {
            p.Lock.Enter();
            if (p.Receiver == s && p.ReceiverName == name && p.Active)
            {
                port = p;
                return true;
            }
            p.Lock.Exit();
        }
        else if (e?.PortSet is IpcPortSet ps)
        {
            ps.Lock.Enter();
            if (ps.Active && ps.Space == s && ps.Name == name)
            {
                set = ps;
                return true;
            }
            ps.Lock.Exit();
        }
        using (s.Lock.EnterScope())
        {
            e = s.Active ? s.Lookup(name) : null;
            if (e is not null)
            {
                CheckDead(s, e);
            }
            if (e?.PortSet is IpcPortSet locked)
            {
                set = locked;
                set.Lock.Enter();
                return true;
            }
            if (e is not null && e.Has(MachPortType.Receive))
            {
                port = e.Port!;
                port.Lock.Enter(); // held from here: the receive right cannot move away before we look
                return true;
            }
            return false;
        }
    }

    /// <summary>Receive on a port, which is locked on entry and unlocked on return.</summary>
    private MachMsgReturn ReceiveOnPort(SimulatedTask task, Waiter w, IpcPort p, byte* buf, MachMsgOption option, uint rcvSize, uint trailerSize, bool hasTimeout, long deadline)
    {
        if (p.Queue.Peek is KMsg head)
        {
            if ((ulong)rcvSize < (ulong)head.Size + trailerSize && (option & MachMsgOption.RcvLarge) != 0)
            {
                uint name = DestName(task.Space, p);
                p.Lock.Exit();
                ReportTooLarge(buf, option, rcvSize, head.Size, name); // B8: stays queued
                return MachMsgReturn.RcvTooLarge;
            }
            return ReceiveHead(task, p, buf, option, rcvSize, trailerSize);
        }
        return WaitOn(p.Receivers, p.Lock, w, task, buf, option, rcvSize, hasTimeout, deadline);
    }

    /// <summary>
    /// Receive on a port set, which is locked on entry and unlocked on return. A member's lock comes before the
    /// set's: it is tried while holding the set's, and if that fails taken in order (waitq_set_first_prepost).
    /// </summary>
    private MachMsgReturn ReceiveOnSet(SimulatedTask task, Waiter w, IpcPortSet set, byte* buf, MachMsgOption option, uint rcvSize, uint trailerSize, bool hasTimeout, long deadline)
    {
        while (true)
        {
            if (!set.Active)
            {
                set.Lock.Exit();
                return MachMsgReturn.RcvPortChanged; // destroyed while we changed locks
            }
            // I5: the served member moves to the back of the prepost queue before its message is even looked at, so
            // a MACH_RCV_LARGE too-large result rotates the set too (osfmk/ipc/ipc_mqueue.c
            // ipc_mqueue_receive_on_thread_and_unlock: "Put the message at the back of the prepost list if it's not
            // a PEEK", then ipc_mqueue_select_on_thread_locked).
            if (set.FirstPrepost() is IpcPort src)
            {
                if (!src.Lock.TryEnter())
                {
                    set.Lock.Exit();
                    src.Lock.Enter();
                    set.Lock.Enter();
                }
                if (!set.Active || src.Queue.Peek is not KMsg head || src.Sets?.Contains(set) != true)
                {
                    src.Lock.Exit();
                    continue; // emptied or moved meanwhile
                }
                if ((ulong)rcvSize < (ulong)head.Size + trailerSize && (option & MachMsgOption.RcvLarge) != 0)
                {
                    uint name = DestName(task.Space, src);
                    src.Lock.Exit();
                    set.Lock.Exit();
                    ReportTooLarge(buf, option, rcvSize, head.Size, name); // B8: stays queued
                    return MachMsgReturn.RcvTooLarge;
                }
                set.Lock.Exit();
                return ReceiveHead(task, src, buf, option, rcvSize, trailerSize);
            }
            return WaitOn(set.Receivers, set.Lock, w, task, buf, option, rcvSize, hasTimeout, deadline);
        }
    }

    /// <summary>
    /// Nothing to receive on the locked port or set (<paramref name="owner"/>): B4's immediate timeout, or wait on its
    /// <paramref name="list"/> with the receive parameters a sender needs to copy a message out to us. Returns unlocked.
    /// </summary>
    private MachMsgReturn WaitOn(WaitList list, KernelLock owner, Waiter w, SimulatedTask task, byte* buf, MachMsgOption option, uint rcvSize, bool hasTimeout, long deadline)
    {
        if (hasTimeout && Environment.TickCount64 >= deadline)
        {
            owner.Exit();
            return MachMsgReturn.RcvTimedOut; // B4
        }
        w.Reset();
        w.Option = option;
        w.RcvSize = rcvSize;
        w.RcvTask = task;
        w.RcvBuf = buf;
        if (w.Async is AsyncMsg op)
        {
            return WaitAsync(op, list, owner, deadline); // no thread sleeps: ipc_mqueue_receive_continue's analogue
        }
        list.Add(w);
        owner.Exit();
        return Block(w, owner, deadline) ? AfterWake(w, buf, option, rcvSize) : MachMsgReturn.RcvTimedOut;
    }

    /// <summary>Puts an asynchronous trap's waiter on <paramref name="list"/> (owner locked; unlocked on return).</summary>
    private static MachMsgReturn WaitAsync(AsyncMsg op, WaitList list, KernelLock owner, long deadline)
    {
        int generation = op.Arm(owner);
        list.Add(op.Waiter);
        owner.Exit();
        op.Waiting(generation, deadline);
        return AsyncMsg.Pending;
    }

    private static MachMsgReturn AfterWake(Waiter w, byte* buf, MachMsgOption option, uint rcvSize)
    {
        switch (w.Reason)
        {
            case WakeReason.Completed:
                return w.Result; // copied out by the thread that handed us the message
            case WakeReason.TooLarge:
                ReportTooLarge(buf, option, rcvSize, w.TooLargeSize, w.TooLargeName); // B10
                return MachMsgReturn.RcvTooLarge;
            default:
                return MachMsgReturn.RcvPortChanged; // B5
        }
    }

    /// <summary>Takes the head of <paramref name="p"/>'s queue (port locked; unlocked on return) and copies it out.</summary>
    private MachMsgReturn ReceiveHead(SimulatedTask task, IpcPort p, byte* buf, MachMsgOption option, uint rcvSize, uint trailerSize)
    {
        KMsg m = Dequeue(p);
        uint destName = DestName(task.Space, p);
        ulong context = p.Context;
        ConsumeDestLocked(m, p);
        p.Lock.Exit();
        return CopyoutToUser(task, m, destName, context, buf, option, rcvSize, trailerSize);
    }

    /// <summary>
    /// A deferred hand-off: a sender (or a set change) took the blocked receiver off its list and gave it a message;
    /// with no lock held now, copy the message out into the receiver's buffer, then wake it.
    /// </summary>
    private void HandOff(Waiter w)
    {
        KMsg m = w.Kmsg!;
        w.Kmsg = null;
        uint trailerSize = (uint)MachTrailerRequest.SizeOf(w.Option);
        w.Result = CopyoutToUser(w.RcvTask!, m, w.DestName, w.Context, w.RcvBuf, w.Option, w.RcvSize, trailerSize);
        w.Wake(WakeReason.Completed);
    }

    private static void ReportTooLarge(byte* buf, MachMsgOption option, uint rcvSize, uint size, uint name)
    {
        if (rcvSize >= 8)
        {
            ((MachMsgHeader*)buf)->Size = size;
        }
        if ((option & MachMsgOption.RcvLargeIdentity) != 0 && rcvSize >= 16)
        {
            ((MachMsgHeader*)buf)->LocalPort = name;
        }
    }

    /// <summary>The receiver's name for the port a message came from (B13); port locked.</summary>
    private static uint DestName(IpcSpace s, IpcPort p) =>
        !p.Active ? MachPortName.Dead : p.Receiver == s ? p.ReceiverName : MachPortName.Null;

    /// <summary><c>ipc_kmsg_dequeue</c> + <c>ipc_mqueue_release_msgcount</c>: takes the head, assigns its seqno, frees its slot.</summary>
    private static KMsg Dequeue(IpcPort p)
    {
        KMsg m = p.Queue.Dequeue()!;
        m.Seqno = p.Seqno++;
        ReleaseSlot(p);
        return m;
    }

    /// <summary>One slot fewer; if that un-fills the queue, a blocked sender inherits the slot (A37). Port locked.</summary>
    private static void ReleaseSlot(IpcPort p)
    {
        if (p.MsgCount > 0)
        {
            p.MsgCount--;
        }
        if (p.MsgCount < p.QLimit && p.Senders.First is Waiter sender)
        {
            p.MsgCount++;
            sender.Wake(WakeReason.SlotGranted);
        }
    }

    /// <summary>
    /// <c>ipc_mqueue_post</c> (port locked): hands the message to a thread waiting on the port, else to one waiting
    /// on a set the port is in, else queues it. A receiver that asked for MACH_RCV_LARGE and cannot fit it is woken
    /// with TOO_LARGE and the message is offered to the next one (B10). <paramref name="reserved"/>: the sender
    /// already holds a slot (A37).
    /// </summary>
    private void Post(IpcPort p, KMsg m, bool reserved)
    {
        while (p.Receivers.First is Waiter w)
        {
            if (TooLargeFor(w, p, m))
            {
                continue;
            }
            m.Seqno = p.Seqno++;
            GiveTo(w, p, m);
            if (reserved)
            {
                ReleaseSlot(p);
            }
            return;
        }
        p.Queue.Enqueue(m);
        if (!reserved)
        {
            p.MsgCount++;
        }
        if (p.Sets is { Count: > 0 } sets)
        {
            foreach (IpcPortSet set in sets)
            {
                using (set.Lock.EnterScope())
                {
                    ServeSetWaiters(p, set);
                }
            }
        }
    }

    /// <summary>Queued messages of <paramref name="p"/> go to threads waiting on <paramref name="set"/> (port and set locked).</summary>
    private void ServeSetWaiters(IpcPort p, IpcPortSet set)
    {
        while (set.Active && p.Queue.Peek is KMsg head && set.Receivers.First is Waiter w)
        {
            if (!TooLargeFor(w, p, head))
            {
                GiveTo(w, p, Dequeue(p));
            }
        }
        if (set.Active && !p.Queue.IsEmpty)
        {
            // No thread took it: the set is preposted (osfmk/kern/waitq.c, the prepost step of a wakeup that found
            // no waiter; ipc_mqueue_add_locked: "Didn't find a thread to wake up but messages are enqueued, prepost
            // the set"), I5.
            set.Prepost(p);
        }
    }

    /// <summary>B10: a MACH_RCV_LARGE waiter that cannot fit <paramref name="m"/> is woken with TOO_LARGE (it leaves the list).</summary>
    private static bool TooLargeFor(Waiter w, IpcPort p, KMsg m)
    {
        uint need = m.Size + (uint)MachTrailerRequest.SizeOf(w.Option);
        if (w.RcvSize >= need || (w.Option & MachMsgOption.RcvLarge) == 0)
        {
            return false;
        }
        w.TooLargeSize = m.Size;
        w.TooLargeName = DestName(w.RcvTask!.Space, p);
        w.Wake(WakeReason.TooLarge);
        return true;
    }

    /// <summary>
    /// Takes <paramref name="w"/> off its list and gives it <paramref name="m"/> (port locked, and the waiter's set
    /// if it waits on one). The copyout runs once this thread has let go of its locks (<see cref="HandOff"/>).
    /// </summary>
    private void GiveTo(Waiter w, IpcPort p, KMsg m)
    {
        w.List!.Remove(w);
        w.Kmsg = m;
        w.DestName = DestName(w.RcvTask!.Space, p);
        w.Context = p.Context;
        ConsumeDestLocked(m, p);
        DeferHandOff(w);
    }

    /// <summary>The message's destination right is used up by its receipt (port locked; it is the destination).</summary>
    private void ConsumeDestLocked(KMsg m, IpcPort p)
    {
        if (m.DestType == MachMsgType.PortSend)
        {
            ReleaseSendLocked(p); // B12: may fire no-senders
        }
        else if (m.DestType == MachMsgType.PortSendOnce)
        {
            Interlocked.Decrement(ref p.SoRights);
        }
        m.Dest = null;
    }

    private MachMsgReturn CopyoutToUser(SimulatedTask task, KMsg m, uint destName, ulong context, byte* buf, MachMsgOption option, uint rcvSize, uint trailerSize)
    {
        IpcSpace s = task.Space;
        if ((ulong)rcvSize < (ulong)m.Size + trailerSize)
        {
            return BareHeader(m, destName, context, buf, rcvSize, trailerSize, MachMsgReturn.RcvTooLarge); // B9
        }
        // The bytes go to the receiver's buffer with no lock held; only the rights need its space locked.
        Buffer.MemoryCopy(m.Data, buf, m.Size, m.Size);
        uint reply = m.Reply.Passthrough;
        bool headerFits = true, bodyFits = true;
        if (m.Reply.Port is not null || m.DescCount > 0)
        {
            using (s.Lock.EnterScope())
            {
                headerFits = s.Active && TryCopyoutRight(s, m.Reply, out reply); // B11, B14, B15
                if (headerFits)
                {
                    m.Reply.Port = null; // now the receiver's
                    if (m.DescCount > 0)
                    {
                        bodyFits = CopyoutDescriptorRights(s, m, buf, option);
                    }
                }
            }
        }
        if (!headerFits)
        {
            // ipc_kmsg_copyout_header failed (the space is dead or full): mach_msg_receive_error's bare header.
            return BareHeader(m, destName, context, buf, rcvSize, trailerSize, (MachMsgReturn)((int)MachMsgReturn.RcvHeaderError | MachMsgIpcSpace));
        }
        var h = (MachMsgHeader*)buf;
        h->Bits = m.OtherBits | (uint)m.Reply.Type | ((uint)m.DestType << 8);
        h->Size = m.Size;
        h->RemotePort = reply;
        h->LocalPort = destName;
        h->VoucherPort = m.Voucher;
        h->Id = m.Id;
        if (m.DescCount > 0)
        {
            CopyoutDescriptorMemory(task, m, buf);
        }
        WriteTrailer(buf + m.Size, trailerSize, trailerSize, m.Seqno, m.Security, m.Audit, context);
        KMsg.Return(m);
        // ipc_kmsg_copyout_body: a right that found no room is destroyed and named MACH_PORT_NULL.
        return bodyFits ? MachMsgReturn.Success : (MachMsgReturn)((int)MachMsgReturn.RcvBodyError | MachMsgIpcSpace);
    }

    /// <summary>
    /// B9 and header errors (mach_msg_receive_error): every right and region in the message is destroyed and the
    /// receiver gets a bare header re-signed by the kernel, carrying <paramref name="result"/>.
    /// </summary>
    private MachMsgReturn BareHeader(KMsg m, uint destName, ulong context, byte* buf, uint rcvSize, uint trailerSize, MachMsgReturn result)
    {
        MachMsgType replyType = m.Reply.Type, destType = m.DestType;
        uint replyName = m.Reply.Port is null ? m.Reply.Passthrough : MachPortName.Null;
        ReleaseKRight(m.Reply);
        m.Reply = default;
        ReleaseDescs(m);
        uint seqno = m.Seqno;
        uint bits = m.OtherBits | (uint)replyType | ((uint)destType << 8);
        int id = m.Id;
        KMsg.Return(m);
        if (rcvSize < MachMsgHeader.SizeOf)
        {
            return MachMsgReturn.RcvInvalidData;
        }
        var h = (MachMsgHeader*)buf;
        h->Bits = bits;
        h->Size = MachMsgHeader.SizeOf;
        h->RemotePort = replyName;
        h->LocalPort = destName;
        h->VoucherPort = 0;
        h->Id = id;
        WriteTrailer(buf + MachMsgHeader.SizeOf, Math.Min(trailerSize, rcvSize - MachMsgHeader.SizeOf), trailerSize, seqno, SecurityToken.Kernel, default, context);
        return result;
    }

    /// <summary>B25: every field filled in, only <paramref name="bytes"/> copied out; size field = the requested size.</summary>
    private static void WriteTrailer(byte* at, uint bytes, uint requested, uint seqno, SecurityToken sec, AuditToken audit, ulong context)
    {
        MachMsgMacTrailer t = default;
        t.Type = MachTrailerRequest.Format0;
        t.Size = requested;
        t.Seqno = seqno;
        t.Sender = sec;
        t.Audit = audit;
        t.Context = context;
        Buffer.MemoryCopy(&t, at, bytes, bytes);
    }

    /// <summary>
    /// B17, B19, B20: descriptor rights into the receiver's space (locked). False if some right found no room: it was
    /// destroyed and named MACH_PORT_NULL.
    /// </summary>
    private bool CopyoutDescriptorRights(IpcSpace s, KMsg m, byte* buf, MachMsgOption option)
    {
        bool fits = true;
        for (int i = 0; i < m.DescCount; i++)
        {
            ref KDesc d = ref m.Descs[i];
            byte* p = buf + d.Offset;
            switch (d.Kind)
            {
                case KDescKind.Port:
                    if (d.UserType == MachMsgDescriptorType.GuardedPort)
                    {
                        if ((option & RcvGuardedDesc) == 0)
                        {
                            ReleaseKRight(d.Right); // B20
                            *(uint*)(p + 12) = MachPortName.Null;
                        }
                        else
                        {
                            *(uint*)(p + 12) = CopyoutOrDestroy(s, d.Right, ref fits);
                        }
                        p[10] = (byte)d.Right.Type;
                    }
                    else
                    {
                        *(uint*)p = CopyoutOrDestroy(s, d.Right, ref fits);
                        p[10] = (byte)d.Right.Type;
                    }
                    d.Right = default;
                    break;
                case KDescKind.OolPorts:
                    if (d.Size != 0 && d.Ports is { } ports)
                    {
                        uint* names = (uint*)VmMap.AllocateBlock(d.Size * 4ul);
                        for (int k = 0; k < d.Size; k++)
                        {
                            names[k] = CopyoutOrDestroy(s, ports[k], ref fits);
                        }
                        d.Ports = null;
                        d.Ool = (byte*)names;
                    }
                    break;
            }
        }
        return fits;
    }

    private uint CopyoutOrDestroy(IpcSpace s, in KRight r, ref bool fits)
    {
        if (TryCopyoutRight(s, r, out uint name))
        {
            return name;
        }
        ReleaseKRight(r);
        fits = false;
        return MachPortName.Null;
    }

    /// <summary>B18, B19: out-of-line regions (and OOL-port name arrays) become regions the receiving task holds.</summary>
    private static void CopyoutDescriptorMemory(SimulatedTask task, KMsg m, byte* buf)
    {
        for (int i = 0; i < m.DescCount; i++)
        {
            ref KDesc d = ref m.Descs[i];
            byte* p = buf + d.Offset;
            switch (d.Kind)
            {
                case KDescKind.Ool:
                    *(ulong*)p = (ulong)d.Ool;
                    if (d.Ool is not null)
                    {
                        task.Vm.Add(d.Ool, d.Size);
                        d.Ool = null;
                    }
                    p[8] = d.Copy == MachMsgCopy.Virtual ? (byte)1 : (byte)0; // B18
                    p[9] = (byte)d.Copy;
                    *(uint*)(p + 12) = d.Size;
                    break;
                case KDescKind.OolPorts:
                    *(ulong*)p = (ulong)d.Ool;
                    if (d.Ool is not null)
                    {
                        task.Vm.Add(d.Ool, d.Size * 4);
                        d.Ool = null;
                    }
                    p[8] = 1; // B19: deallocate TRUE, VIRTUAL_COPY
                    p[9] = (byte)MachMsgCopy.Virtual;
                    p[10] = (byte)d.PortsType;
                    *(uint*)(p + 12) = d.Size;
                    break;
            }
        }
    }

    /// <summary>Releases every descriptor's rights and memory (no port lock held).</summary>
    private void ReleaseDescs(KMsg m)
    {
        for (int i = 0; i < m.DescCount; i++)
        {
            ref KDesc d = ref m.Descs[i];
            switch (d.Kind)
            {
                case KDescKind.Port:
                    ReleaseKRight(d.Right);
                    d.Right = default;
                    break;
                case KDescKind.Ool:
                    if (d.Ool is not null)
                    {
                        VmMap.FreeBlock(d.Ool, d.Size);
                        d.Ool = null;
                    }
                    break;
                case KDescKind.OolPorts:
                    if (d.Ports is { } ps)
                    {
                        d.Ports = null;
                        foreach (KRight r in ps)
                        {
                            ReleaseKRight(r);
                        }
                    }
                    break;
            }
        }
        m.DescCount = 0;
    }

    /// <summary><c>ipc_kmsg_destroy</c>: releases every right and region the message holds (no port lock held).</summary>
    private void DestroyMsg(KMsg m)
    {
        if (m.Dest is IpcPort d)
        {
            m.Dest = null;
            if (m.DestType == MachMsgType.PortSend)
            {
                ReleaseSend(d);
            }
            else if (m.DestType == MachMsgType.PortSendOnce)
            {
                DestroySendOnce(d);
            }
        }
        KRight reply = m.Reply;
        m.Reply = default;
        ReleaseKRight(reply);
        ReleaseDescs(m);
        KMsg.Return(m);
    }
}
