using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// mach_msg send half: mach_msg_trap_send -> ipc_kmsg_copyin_from_user -> ipc_kmsg_send (section A).
internal sealed unsafe partial class SimulatedKernel
{
    private MachMsgReturn SendLocked(SimulatedTask task, byte* msg, MachMsgOption option, uint sendSize, uint timeout)
    {
        MachMsgReturn mr = Copyin(task, msg, sendSize, out KMsg? m);
        if (mr != MachMsgReturn.Success)
        {
            return mr;
        }
        return Deliver(task, m!, msg, option, timeout);
    }

    // ---- A1-A19: validation, then the header, then the body ------------------------------------------

    private MachMsgReturn Copyin(SimulatedTask task, byte* msg, uint sendSize, out KMsg? kmsg)
    {
        kmsg = null;
        // A2 / A3
        if (sendSize < MachMsgHeader.SizeOf || (sendSize & 3) != 0)
        {
            return MachMsgReturn.SendMsgTooSmall;
        }
        if (sendSize > MachMsgLimits.MaxBodySpace)
        {
            return MachMsgReturn.SendTooLarge;
        }
        MachMsgHeader h = *(MachMsgHeader*)msg;
        uint bits = h.Bits & MachMsgBits.User; // A4
        uint descCount = 0;
        if ((bits & MachMsgBits.Complex) != 0)
        {
            // A5
            if (sendSize < MachMsgBase.SizeOf)
            {
                return MachMsgReturn.SendMsgTooSmall;
            }
            descCount = *(uint*)(msg + MachMsgHeader.SizeOf);
            if (descCount > (sendSize - MachMsgBase.SizeOf) / MachMsgPortDescriptor.SizeOf)
            {
                return MachMsgReturn.SendMsgTooSmall;
            }
            // Measure: every descriptor's type byte and size, in order (A5, A6).
            uint off = MachMsgBase.SizeOf;
            for (uint i = 0; i < descCount; i++)
            {
                if (off + MachMsgTypeDescriptor.SizeOf > sendSize)
                {
                    return MachMsgReturn.SendMsgTooSmall;
                }
                byte type = msg[off + MachMsgTypeDescriptor.TypeOffset];
                if (type > (byte)MachMsgDescriptorType.GuardedPort)
                {
                    return MachMsgReturn.SendInvalidType;
                }
                uint dsize = type == (byte)MachMsgDescriptorType.Port ? 12u : 16u;
                if (off + dsize > sendSize)
                {
                    return MachMsgReturn.SendMsgTooSmall;
                }
                off += dsize;
            }
            // Inflate: per-kind field checks (A6), port count (A7).
            off = MachMsgBase.SizeOf;
            ulong ports = 0;
            for (uint i = 0; i < descCount; i++)
            {
                var type = (MachMsgDescriptorType)msg[off + 11];
                switch (type)
                {
                    case MachMsgDescriptorType.Port:
                        ports++;
                        off += 12;
                        continue;
                    case MachMsgDescriptorType.Ool:
                    case MachMsgDescriptorType.OolVolatile:
                        if (msg[off + 9] > (byte)MachMsgCopy.Virtual)
                        {
                            return MachMsgReturn.SendInvalidType;
                        }
                        break;
                    case MachMsgDescriptorType.OolPorts:
                        if (msg[off + 9] > (byte)MachMsgCopy.Virtual)
                        {
                            return MachMsgReturn.SendInvalidType;
                        }
                        ports += *(uint*)(msg + off + 12);
                        break;
                    case MachMsgDescriptorType.GuardedPort:
                        // MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE (1) | UNGUARDED_ON_SEND (2) are the only flags.
                        if (msg[off + 10] != (byte)MachMsgType.MoveReceive || (*(ushort*)(msg + off + 8) & ~3) != 0)
                        {
                            return MachMsgReturn.SendInvalidType;
                        }
                        ports++;
                        break;
                }
                off += 16;
            }
            if (ports > MachMsgLimits.MaxOolPortCount)
            {
                return MachMsgReturn.SendTooLarge;
            }
        }

        // A8-A12: header dispositions and names, in ipc_kmsg_copyin_header_validate's order.
        var rdisp = (MachMsgType)(bits & 0x1f);
        var ldisp = (MachMsgType)((bits >> 8) & 0x1f);
        var vdisp = (MachMsgType)((bits >> 16) & 0x1f);
        uint dest = h.RemotePort, reply = h.LocalPort, voucher = h.VoucherPort;
        if (ldisp == 0 ? reply != MachPortName.Null : !MachMsgTypes.IsAnySend(ldisp))
        {
            return MachMsgReturn.SendInvalidHeader;
        }
        if (vdisp != 0 && ((vdisp != MachMsgType.MoveSend && vdisp != MachMsgType.CopySend) || voucher == MachPortName.Dead))
        {
            return MachMsgReturn.SendInvalidVoucher;
        }
        if (!MachMsgTypes.IsAnySend(rdisp))
        {
            return MachMsgReturn.SendInvalidHeader;
        }
        if (!MachPortName.IsValid(dest))
        {
            return MachMsgReturn.SendInvalidDest;
        }
        bool sameReply = reply == dest;
        if (sameReply && (rdisp == MachMsgType.MoveSendOnce || ldisp == MachMsgType.MoveSendOnce))
        {
            return MachMsgReturn.SendInvalidDest;
        }
        if (vdisp != 0 && MachPortName.IsValid(voucher))
        {
            if (voucher == dest && rdisp != MachMsgType.MoveSend && rdisp != MachMsgType.CopySend)
            {
                return MachMsgReturn.SendInvalidDest;
            }
            if (voucher == reply)
            {
                return MachMsgReturn.SendInvalidReply;
            }
            return MachMsgReturn.SendInvalidVoucher; // no voucher objects exist in the simulator (A11)
        }

        // A13-A17: lookups, then the dest copyin check; all before anything changes (A18).
        IpcSpace s = task.Space;
        IpcEntry? de = s.Lookup(dest);
        if (de is null || (de.Type & (MachPortType.Send | MachPortType.Receive | MachPortType.SendOnce)) == 0)
        {
            return MachMsgReturn.SendInvalidDest;
        }
        IpcEntry? re = null;
        if (MachPortName.IsValid(reply))
        {
            re = s.Lookup(reply);
            if (re is null || (re.Type & (MachPortType.Send | MachPortType.Receive | MachPortType.SendOnce)) == 0)
            {
                return MachMsgReturn.SendInvalidReply;
            }
            bool ok = ldisp switch
            {
                MachMsgType.MakeSend or MachMsgType.MakeSendOnce => re.Has(MachPortType.Receive),
                MachMsgType.CopySend or MachMsgType.MoveSend => re.Has(MachPortType.Send),
                MachMsgType.MoveSendOnce => re.Has(MachPortType.SendOnce),
                _ => false,
            };
            if (!ok)
            {
                return MachMsgReturn.SendInvalidReply;
            }
        }
        int destMoves = sameReply && rdisp == MachMsgType.MoveSend && ldisp == MachMsgType.MoveSend ? 2 : 1;
        if (CopyinCheck(s, de, rdisp, deadOk: false, destMoves) != KernReturn.Success)
        {
            return MachMsgReturn.SendInvalidDest;
        }

        // Header copyin proper.
        KMsg m = KMsg.Rent(sendSize);
        new ReadOnlySpan<byte>(msg, (int)sendSize).CopyTo(m.Data);
        m.OtherBits = bits & ~MachMsgBits.PortsMask;
        m.Id = h.Id;
        m.Voucher = vdisp == 0 ? voucher : MachPortName.Null;
        m.Audit = task.AuditToken;
        m.Security = task.SecurityToken;
        CopyinApply(s, de, rdisp, out KRight destRight);
        m.Dest = destRight.Port;
        m.DestType = destRight.Type;
        if (re is not null)
        {
            // A17 DEADOK: an unconverted send/send-once entry to a dead port is accepted here.
            CheckDead(s, re);
            if (re.Has(MachPortType.DeadName))
            {
                m.Reply = KRight.None(MachPortName.Dead);
                m.Reply.Type = MachMsgTypes.ReceivedForm(ldisp);
                if (ldisp is MachMsgType.MoveSend or MachMsgType.MoveSendOnce && --re.Urefs == 0)
                {
                    s.Free(re);
                }
            }
            else
            {
                CopyinApply(s, re, ldisp, out m.Reply);
            }
        }
        else
        {
            // A10: NULL / DEAD pass through; the received-type nibble still follows the disposition.
            m.Reply = KRight.None(ldisp == 0 ? MachPortName.Null : reply);
            m.Reply.Type = MachMsgTypes.ReceivedForm(ldisp);
        }

        // A28-A31: the body.
        if (descCount > 0)
        {
            MachMsgReturn br = CopyinBody(task, m, msg, descCount);
            if (br != MachMsgReturn.Success)
            {
                DestroyMsg(m); // A31: dest, reply and every right taken so far are released
                return br;
            }
        }
        kmsg = m;
        return MachMsgReturn.Success;
    }

    private MachMsgReturn CopyinBody(SimulatedTask task, KMsg m, byte* msg, uint descCount)
    {
        IpcSpace s = task.Space;
        uint off = MachMsgBase.SizeOf;
        for (uint i = 0; i < descCount; i++)
        {
            var type = (MachMsgDescriptorType)msg[off + 11];
            ref KDesc d = ref m.AddDesc();
            d.UserType = type;
            d.Offset = (int)off;
            switch (type)
            {
                case MachMsgDescriptorType.Port:
                case MachMsgDescriptorType.GuardedPort:
                {
                    d.Kind = KDescKind.Port;
                    uint name = type == MachMsgDescriptorType.Port ? *(uint*)(msg + off) : *(uint*)(msg + off + 12);
                    // An unknown disposition is not a type error: ipc_object_copyin refuses it
                    // (MACH_SEND_INVALID_RIGHT), and a NULL/DEAD name is passed through unchecked.
                    var disp = (MachMsgType)msg[off + 10];
                    if (!MachPortName.IsValid(name))
                    {
                        d.Right = KRight.None(name); // A28: passed through, no right
                        d.Right.Type = MachMsgTypes.ReceivedForm(disp);
                    }
                    else if (CopyinRight(s, name, disp, deadOk: true, out d.Right) != KernReturn.Success)
                    {
                        m.DescCount--;
                        return MachMsgReturn.SendInvalidRight;
                    }
                    else if (d.Right.Type == MachMsgType.PortReceive)
                    {
                        d.Right.Port!.TransitDestination = m.Dest;
                    }
                    off += type == MachMsgDescriptorType.Port ? 12u : 16u;
                    continue;
                }
                case MachMsgDescriptorType.Ool:
                case MachMsgDescriptorType.OolVolatile:
                {
                    d.Kind = KDescKind.Ool;
                    ulong addr = *(ulong*)(msg + off);
                    uint size = *(uint*)(msg + off + 12);
                    d.Copy = (MachMsgCopy)msg[off + 9];
                    d.Size = size;
                    if (size > 0)
                    {
                        // A30: a snapshot taken now; later writes by the sender are not seen. An unreadable
                        // source is MACH_SEND_INVALID_MEMORY, never a crash.
                        d.Ool = (byte*)NativeMemory.Alloc(size);
                        if (!UserMemory.TryCopyIn(addr, d.Ool, size))
                        {
                            NativeMemory.Free(d.Ool);
                            d.Ool = null;
                            m.DescCount--;
                            return MachMsgReturn.SendInvalidMemory;
                        }
                        if (msg[off + 8] != 0)
                        {
                            SenderDeallocate(task, addr);
                        }
                    }
                    break;
                }
                case MachMsgDescriptorType.OolPorts:
                {
                    d.Kind = KDescKind.OolPorts;
                    ulong addr = *(ulong*)(msg + off);
                    uint count = *(uint*)(msg + off + 12);
                    var disp = (MachMsgType)msg[off + 10];
                    d.Size = count;
                    d.Copy = (MachMsgCopy)msg[off + 9];
                    d.PortsType = MachMsgTypes.ReceivedForm(disp);
                    if (count > 0)
                    {
                        var names = new uint[count];
                        fixed (uint* copy = names)
                        {
                            if (!UserMemory.TryCopyIn(addr, copy, (nuint)count * sizeof(uint)))
                            {
                                m.DescCount--;
                                return MachMsgReturn.SendInvalidMemory; // A29: unreadable name array
                            }
                        }
                        if (msg[off + 8] != 0)
                        {
                            SenderDeallocate(task, addr); // A29: even if a later name fails
                        }
                        var rights = new KRight[count];
                        for (int k = 0; k < count; k++)
                        {
                            if (!MachPortName.IsValid(names[k]))
                            {
                                rights[k] = KRight.None(names[k]);
                                rights[k].Type = d.PortsType;
                            }
                            else if (CopyinRight(s, names[k], disp, deadOk: true, out rights[k]) != KernReturn.Success)
                            {
                                for (int j = 0; j < k; j++)
                                {
                                    ReleaseKRight(rights[j]);
                                }
                                m.DescCount--;
                                return MachMsgReturn.SendInvalidRight;
                            }
                            else if (rights[k].Type == MachMsgType.PortReceive)
                            {
                                rights[k].Port!.TransitDestination = m.Dest;
                            }
                        }
                        d.Ports = rights;
                    }
                    break;
                }
            }
            off += 16;
        }
        return MachMsgReturn.Success;
    }

    /// <summary>
    /// OOL <c>deallocate</c> on the sender's side. A region the simulator handed this task (an earlier OOL
    /// receive) is really freed, as vm_map_copyin with src_destroy would. Any other address is memory the
    /// caller owns (managed or native), which the simulator cannot unmap: it is simply no longer the
    /// kernel's concern, and the caller keeps responsibility for it.
    /// </summary>
    private static void SenderDeallocate(SimulatedTask task, ulong addr)
    {
        // A joined process's message reaches the kernel as a host copy of its bytes; the copy stands for the
        // region the process had received, which is what deallocate frees (at copyin, as XNU does).
        if (task.DeallocAliases is { } aliases && aliases.Remove(addr, out ulong region))
        {
            task.DeallocAliasesConsumed.Add(addr);
            addr = region;
        }
        if (task.VmRegions.Remove(addr))
        {
            NativeMemory.Free((void*)addr);
        }
    }

    // ---- A26, A33-A37: delivery ------------------------------------------------------------------

    private MachMsgReturn Deliver(SimulatedTask task, KMsg m, byte* userMsg, MachMsgOption option, uint timeout)
    {
        IpcPort dest = m.Dest!;
        if (!dest.Active || dest.IsKernelOwned || HasCircularRight(m))
        {
            // A16 / A33: destroyed and reported as delivered. A26: circular messages likewise.
            // A38: kernel-object destinations are out of scope; the message is consumed.
            DestroyMsg(m);
            return MachMsgReturn.Success;
        }
        bool bypass = m.DestType == MachMsgType.PortSendOnce && dest.MsgCount < MachPortLimits.QLimitKernel; // A34
        if (dest.MsgCount < dest.QLimit || bypass)
        {
            Post(dest, m, reserved: false);
            return MachMsgReturn.Success;
        }
        bool hasTimeout = (option & MachMsgOption.SendTimeout) != 0;
        if (hasTimeout && timeout == 0)
        {
            PseudoReceive(task, m, userMsg); // A35/A36
            return MachMsgReturn.SendTimedOut;
        }
        if (dest.MsgCount >= MachPortLimits.QLimitKernel)
        {
            PseudoReceive(task, m, userMsg); // A35: past the kernel limit nobody waits
            return MachMsgReturn.SendNoBuffer;
        }
        Waiter w = Waiter.Current;
        w.Reset();
        dest.Senders.Add(w);
        Block(w, Deadline(hasTimeout, timeout));
        if (!w.Done)
        {
            dest.Senders.Remove(w);
            PseudoReceive(task, m, userMsg);
            return MachMsgReturn.SendTimedOut;
        }
        if (w.Reason == WakeReason.SlotGranted && dest.Active)
        {
            Post(dest, m, reserved: true);
            return MachMsgReturn.Success;
        }
        DestroyMsg(m); // A33: the port died while we waited
        return MachMsgReturn.Success;
    }

    private static bool HasCircularRight(KMsg m)
    {
        for (int i = 0; i < m.DescCount; i++)
        {
            ref KDesc d = ref m.Descs[i];
            if (d.Kind == KDescKind.Port && d.Right.Type == MachMsgType.PortReceive && IsCircular(m.Dest!, d.Right.Port!))
            {
                return true;
            }
            if (d.Kind == KDescKind.OolPorts && d.PortsType == MachMsgType.PortReceive && d.Ports is { } ps)
            {
                foreach (KRight r in ps)
                {
                    if (r.Port is not null && IsCircular(m.Dest!, r.Port))
                    {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /// <summary>
    /// <c>mach_msg_receive_pseudo</c> (A36): a message that could not be queued goes back into the sender's
    /// own buffer with every right re-inserted in the sender's space; ports are not swapped, bits become the
    /// received types, OOL memory is mapped at a new address, and no trailer is written.
    /// </summary>
    private void PseudoReceive(SimulatedTask task, KMsg m, byte* buf)
    {
        IpcSpace s = task.Space;
        var dr = new KRight { Port = m.Dest, Type = m.DestType };
        uint remote = CopyoutRight(s, dr);
        uint local = CopyoutRight(s, m.Reply);
        var h = (MachMsgHeader*)buf;
        h->Bits = m.OtherBits | (uint)m.DestType | ((uint)m.Reply.Type << 8);
        h->RemotePort = remote;
        h->LocalPort = local;
        h->Size = m.Size;
        CopyoutDescriptors(task, m, buf, MachMsgOption.None);
        KMsg.Return(m);
    }
}
