using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// mach_msg receive half: ipc_mqueue_receive / ipc_mqueue_post / ipc_kmsg_copyout (section B).
internal sealed unsafe partial class SimulatedKernel
{
    private const MachMsgOption RcvGuardedDesc = (MachMsgOption)0x1000;

    private MachMsgReturn ReceiveLocked(SimulatedTask task, byte* buf, MachMsgOption option, uint rcvSize, uint rcvName, uint timeout)
    {
        IpcSpace s = task.Space;
        IpcEntry? e = s.Lookup(rcvName);
        if (e is not null)
        {
            CheckDead(s, e);
        }
        IpcPort? port = null;
        IpcPortSet? set = null;
        if (e?.PortSet is IpcPortSet ps)
        {
            set = ps;
        }
        else if (e is not null && e.Has(MachPortType.Receive))
        {
            port = e.Port;
        }
        else
        {
            return MachMsgReturn.RcvInvalidName; // B1
        }
        uint trailerSize = (uint)MachTrailerRequest.SizeOf(option);
        bool hasTimeout = (option & MachMsgOption.RcvTimeout) != 0;
        long deadline = Deadline(hasTimeout, timeout);
        if (buf is null)
        {
            rcvSize = 0;
        }
        while (true)
        {
            // I5: on a set, the served member moves to the back of the prepost queue before its message is even
            // looked at, so a MACH_RCV_LARGE too-large result rotates the set too (ipc_mqueue.c
            // ipc_mqueue_receive_on_thread_and_unlock, then ipc_mqueue_select_on_thread_locked).
            IpcPort? src = port is not null ? (port.Queue.IsEmpty ? null : port) : set!.FirstPrepost();
            if (src is not null)
            {
                KMsg head = src.Queue.Peek!;
                if ((ulong)rcvSize < (ulong)head.Size + trailerSize && (option & MachMsgOption.RcvLarge) != 0)
                {
                    ReportTooLarge(s, buf, option, rcvSize, head.Size, src); // B8: stays queued
                    return MachMsgReturn.RcvTooLarge;
                }
                KMsg m = Dequeue(src);
                return CopyoutToUser(task, m, src, buf, option, rcvSize, trailerSize);
            }
            if (hasTimeout && Environment.TickCount64 >= deadline)
            {
                return MachMsgReturn.RcvTimedOut; // B4
            }
            Waiter w = Waiter.Current;
            w.Reset();
            w.Option = option;
            w.RcvSize = rcvSize;
            w.RcvTask = task;
            w.RcvBuf = buf;
            (port is not null ? port.Receivers : set!.Receivers).Add(w);
            if (BlockReceive(w, deadline))
            {
                return w.Result; // copied out by the sender; the kernel lock is not held here
            }
            if (!w.Done)
            {
                w.List?.Remove(w);
                return MachMsgReturn.RcvTimedOut;
            }
            switch (w.Reason)
            {
                case WakeReason.Completed:
                    return w.Result;
                case WakeReason.TooLarge:
                    ReportTooLarge(s, buf, option, rcvSize, w.TooLargeSize, w.MsgPort!); // B10
                    return MachMsgReturn.RcvTooLarge;
                case WakeReason.PortChanged:
                    return MachMsgReturn.RcvPortChanged; // B5
            }
        }
    }

    /// <summary>
    /// Sleeps with the kernel lock released. Returns true, WITHOUT retaking the lock, when a sender has
    /// already completed the receive; otherwise retakes the lock and returns false.
    /// </summary>
    private bool BlockReceive(Waiter w, long deadline)
    {
        _lock.Exit();
        Waiter.FlushDeferredWakes();
        w.Sleep(deadline);
        if (w.Done && w.Reason == WakeReason.Completed)
        {
            return true;
        }
        _lock.Enter();
        return false;
    }

    /// <summary>Gives <paramref name="m"/> (already dequeued or never queued) to a blocked receiver: copyout in the sender's context, then wake.</summary>
    private void HandOff(IpcPort p, KMsg m, Waiter w)
    {
        w.List?.Remove(w);
        uint trailerSize = (uint)MachTrailerRequest.SizeOf(w.Option);
        w.Result = CopyoutToUser(w.RcvTask!, m, p, w.RcvBuf, w.Option, w.RcvSize, trailerSize);
        w.Wake(WakeReason.Completed);
    }

    private static void ReportTooLarge(IpcSpace s, byte* buf, MachMsgOption option, uint rcvSize, uint size, IpcPort src)
    {
        if (rcvSize >= 8)
        {
            ((MachMsgHeader*)buf)->Size = size;
        }
        if ((option & MachMsgOption.RcvLargeIdentity) != 0 && rcvSize >= 16)
        {
            ((MachMsgHeader*)buf)->LocalPort = DestName(s, src);
        }
    }

    private static uint DestName(IpcSpace s, IpcPort p) =>
        !p.Active ? MachPortName.Dead : p.Receiver == s ? p.ReceiverName : MachPortName.Null; // B13

    /// <summary><c>ipc_kmsg_dequeue</c> + <c>ipc_mqueue_release_msgcount</c>: takes the head, assigns its seqno, frees its slot.</summary>
    private static KMsg Dequeue(IpcPort p)
    {
        KMsg m = p.Queue.Dequeue()!;
        m.Seqno = p.Seqno++;
        ReleaseSlot(p);
        return m;
    }

    /// <summary>One slot fewer; if that un-fills the queue, a blocked sender inherits the slot (A37).</summary>
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

    private static Waiter? FindReceiver(IpcPort p)
    {
        if (p.Receiver is null)
        {
            return null;
        }
        if (p.Receivers.First is Waiter w)
        {
            return w;
        }
        if (p.Sets is { } sets)
        {
            foreach (IpcPortSet set in sets)
            {
                if (set.Receivers.First is Waiter sw)
                {
                    return sw;
                }
            }
        }
        return null;
    }

    /// <summary>
    /// <c>ipc_mqueue_post</c>: hands the message to a waiting receiver, or queues it. A receiver that
    /// asked for MACH_RCV_LARGE and cannot fit it is woken with TOO_LARGE and the message is offered to
    /// the next one (B10). <paramref name="reserved"/>: the sender already holds a slot (A37).
    /// </summary>
    private void Post(IpcPort p, KMsg m, bool reserved)
    {
        while (FindReceiver(p) is Waiter w)
        {
            uint need = m.Size + (uint)MachTrailerRequest.SizeOf(w.Option);
            if (w.RcvSize < need && (w.Option & MachMsgOption.RcvLarge) != 0)
            {
                w.TooLargeSize = m.Size;
                w.MsgPort = p;
                w.Wake(WakeReason.TooLarge);
                continue;
            }
            m.Seqno = p.Seqno++;
            HandOff(p, m, w);
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
        if (p.Sets is { } sets)
        {
            foreach (IpcPortSet set in sets)
            {
                set.Prepost(p); // no thread took it: prepost every set the port is in (waitq.c, I5)
            }
        }
    }

    private void ConsumeDest(KMsg m)
    {
        if (m.Dest is not IpcPort d)
        {
            return;
        }
        if (m.DestType == MachMsgType.PortSend)
        {
            ReleaseSend(d); // B12: may fire no-senders
        }
        else if (m.DestType == MachMsgType.PortSendOnce)
        {
            d.SoRights--;
        }
        m.Dest = null;
    }

    private MachMsgReturn CopyoutToUser(SimulatedTask task, KMsg m, IpcPort src, byte* buf, MachMsgOption option, uint rcvSize, uint trailerSize)
    {
        IpcSpace s = task.Space;
        uint destName = DestName(s, src);
        var h = (MachMsgHeader*)buf;
        if ((ulong)rcvSize < (ulong)m.Size + trailerSize)
        {
            // B9: dequeued, destroyed, and a bare header re-signed by the kernel.
            MachMsgType replyType = m.Reply.Type, destType = m.DestType;
            uint replyName = m.Reply.Port is null ? m.Reply.Passthrough : MachPortName.Null;
            ConsumeDest(m);
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
            h->Bits = bits;
            h->Size = MachMsgHeader.SizeOf;
            h->RemotePort = replyName;
            h->LocalPort = destName;
            h->VoucherPort = 0;
            h->Id = id;
            WriteTrailer(buf + MachMsgHeader.SizeOf, Math.Min(trailerSize, rcvSize - MachMsgHeader.SizeOf), trailerSize, seqno, SecurityToken.Kernel, default, src.Context);
            return MachMsgReturn.RcvTooLarge;
        }
        new ReadOnlySpan<byte>(m.Data, 0, (int)m.Size).CopyTo(new Span<byte>(buf, (int)m.Size));
        MachMsgType dt = m.DestType;
        ConsumeDest(m);
        uint reply = CopyoutRight(s, m.Reply); // B11, B14, B15
        h->Bits = m.OtherBits | (uint)m.Reply.Type | ((uint)dt << 8);
        h->Size = m.Size;
        h->RemotePort = reply;
        h->LocalPort = destName;
        h->VoucherPort = m.Voucher;
        h->Id = m.Id;
        if (m.DescCount > 0)
        {
            CopyoutDescriptors(task, m, buf, option);
        }
        WriteTrailer(buf + m.Size, trailerSize, trailerSize, m.Seqno, m.Security, m.Audit, src.Context);
        KMsg.Return(m);
        return MachMsgReturn.Success;
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

    /// <summary>B17-B20: descriptor rights into the receiver's space, OOL memory into regions it owns.</summary>
    private void CopyoutDescriptors(SimulatedTask task, KMsg m, byte* buf, MachMsgOption option)
    {
        IpcSpace s = task.Space;
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
                            *(uint*)(p + 12) = CopyoutRight(s, d.Right);
                        }
                        p[10] = (byte)d.Right.Type;
                    }
                    else
                    {
                        *(uint*)p = CopyoutRight(s, d.Right);
                        p[10] = (byte)d.Right.Type;
                    }
                    d.Right = default;
                    break;
                case KDescKind.Ool:
                    if (d.Size == 0 || d.Ool is null)
                    {
                        *(ulong*)p = 0;
                    }
                    else
                    {
                        *(ulong*)p = (ulong)d.Ool;
                        task.VmRegions[(ulong)d.Ool] = d.Size;
                        d.Ool = null;
                    }
                    p[8] = d.Copy == MachMsgCopy.Virtual ? (byte)1 : (byte)0; // B18
                    p[9] = (byte)d.Copy;
                    *(uint*)(p + 12) = d.Size;
                    break;
                case KDescKind.OolPorts:
                    if (d.Size == 0 || d.Ports is null)
                    {
                        *(ulong*)p = 0;
                    }
                    else
                    {
                        uint* names = (uint*)NativeMemory.Alloc(d.Size * 4);
                        for (int k = 0; k < d.Size; k++)
                        {
                            names[k] = CopyoutRight(s, d.Ports[k]);
                        }
                        d.Ports = null;
                        *(ulong*)p = (ulong)names;
                        task.VmRegions[(ulong)names] = d.Size * 4;
                    }
                    p[8] = 1; // B19: deallocate TRUE, VIRTUAL_COPY
                    p[9] = (byte)MachMsgCopy.Virtual;
                    p[10] = (byte)d.PortsType;
                    *(uint*)(p + 12) = d.Size;
                    break;
            }
        }
    }

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
                        NativeMemory.Free(d.Ool);
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

    /// <summary><c>ipc_kmsg_destroy</c>: releases every right and region the message holds.</summary>
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
