// Section B (receive path) of kernel-semantics.md.
//
// Left out on purpose:
//   B4 (part) - MACH_RCV_INTERRUPTED: simulated threads are never interrupted.
//   B13       - a destination that moves or dies between dequeue and copyout: the simulator dequeues and
//               copies out in one kernel-lock hold (a hand-off to a blocked receiver is copied out by the
//               sender), so the window does not exist and cannot be tested. DestName() still implements it.
//   B16       - vouchers (MACH_RCV_VOUCHER) are out of scope; only "no voucher -> nibble 0" is tested.
//   B21       - copyout resource shortages (MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE ...) cannot happen:
//               spaces and regions are unbounded in the simulator.
//   B25 (part)- msgh_context: mach_port_set_context is not part of the seam, so the context is always 0.
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class ReceivePathTests
{
    [Fact]
    public void B1_ReceiveNeedsAReceiveRightOrPortSet()
    {
        using var k = new K();
        uint send = k.ForeignSend();
        uint p = k.Port();
        uint so = k.SendOnceTo(p);
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        foreach (uint name in new[] { MachPortName.Null, MachPortName.Dead, 0x31337u, send, so, dead })
        {
            Assert.Equal(MachMsgReturn.RcvInvalidName, Rcv(name).Result);
        }
        uint carrier = k.Port();
        uint moved = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(carrier, MachMsgType.MakeSend).Port(moved, MachMsgType.MoveReceive)));
        Assert.Equal(MachMsgReturn.RcvInvalidName, Rcv(moved).Result);
        // A stale name (freed index, new generation) is invalid too.
        uint gone = k.Port();
        DestroyReceive(gone);
        uint reused = k.Port();
        Assert.NotEqual(gone, reused);
        Assert.Equal(MachMsgReturn.RcvInvalidName, Rcv(gone).Result);
        Dealloc(so);
        RcvAndDestroy(p);
    }

    [Fact]
    public void B2_ReceivingDirectlyOnASetMemberWorks()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, p, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.NotEqual(MachMsgReturn.RcvInSet, r.Result);
    }

    [Fact]
    public void B3_PortSetServesMembersRoundRobin()
    {
        using var k = new K();
        uint a = k.PortWithSend(), b = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, a, set));
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, b, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(a, id: 1)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(a, id: 2)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(b, id: 3)));
        Received r1 = Rcv(set, trailer: MachTrailerElements.Seqno);
        Received r2 = Rcv(set, trailer: MachTrailerElements.Seqno);
        Received r3 = Rcv(set, trailer: MachTrailerElements.Seqno);
        Assert.Equal(new[] { 1, 3, 2 }, new[] { r1.Header.Id, r2.Header.Id, r3.Header.Id });
        Assert.Equal(new[] { a, b, a }, new[] { r1.Header.LocalPort, r2.Header.LocalPort, r3.Header.LocalPort });
        Assert.Equal(new[] { 0u, 0u, 1u }, new[] { r1.U32(24 + 8), r2.U32(24 + 8), r3.U32(24 + 8) });
    }

    [Fact]
    public void B4_ReceiveTimeouts()
    {
        using var k = new K();
        uint p = k.Port();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(p, timeout: 0).Result);
        Assert.True(sw.ElapsedMilliseconds < 1000);
        sw.Restart();
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(p, timeout: 30).Result);
        Assert.True(sw.ElapsedMilliseconds >= 25);
    }

    private static (Thread Thread, Func<MachMsgReturn> Result) BlockedReceiver(K k, uint name)
    {
        MachMsgReturn result = (MachMsgReturn)(-1);
        var t = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                result = Rcv(name, extra: MachMsgOption.RcvTimeout, timeout: 5000).Result;
            }
        });
        t.Start();
        SendPathTests.WaitUntil(() => SimulatedKernel.Shared.ReceiversBlockedOn(k.Task, name) == 1);
        return (t, () => result);
    }

    [Fact]
    public void B5_WaiterWokenWithPortChangedWhenReceiveRightDestroyed()
    {
        using var k = new K();
        uint p = k.Port();
        var (t, result) = BlockedReceiver(k, p);
        DestroyReceive(p);
        t.Join();
        Assert.Equal(MachMsgReturn.RcvPortChanged, result());
    }

    [Fact]
    public void B5_WaiterWokenWithPortChangedWhenReceiveRightMoved()
    {
        using var k = new K();
        uint p = k.Port();
        uint carrier = k.PortWithSend();
        var (t, result) = BlockedReceiver(k, p);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(carrier).Port(p, MachMsgType.MoveReceive)));
        t.Join();
        Assert.Equal(MachMsgReturn.RcvPortChanged, result());
        Assert.NotEqual(MachMsgReturn.RcvPortDied, result());
        RcvAndDestroy(carrier);
    }

    [Fact]
    public void B5_SetWaiterWokenWhenSetDestroyed_InsertDoesNotWakeDirectWaiter()
    {
        using var k = new K();
        uint set = k.Set();
        var (t, result) = BlockedReceiver(k, set);
        DestroyName(set);
        t.Join();
        Assert.Equal(MachMsgReturn.RcvPortChanged, result());

        uint p = k.Port();
        uint set2 = k.Set();
        var (t2, result2) = BlockedReceiver(k, p);
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, p, set2));
        // A wake-up would have taken the receiver off p's wait queue before PortInsertMember returned.
        Assert.Equal(1, SimulatedKernel.Shared.ReceiversBlockedOn(k.Task, p));
        DestroyReceive(p);
        t2.Join();
        Assert.Equal(MachMsgReturn.RcvPortChanged, result2());
    }

    [Fact]
    public void B6_CombinedSendReceiveSkipsReceiveWhenSendFails()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, id: 7)));
        byte[] buf = Msg.To(0x4444).Build(out uint size);
        fixed (byte* b = buf)
        {
            Assert.Equal(MachMsgReturn.SendInvalidDest, Mach.Msg((MachMsgHeader*)b, MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, size, (uint)buf.Length, p, 0, 0));
        }
        Assert.Equal(1, MsgCount(p));
        // Send and receive in one call: the message we send is the one we get.
        buf = Msg.To(p, id: 8).Build(out size);
        fixed (byte* b = buf)
        {
            Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)b, MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, size, (uint)buf.Length, p, 0, 0));
        }
        Assert.Equal(7, MemoryMarshal.Read<MachMsgHeader>(buf).Id);
        Assert.Equal(8, Rcv(p).Header.Id);
    }

    [Fact]
    public void B7_BufferOfExactlyMsghSizeIsTooSmall()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).WithInline(16)));
        Assert.Equal(MachMsgReturn.RcvTooLarge, Rcv(p, 40, MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge, trailer: MachTrailerElements.Null).Result);
        Assert.Equal(MachMsgReturn.RcvTooLarge, Rcv(p, 47, MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge, trailer: MachTrailerElements.Null).Result);
        Assert.Equal(MachMsgReturn.Success, Rcv(p, 48, trailer: MachTrailerElements.Null).Result);
    }

    [Fact]
    public void B8_RcvLargeLeavesMessageQueuedAndReportsSize()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).WithInline(100)));
        Received r = Rcv(p, 24, MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge | MachMsgOption.RcvLargeIdentity);
        Assert.Equal(MachMsgReturn.RcvTooLarge, r.Result);
        Assert.Equal(124u, r.Header.Size);
        Assert.Equal(p, r.Header.LocalPort);
        Assert.Equal(0u, r.Header.Bits); // nothing else written
        Assert.Equal(0, r.Header.Id);
        Received probe = Rcv(p, 0, MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge);
        Assert.Equal(MachMsgReturn.RcvTooLarge, probe.Result);
        Assert.Equal(0u, probe.Header.Size);
        Assert.Equal(1, MsgCount(p));
        Received ok = Rcv(p, 124 + 52, trailer: MachTrailerElements.Seqno);
        Assert.Equal(MachMsgReturn.Success, ok.Result);
        Assert.Equal(0u, ok.U32(124 + 8)); // the peeks did not consume a seqno
    }

    [Fact]
    public void B9_TooLargeWithoutRcvLargeDestroysAndWritesBareHeader()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint reply = k.Port();
        uint carried = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce, id: 55).Port(carried, MachMsgType.MakeSend).WithInline(200)));
        Received r = Rcv(p, 100);
        Assert.Equal(MachMsgReturn.RcvTooLarge, r.Result);
        MachMsgHeader h = r.Header;
        Assert.Equal(24u, h.Size);
        Assert.Equal(p, h.LocalPort);
        Assert.Equal(MachPortName.Null, h.RemotePort);
        Assert.Equal(55, h.Id);
        Assert.True(h.IsComplex);
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgBits.Remote(h.Bits));
        Assert.Equal(MachMsgType.PortSend, MachMsgBits.Local(h.Bits));
        var t = MemoryMarshal.Read<MachMsgAuditTrailer>(r.Buffer.AsSpan(24));
        Assert.True(t.Audit.IsKernel);
        Assert.Equal(0u, t.Seqno);
        Assert.Equal(MachNotify.SendOnce, Rcv(reply).Header.Id); // the reply right was destroyed
        Assert.Equal(0, Status(carried)[6]);                        // the carried send right too
        Assert.Equal(0, MsgCount(p));

        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Assert.Equal(MachMsgReturn.RcvInvalidData, Rcv(p, 16).Result);
        Assert.Equal(0, MsgCount(p)); // still lost
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Assert.Equal(2u, Rcv(p, trailer: MachTrailerElements.Seqno).U32(24 + 8)); // both dequeues took a seqno
    }

    [Fact]
    public void B10_BlockedRcvLargeReceiverIsWokenWithTooLarge()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        MachMsgReturn result = (MachMsgReturn)(-1);
        uint reported = 0;
        var t = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                Received r = Rcv(p, 32, MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge, 5000);
                result = r.Result;
                reported = r.Header.Size;
            }
        });
        t.Start();
        WaitBlocked(1);
        Thread.Sleep(10);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).WithInline(64)));
        t.Join();
        Assert.Equal(MachMsgReturn.RcvTooLarge, result);
        Assert.Equal(88u, reported);
        Assert.Equal(1, MsgCount(p)); // offered to nobody else: queued
        RcvAndDestroy(p);

        // Without MACH_RCV_LARGE the blocked receiver gets the B9 treatment.
        var t2 = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                result = Rcv(p, 32, MachMsgOption.RcvTimeout, 5000).Result;
            }
        });
        t2.Start();
        WaitBlocked(1);
        Thread.Sleep(10);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).WithInline(64)));
        t2.Join();
        Assert.Equal(MachMsgReturn.RcvTooLarge, result);
        Assert.Equal(0, MsgCount(p));
    }

    [Fact]
    public void B11_PortsAreSwappedAndBitsRewritten()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint reply = k.Port();
        Msg m = Msg.To(p, MachMsgType.CopySend, reply, MachMsgType.MakeSend);
        m.Bits |= MachMsgBits.Complex;
        Assert.Equal(MachMsgReturn.Success, Send(m.Port(0, MachMsgType.CopySend)));
        Received r = Rcv(p);
        Assert.Equal(reply, r.Header.RemotePort);
        Assert.Equal(p, r.Header.LocalPort);
        Assert.Equal(MachMsgBits.Make(MachMsgType.PortSend, MachMsgType.PortSend, 0, complex: true), r.Header.Bits);
        Assert.Equal(MachPortType.SendReceive, Type(reply));
        Destroy(r);
        Assert.Equal(MachPortType.Receive, Type(reply));
    }

    [Fact]
    public void B12_ReceivingTheLastSendRightFiresNoSenders()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 1, notify, MachMsgType.MakeSendOnce, out uint prev));
        Assert.Equal(MachPortName.Null, prev);
        AssertNoMessage(notify); // 1 > mscount 0: armed
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MakeSend)));
        AssertNoMessage(notify);
        RcvAndDestroy(p);
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.NoSenders, n.Header.Id);
        Assert.Equal(36u, n.Header.Size);
        Assert.Equal(1u, n.U32(32));
    }

    [Fact]
    public void B14_SendRightsMergeSendOnceNeverDoes_UrefsPegAt65535()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.ForeignSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(q, MachMsgType.CopySend).Port(q, MachMsgType.CopySend)));
        Received r = Rcv(p);
        Assert.Equal(q, r.PortDesc(0).Name);
        Assert.Equal(q, r.PortDesc(1).Name);
        Assert.Equal(3u, Refs(q, MachPortRight.Send));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(p, MachMsgType.MakeSendOnce).Port(p, MachMsgType.MakeSendOnce)));
        Received s = Rcv(p);
        Assert.NotEqual(s.PortDesc(0).Name, s.PortDesc(1).Name);
        Assert.NotEqual(p, s.PortDesc(0).Name);
        Destroy(s);
        RcvAndDestroy(p);
        RcvAndDestroy(p);

        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, q, MachPortRight.Send, 65535));
        Assert.Equal(65535u, Refs(q, MachPortRight.Send));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(q, MachMsgType.CopySend)));
        Assert.Equal(q, Rcv(p).PortDesc(0).Name);
        Assert.Equal(65535u, Refs(q, MachPortRight.Send));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, q, MachPortRight.Send, -65535));
    }

    [Fact]
    public void B15_DeadPortsArriveAsMachPortDeadWithoutEntries()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint doomed = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, doomed, MachMsgType.MakeSendOnce).Port(doomed, MachMsgType.MakeSend)));
        int before = k.Task.Rights().Count;
        DestroyReceive(doomed);
        Received r = Rcv(p);
        Assert.Equal(MachPortName.Dead, r.Header.RemotePort);
        Assert.Equal(MachPortName.Dead, r.PortDesc(0).Name);
        Assert.Equal(before - 1, k.Task.Rights().Count);
    }

    [Fact]
    public void B16_NoVoucherMeansZeroVoucherNibble()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Received r = Rcv(p);
        Assert.Equal(MachMsgType.None, MachMsgBits.Voucher(r.Header.Bits));
        Assert.Equal(0u, r.Header.VoucherPort);
    }

    [Fact]
    public void B17_PortDescriptorCarriesReceiverNameAndReceivedType()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(q, MachMsgType.MakeSend).Port(0, MachMsgType.MakeSendOnce).Port(q, MachMsgType.MakeSendOnce)));
        Received r = Rcv(p);
        Assert.Equal(q, r.PortDesc(0).Name);
        Assert.Equal(MachMsgType.PortSend, r.PortDesc(0).Disposition);
        Assert.Equal(0u, r.PortDesc(1).Name);
        Assert.Equal(MachMsgType.PortSendOnce, r.PortDesc(1).Disposition);
        Assert.Equal(MachMsgType.PortSendOnce, r.PortDesc(2).Disposition);
        Destroy(r);
        RcvAndDestroy(q); // send-once notification from the destroyed send-once right
    }

    [Fact]
    public void B18_OolPhysicalCopyReportsDeallocateFalse()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        long value = 0x1122334455667788;
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)(&value), 8, copy: MachMsgCopy.Physical)));
        Received r = Rcv(p);
        var o = MemoryMarshal.Read<MachMsgOolDescriptor>(r.Buffer.AsSpan(28));
        Assert.Equal(0, o.Deallocate);
        Assert.Equal(MachMsgCopy.Physical, o.Copy);
        Assert.Equal(value, *(long*)o.Address);
        Assert.NotEqual((ulong)(nint)(&value), o.Address);
        // The receiver owns the region whatever the flag says; libsyscall's mach_msg_destroy frees it only when
        // the flag is set (I1, libsyscall/mach/mach_msg.c line 434), so here it is left to vm_deallocate.
        Destroy(r);
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, o.Address, o.Size));
        Assert.Equal(0, k.Task.OutstandingVmRegions);
    }

    [Fact]
    public void B19_OolPortsArrayIsNewAndOwnedByReceiver()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.Port();
        uint* names = stackalloc uint[1] { q };
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).OolPorts((nint)names, 1, MachMsgType.MakeSendOnce)));
        Received r = Rcv(p);
        var d = MemoryMarshal.Read<MachMsgOolPortsDescriptor>(r.Buffer.AsSpan(28));
        Assert.NotEqual((ulong)(nint)names, d.Address);
        Assert.Equal(MachMsgType.PortSendOnce, d.Disposition);
        Assert.Equal(MachPortType.SendOnce, Type(((uint*)d.Address)[0]));
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        Destroy(r);
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        RcvAndDestroy(q);
    }

    [Fact]
    public void B20_GuardedDescriptorWithoutRcvGuardedDescDestroysTheRight()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint g = k.Port();
        var d = new byte[16];
        MemoryMarshal.Write(d.AsSpan(12), g);
        d[10] = (byte)MachMsgType.MoveReceive;
        d[11] = (byte)MachMsgDescriptorType.GuardedPort;
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Raw(d)));
        Received r = Rcv(p);
        Assert.Equal(0u, r.U32(28 + 12));
        Assert.Equal(KernReturn.InvalidName, TypeResult(g));
    }

    [Fact]
    public void B22_B23_MsghSizeIsTheSendSizeAndTrailerFollowsIt()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).WithInline(12)));
        Received r = Rcv(p, trailer: MachTrailerElements.Sender);
        Assert.Equal(36u, r.Header.Size);
        Assert.Equal(0u, r.U32(36));      // trailer type
        Assert.Equal(20u, r.U32(40));     // trailer size
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(1, 12)]
    [InlineData(2, 20)]
    [InlineData(3, 52)]
    [InlineData(4, 60)]
    [InlineData(5, 68)]
    [InlineData(6, 68)]
    [InlineData(7, 68)]
    [InlineData(8, 68)]
    [InlineData(15, 68)]
    public void B24_TrailerSizeByRequestedElements(int elements, int size)
    {
        using var k = new K();
        uint p = k.PortWithSend();
        // Receive the same message twice into buffers filled with different bytes: the kernel wrote exactly the
        // bytes that come out equal, and left the rest alone.
        byte[] ReceiveInto(byte fill)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
            var buf = new byte[256];
            buf.AsSpan().Fill(fill);
            fixed (byte* b = buf)
            {
                // Trailer type nibble 0xf: not checked.
                var option = MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | (MachMsgOption)(0xf << 28) | (MachMsgOption)((elements & 0xf) << 24);
                Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)b, option, 0, 256, p, 0, 0));
            }
            return buf;
        }
        byte[] first = ReceiveInto(0xAA), second = ReceiveInto(0x55);
        Assert.Equal(0u, MemoryMarshal.Read<uint>(first.AsSpan(24)));
        Assert.Equal((uint)size, MemoryMarshal.Read<uint>(first.AsSpan(28)));
        // Every trailer byte up to the requested size is written (the seqno counts up: B26)...
        Assert.True(first.AsSpan(24, 8).SequenceEqual(second.AsSpan(24, 8)));
        if (size > 8)
        {
            Assert.Equal((0u, 1u), (MemoryMarshal.Read<uint>(first.AsSpan(32)), MemoryMarshal.Read<uint>(second.AsSpan(32))));
        }
        if (size > 12)
        {
            Assert.True(first.AsSpan(36, size - 12).SequenceEqual(second.AsSpan(36, size - 12)), "a trailer byte was left unwritten");
        }
        // ... and nothing past it (B25).
        Assert.True(first.AsSpan(24 + size).IndexOfAnyExcept((byte)0xAA) < 0, "written past the requested trailer");
        Assert.True(second.AsSpan(24 + size).IndexOfAnyExcept((byte)0x55) < 0, "written past the requested trailer");
    }

    [Fact]
    public void B25_B26_TrailerCarriesSenderTokensAndSeqno()
    {
        using var k = new K();
        SimulatedTask client = k.NewTask("client");
        (uint recv, uint send) = Connect(k.Task, client);
        As(client, () => Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send))));
        Received r = Rcv(recv, trailer: MachTrailerElements.Labels);
        MachMsgContextTrailer t = r.ContextTrailer;
        Assert.Equal(68u, t.Size);
        Assert.Equal(0u, t.Seqno);
        Assert.Equal(client.Pid, t.Audit.Pid);
        Assert.NotEqual(k.Task.Pid, t.Audit.Pid);
        Assert.Equal(client.AuditToken, t.Audit);
        Assert.Equal(client.SecurityToken, t.Sender);
        Assert.Equal(client.AuditToken.Euid, t.Sender.Euid);
        Assert.Equal(0ul, t.Context);
        Assert.Equal(0u, r.U32((int)r.Header.Size + 60)); // msgh_ad
        Assert.Equal(0u, r.U32((int)r.Header.Size + 64)); // labels
    }

    [Fact]
    public void B26_MainTaskTrailerHasTheRealPid()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Assert.Equal(k.Task.Pid, Rcv(p).AuditTrailer.Audit.Pid);
        Assert.Equal(System.Environment.ProcessId, SimulatedMach.MainTask.Pid);
        Assert.NotEqual(SimulatedMach.MainTask.Pid, k.Task.Pid);
    }

    [Fact]
    public void B27_KernelMessagesCarryTheKernelTokens()
    {
        using var k = new K();
        uint p = k.Port();
        uint so = k.SendOnceTo(p);
        Dealloc(so);
        Received r = Rcv(p);
        Assert.Equal(MachNotify.SendOnce, r.Header.Id);
        Assert.True(r.AuditTrailer.Audit.IsKernel);
        Assert.Equal(0, r.AuditTrailer.Audit.Pid);
        Assert.Equal(SecurityToken.Kernel, r.AuditTrailer.Sender);
    }

    [Fact]
    public void B28_SeqnoCountsDequeuesPerPortFromZero()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        }
        for (uint i = 0; i < 3; i++)
        {
            Assert.Equal(i, Rcv(p, trailer: MachTrailerElements.Seqno).U32(24 + 8));
        }
        uint q = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(q)));
        Assert.Equal(0u, Rcv(q, trailer: MachTrailerElements.Seqno).U32(24 + 8));
        Assert.Equal(3, Status(p)[1]);
    }
}
