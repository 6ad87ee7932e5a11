using System;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

// mach_msg send half: mach_msg_trap_send -> ipc_kmsg_copyin_from_user -> ipc_kmsg_send (section A).
// Locks: the message is copied into the kernel with none held; the header's rights are copied in under the
// sender's space lock (or, when they are only copied, under the ports' locks, checked against the space's sequence
// count), each body right under it again (ipc_object_copyin), out-of-line bytes with no lock held; delivery takes
// the destination port's lock alone.
internal sealed unsafe partial class SimulatedKernel
{
    private MachMsgReturn Send(SimulatedTask task, Waiter self, byte* msg, MachMsgOption option, uint sendSize, uint timeout)
    {
        MachMsgReturn mr = Copyin(task, self, msg, sendSize, out KMsg? m);
        if (mr != MachMsgReturn.Success)
        {
            return mr;
        }
        return Deliver(task, self, m!, msg, option, timeout);
    }

    // ---- A1-A19: validation, then the header, then the body ------------------------------------------

    private MachMsgReturn Copyin(SimulatedTask task, Waiter self, byte* msg, uint sendSize, out KMsg? kmsg)
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
        // ipc_kmsg_get_from_user: the message is copied into the kernel once, before any lock is taken, and
        // everything after reads that copy (a sender rewriting its buffer meanwhile changes nothing).
        KMsg m = KMsg.Rent(sendSize, self);
        Buffer.MemoryCopy(msg, m.Data, sendSize, sendSize);
        MachMsgReturn mr = Copyin(task, m, m.Data, sendSize);
        if (mr != MachMsgReturn.Success)
        {
            return mr; // the message was destroyed or returned to the pool
        }
        kmsg = m;
        return MachMsgReturn.Success;
    }

    private MachMsgReturn Copyin(SimulatedTask task, KMsg m, byte* k, uint sendSize)
    {
        MachMsgHeader h = *(MachMsgHeader*)k;
        uint bits = h.Bits & MachMsgBits.User; // A4
        uint descCount = 0;
        long charge = sendSize;
        if ((bits & MachMsgBits.Complex) != 0)
        {
            MachMsgReturn vr = ValidateDescriptors(k, sendSize, out descCount, ref charge);
            if (vr != MachMsgReturn.Success)
            {
                KMsg.Return(m);
                return vr;
            }
        }
        // ipc_kmsg_alloc: the kernel memory the message will hold is charged to the sender (VmMap quota).
        if (!task.Vm.TryCharge(charge))
        {
            KMsg.Return(m);
            return MachMsgReturn.SendNoBuffer;
        }
        m.ChargedTask = task;
        m.Charged = charge;

        // A8-A12: header dispositions and names, in ipc_kmsg_copyin_header_validate's order.
        MachMsgReturn hr = ValidateHeader(h, bits);
        if (hr != MachMsgReturn.Success)
        {
            KMsg.Return(m);
            return hr;
        }
        var rdisp = (MachMsgType)(bits & 0x1f);
        var ldisp = (MachMsgType)((bits >> 8) & 0x1f);
        var vdisp = (MachMsgType)((bits >> 16) & 0x1f);
        m.OtherBits = bits & ~MachMsgBits.PortsMask;
        m.Id = h.Id;
        m.Voucher = vdisp == 0 ? h.VoucherPort : MachPortName.Null;
        m.Audit = task.AuditToken;
        m.Security = task.SecurityToken;

        IpcSpace s = task.Space;
        if (!TryCopyinHeaderUnlocked(s, m, h, rdisp, ldisp))
        {
            using (s.Lock.EnterScope())
            {
                hr = s.Active ? CopyinHeader(s, m, h, rdisp, ldisp) : MachMsgReturn.SendInvalidDest;
            }
            if (hr != MachMsgReturn.Success)
            {
                KMsg.Return(m);
                return hr;
            }
        }

        // A28-A31: the body.
        if (descCount > 0)
        {
            MachMsgReturn br = CopyinBody(task, m, k, descCount);
            if (br != MachMsgReturn.Success)
            {
                DestroyMsg(m); // A31: dest, reply and every right taken so far are released
                return br;
            }
        }
        return MachMsgReturn.Success;
    }

    /// <summary>A5-A7: measures every descriptor (type byte, size, in order), then checks each kind's fields.</summary>
    private static MachMsgReturn ValidateDescriptors(byte* k, uint sendSize, out uint descCount, ref long charge)
    {
        descCount = 0;
        // A5
        if (sendSize < MachMsgBase.SizeOf)
        {
            return MachMsgReturn.SendMsgTooSmall;
        }
        uint count = *(uint*)(k + MachMsgHeader.SizeOf);
        if (count > (sendSize - MachMsgBase.SizeOf) / MachMsgPortDescriptor.SizeOf)
        {
            return MachMsgReturn.SendMsgTooSmall;
        }
        // Measure: every descriptor's type byte and size, in order (A5, A6).
        uint off = MachMsgBase.SizeOf;
        for (uint i = 0; i < count; i++)
        {
            if (off + MachMsgTypeDescriptor.SizeOf > sendSize)
            {
                return MachMsgReturn.SendMsgTooSmall;
            }
            byte type = k[off + MachMsgTypeDescriptor.TypeOffset];
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
        for (uint i = 0; i < count; i++)
        {
            var type = (MachMsgDescriptorType)k[off + 11];
            switch (type)
            {
                case MachMsgDescriptorType.Port:
                    ports++;
                    off += 12;
                    continue;
                case MachMsgDescriptorType.Ool:
                case MachMsgDescriptorType.OolVolatile:
                    if (k[off + 9] > (byte)MachMsgCopy.Virtual)
                    {
                        return MachMsgReturn.SendInvalidType;
                    }
                    charge += *(uint*)(k + off + 12);
                    break;
                case MachMsgDescriptorType.OolPorts:
                    if (k[off + 9] > (byte)MachMsgCopy.Virtual)
                    {
                        return MachMsgReturn.SendInvalidType;
                    }
                    ports += *(uint*)(k + off + 12);
                    break;
                case MachMsgDescriptorType.GuardedPort:
                    // MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE (1) | UNGUARDED_ON_SEND (2) are the only flags.
                    if (k[off + 10] != (byte)MachMsgType.MoveReceive || (*(ushort*)(k + off + 8) & ~3) != 0)
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
        charge += (long)ports * 16; // a carried right's kernel footprint (ports are counted above, so this is bounded)
        descCount = count;
        return MachMsgReturn.Success;
    }

    /// <summary>A8-A12: header dispositions and names, in ipc_kmsg_copyin_header_validate's order.</summary>
    private static MachMsgReturn ValidateHeader(in MachMsgHeader h, uint bits)
    {
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
        return MachMsgReturn.Success;
    }

    /// <summary>
    /// The header's rights taken without the space lock, when neither is moved: the destination by COPY_SEND, MAKE_SEND
    /// or MAKE_SEND_ONCE, the reply likewise or not at all. Such a copyin changes no entry, only the ports' counts, so
    /// the entries are read under the space's sequence count and confirmed, with the ports locked, to be what they were
    /// (the pattern of XNU's <c>ipc_right_lookup_read</c>, osfmk/ipc/ipc_right.c:117). The counts change only after
    /// that, under the port locks, so there is never anything to undo: a release that follows waits for the port lock
    /// and comes after this copy, as it would after XNU's under <c>is_write_lock</c> (osfmk/ipc/ipc_kmsg.c:1982).
    /// False, with nothing changed, for every other case and whenever the space changed meanwhile, a port is dead
    /// (its entry turns into a dead name, which needs the lock) or the reply port's lock is taken: the caller then
    /// copies in under the lock, which also reports every error.
    /// </summary>
    private static bool TryCopyinHeaderUnlocked(IpcSpace s, KMsg m, in MachMsgHeader h, MachMsgType rdisp, MachMsgType ldisp)
    {
        uint reply = h.LocalPort;
        bool hasReply = MachPortName.IsValid(reply);
        if (!CopiesOnly(rdisp) || (hasReply && !CopiesOnly(ldisp)))
        {
            return false;
        }
        int seq = s.Lock.ReadBegin();
        if ((seq & 1) != 0 || !s.Active)
        {
            return false;
        }
        IpcPort? dest = Copyable(s.Lookup(h.RemotePort), rdisp);
        IpcPort? rp = hasReply ? Copyable(s.Lookup(reply), ldisp) : null;
        if (dest is null || (hasReply && rp is null))
        {
            return false;
        }
        dest.Lock.Enter();
        if (rp is not null && rp != dest && !rp.Lock.TryEnter())
        {
            dest.Lock.Exit();
            return false;
        }
        bool done = s.Lock.Unchanged(seq) && dest.Active && (rp is null || rp.Active);
        if (done)
        {
            m.Dest = dest;
            m.DestType = CountCopiedRight(dest, rdisp);
            if (rp is not null)
            {
                m.Reply = new KRight { Port = rp, Type = CountCopiedRight(rp, ldisp) };
            }
            else
            {
                m.Reply = PassedThroughReply(reply, ldisp);
            }
        }
        if (rp is not null && rp != dest)
        {
            rp.Lock.Exit();
        }
        dest.Lock.Exit();
        return done;

        static bool CopiesOnly(MachMsgType disp) =>
            disp is MachMsgType.CopySend or MachMsgType.MakeSend or MachMsgType.MakeSendOnce;

        // The entry's port if the entry holds what the disposition copies from (A13-A15); read without the lock.
        static IpcPort? Copyable(IpcEntry? e, MachMsgType disp) =>
            e is null ? null
            : disp == MachMsgType.CopySend ? (e.Has(MachPortType.Send) ? e.Port : null)
            : e.Has(MachPortType.Receive) ? e.Port : null;
    }

    /// <summary>A10: a NULL or DEAD reply name passes through with no right; the received-type nibble still follows the disposition.</summary>
    private static KRight PassedThroughReply(uint reply, MachMsgType ldisp)
    {
        KRight r = KRight.None(ldisp == 0 ? MachPortName.Null : reply);
        r.Type = MachMsgTypes.ReceivedForm(ldisp);
        return r;
    }

    /// <summary>A13-A17: lookups, then the dest copyin check, all before anything changes (A18); then the copyin. Space locked.</summary>
    private MachMsgReturn CopyinHeader(IpcSpace s, KMsg m, in MachMsgHeader h, MachMsgType rdisp, MachMsgType ldisp)
    {
        uint dest = h.RemotePort, reply = h.LocalPort;
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
        int destMoves = reply == dest && rdisp == MachMsgType.MoveSend && ldisp == MachMsgType.MoveSend ? 2 : 1;
        if (CopyinCheck(s, de, rdisp, deadOk: false, destMoves) != KernReturn.Success)
        {
            return MachMsgReturn.SendInvalidDest;
        }
        // ipc_kmsg_copyin_dest_disposition (osfmk/ipc/ipc_kmsg.c): one name as MOVE_SEND destination and COPY_SEND
        // reply is one move plus an extra copied send right (IPC_OBJECT_COPYIN_FLAGS_DEST_EXTRA_COPY), which needs
        // only one uref: the copy is taken before the move can free the entry with its last uref.
        bool replyCopiedFirst = reply == dest && rdisp == MachMsgType.MoveSend && ldisp == MachMsgType.CopySend;
        if (replyCopiedFirst)
        {
            CopyinApply(s, re!, ldisp, out m.Reply);
        }
        CopyinApply(s, de, rdisp, out KRight destRight);
        m.Dest = destRight.Port;
        m.DestType = destRight.Type;
        if (replyCopiedFirst)
        {
            return MachMsgReturn.Success;
        }
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
            m.Reply = PassedThroughReply(reply, ldisp);
        }
        return MachMsgReturn.Success;
    }

    private MachMsgReturn CopyinBody(SimulatedTask task, KMsg m, byte* k, uint descCount)
    {
        IpcSpace s = task.Space;
        uint off = MachMsgBase.SizeOf;
        for (uint i = 0; i < descCount; i++)
        {
            var type = (MachMsgDescriptorType)k[off + 11];
            ref KDesc d = ref m.AddDesc();
            d.UserType = type;
            d.Offset = (int)off;
            switch (type)
            {
                case MachMsgDescriptorType.Port:
                case MachMsgDescriptorType.GuardedPort:
                {
                    d.Kind = KDescKind.Port;
                    uint name = type == MachMsgDescriptorType.Port ? *(uint*)(k + off) : *(uint*)(k + off + 12);
                    // An unknown disposition is not a type error: ipc_object_copyin refuses it
                    // (MACH_SEND_INVALID_RIGHT), and a NULL/DEAD name is passed through unchecked.
                    var disp = (MachMsgType)k[off + 10];
                    if (!MachPortName.IsValid(name))
                    {
                        d.Right = KRight.None(name); // A28: passed through, no right
                        d.Right.Type = MachMsgTypes.ReceivedForm(disp);
                    }
                    else
                    {
                        KernReturn kr;
                        using (s.Lock.EnterScope())
                        {
                            kr = s.Active ? CopyinRight(s, name, disp, deadOk: true, out d.Right) : KernReturn.InvalidName;
                        }
                        if (kr != KernReturn.Success)
                        {
                            m.DescCount--;
                            return MachMsgReturn.SendInvalidRight;
                        }
                    }
                    off += type == MachMsgDescriptorType.Port ? 12u : 16u;
                    continue;
                }
                case MachMsgDescriptorType.Ool:
                case MachMsgDescriptorType.OolVolatile:
                {
                    d.Kind = KDescKind.Ool;
                    ulong addr = *(ulong*)(k + off);
                    uint size = *(uint*)(k + off + 12);
                    bool deallocate = k[off + 8] != 0;
                    d.Copy = (MachMsgCopy)k[off + 9];
                    d.Size = size;
                    if (size > 0)
                    {
                        // deallocate = TRUE on a region the kernel handed this task: the region itself travels (XNU's
                        // virtual copy with src_destroy moves the pages; nothing is copied).
                        d.Ool = deallocate ? task.Vm.TryMove(addr, size) : null;
                        if (d.Ool is null)
                        {
                            // A30: a snapshot taken now, with no space or port lock held; later writes by the sender
                            // are not seen. A region the kernel handed the task is known to be readable and is copied
                            // directly (under the task's own map lock, so it cannot be freed meanwhile); any other
                            // address goes through the checked copy: unreadable is MACH_SEND_INVALID_MEMORY, never a crash.
                            d.Ool = VmMap.AllocateBlock(size);
                            if (!task.Vm.TryCopy(addr, size, new Span<byte>(d.Ool, (int)size)) && !UserMemory.TryCopyIn(addr, d.Ool, size))
                            {
                                VmMap.FreeBlock(d.Ool, size);
                                d.Ool = null;
                                m.DescCount--;
                                return MachMsgReturn.SendInvalidMemory;
                            }
                            if (deallocate)
                            {
                                task.Vm.SenderDeallocate(addr);
                            }
                        }
                    }
                    break;
                }
                case MachMsgDescriptorType.OolPorts:
                {
                    d.Kind = KDescKind.OolPorts;
                    ulong addr = *(ulong*)(k + off);
                    uint count = *(uint*)(k + off + 12);
                    var disp = (MachMsgType)k[off + 10];
                    d.Size = count;
                    d.Copy = (MachMsgCopy)k[off + 9];
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
                        if (k[off + 8] != 0)
                        {
                            task.Vm.SenderDeallocate(addr); // A29: even if a later name fails
                        }
                        var rights = new KRight[count];
                        int taken = 0;
                        KernReturn kr = KernReturn.Success;
                        using (s.Lock.EnterScope())
                        {
                            for (; taken < count && kr == KernReturn.Success; taken++)
                            {
                                if (!MachPortName.IsValid(names[taken]))
                                {
                                    rights[taken] = KRight.None(names[taken]);
                                    rights[taken].Type = d.PortsType;
                                }
                                else
                                {
                                    kr = s.Active ? CopyinRight(s, names[taken], disp, deadOk: true, out rights[taken]) : KernReturn.InvalidName;
                                }
                            }
                        }
                        if (kr != KernReturn.Success)
                        {
                            for (int j = 0; j < taken - 1; j++)
                            {
                                ReleaseKRight(rights[j]);
                            }
                            m.DescCount--;
                            return MachMsgReturn.SendInvalidRight;
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

    // ---- A26, A33-A37: delivery ------------------------------------------------------------------

    private MachMsgReturn Deliver(SimulatedTask task, Waiter self, KMsg m, byte* userMsg, MachMsgOption option, uint timeout)
    {
        IpcPort dest = m.Dest!;
        if (HasCircularRight(m))
        {
            DestroyMsg(m); // A26: destroyed and reported as delivered
            return MachMsgReturn.Success;
        }
        bool hasTimeout = (option & MachMsgOption.SendTimeout) != 0;
        Waiter w = self;
        bool wait;
        int generation = 0;
        using (dest.Lock.EnterScope())
        {
            if (!dest.Active || dest.IsKernelOwned)
            {
                // A16 / A33: destroyed and reported as delivered.
                // A38: kernel-object destinations are out of scope; the message is consumed.
                DeferDestroy(m);
                return MachMsgReturn.Success;
            }
            bool bypass = m.DestType == MachMsgType.PortSendOnce && dest.MsgCount < MachPortLimits.QLimitKernel; // A34
            if (dest.MsgCount < dest.QLimit || bypass)
            {
                Post(dest, m, reserved: false);
                return MachMsgReturn.Success;
            }
            // A35: no wait with a zero timeout, and past the kernel limit nobody waits.
            wait = !(hasTimeout && timeout == 0) && dest.MsgCount < MachPortLimits.QLimitKernel;
            if (wait)
            {
                w.Reset();
                if (w.Async is AsyncMsg op)
                {
                    // The message waits with the trap's state, not on a thread (AsyncMsg); Resume or AbortWait ends it.
                    op.BlockedSend = m;
                    op.BlockedDest = dest;
                    generation = op.Arm(dest.Lock);
                }
                dest.Senders.Add(w); // ipc_mqueue_send_locked: wait for a slot
            }
        }
        if (w.Async is AsyncMsg async && wait)
        {
            async.Waiting(generation, Deadline(hasTimeout, timeout));
            return AsyncMsg.Pending;
        }
        if (!wait)
        {
            PseudoReceive(task, m, userMsg); // A36
            return hasTimeout && timeout == 0 ? MachMsgReturn.SendTimedOut : MachMsgReturn.SendNoBuffer;
        }
        if (!Block(w, dest.Lock, Deadline(hasTimeout, timeout)))
        {
            PseudoReceive(task, m, userMsg);
            return MachMsgReturn.SendTimedOut;
        }
        return AfterSendWake(w, dest, m);
    }

    /// <summary>A blocked sender was woken: a granted slot takes the message (A37), a dead port destroys it (A33).</summary>
    private MachMsgReturn AfterSendWake(Waiter w, IpcPort dest, KMsg m)
    {
        if (w.Reason == WakeReason.SlotGranted)
        {
            using (dest.Lock.EnterScope())
            {
                if (dest.Active)
                {
                    Post(dest, m, reserved: true);
                    return MachMsgReturn.Success;
                }
            }
        }
        DestroyMsg(m); // A33: the port died while we waited
        return MachMsgReturn.Success;
    }

    /// <summary>
    /// A26: a receive right that would travel into its own destination chain makes the message circular. Checked
    /// and recorded under the transit lock (ipc_port_check_circularity), so two messages moving receive rights
    /// into each other's destinations cannot both pass.
    /// </summary>
    private bool HasCircularRight(KMsg m)
    {
        if (!CarriesReceiveRight(m))
        {
            return false;
        }
        using (_transitLock.EnterScope())
        {
            for (int i = 0; i < m.DescCount; i++)
            {
                ref KDesc d = ref m.Descs[i];
                if (d.Kind == KDescKind.Port && d.Right is { Type: MachMsgType.PortReceive, Port: IpcPort moved } && IsCircular(m.Dest!, moved))
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
            for (int i = 0; i < m.DescCount; i++)
            {
                ref KDesc d = ref m.Descs[i];
                if (d.Kind == KDescKind.Port && d.Right is { Type: MachMsgType.PortReceive, Port: IpcPort moved })
                {
                    moved.TransitDestination = m.Dest;
                }
                else if (d.Kind == KDescKind.OolPorts && d.PortsType == MachMsgType.PortReceive && d.Ports is { } ps)
                {
                    foreach (KRight r in ps)
                    {
                        if (r.Port is not null)
                        {
                            r.Port.TransitDestination = m.Dest;
                        }
                    }
                }
            }
        }
        return false;
    }

    private static bool CarriesReceiveRight(KMsg m)
    {
        for (int i = 0; i < m.DescCount; i++)
        {
            ref KDesc d = ref m.Descs[i];
            if ((d.Kind == KDescKind.Port && d.Right is { Type: MachMsgType.PortReceive, Port: not null })
                || (d.Kind == KDescKind.OolPorts && d.PortsType == MachMsgType.PortReceive && d.Ports is not null))
            {
                return true;
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
        MachMsgType replyType = m.Reply.Type;
        m.Dest = null;
        uint remote, local;
        using (s.Lock.EnterScope())
        {
            if (!s.Active || !TryCopyoutRight(s, dr, out remote))
            {
                remote = MachPortName.Null;
                DeferRelease(dr);
            }
            if (!s.Active || !TryCopyoutRight(s, m.Reply, out local))
            {
                local = MachPortName.Null;
                DeferRelease(m.Reply);
            }
            m.Reply = default;
            CopyoutDescriptorRights(s, m, buf, MachMsgOption.None);
        }
        var h = (MachMsgHeader*)buf;
        h->Bits = m.OtherBits | (uint)dr.Type | ((uint)replyType << 8);
        h->RemotePort = remote;
        h->LocalPort = local;
        h->Size = m.Size;
        CopyoutDescriptorMemory(task, m, buf);
        KMsg.Return(m);
    }
}
