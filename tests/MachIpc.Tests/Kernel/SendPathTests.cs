// Section A (send path) of /work/shared/docs/kernel-semantics.md, one test or more per rule, named after it.
//
// Left out on purpose:
//   A11 (partly) - vouchers are out of scope: every valid voucher name is refused with INVALID_VOUCHER
//                  (the simulator has no IKOT_VOUCHER objects), which is what XNU does for a name that is
//                  not a voucher. Real voucher transfer is not modelled.
//   A32          - MACH_SEND_NO_GRANT_DEST, message filtering and mach_msg2 options are not modelled.
//   A35 (part)   - MACH_SEND_INTERRUPTED: simulated threads are never interrupted.
//   A38          - kernel-object destinations (MIG kernel servers): out of scope; the simulator consumes such
//                  messages (destroying their rights) and reports success.
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class SendPathTests
{
    [Fact]
    public void A1_SendSizeArgumentOverridesHeaderSize()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] buf = Msg.To(p).Build(out _);
        MemoryMarshal.Write(buf.AsSpan(4), 0u); // msgh_size = 0
        Assert.Equal(MachMsgReturn.Success, Send(buf, 24));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(24u, r.Header.Size);
    }

    [Fact]
    public void A2_SendSizeBelowHeaderOrUnalignedIsTooSmall()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] buf = Msg.To(p).WithInline(8).Build(out _);
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(buf, 20));
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(buf, 26));
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(buf, 0));
        AssertNoMessage(p);
    }

    [Fact]
    public void A3_SendLargerThanBodySpaceFailsWithTooLarge()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] buf = Msg.To(p).Build(out _);
        Assert.Equal(MachMsgReturn.SendTooLarge, Send(buf, MachMsgLimits.MaxBodySpace + 4));
        Assert.Equal(50331580u, MachMsgLimits.MaxBodySpace);
        Assert.Equal(1u, Refs(p, MachPortRight.Send));
    }

    [Fact]
    public void A3_LargeMessageBelowLimitIsAccepted()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] buf = Msg.To(p).WithInline(70000).Build(out uint size);
        Assert.Equal(MachMsgReturn.Success, Send(buf, size));
        Received r = Rcv(p, size + 100);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(size, r.Header.Size);
        Assert.Equal(buf[24 + 69999], r.Buffer[24 + 69999]);
    }

    [Fact]
    public void A4_BitsOutsideUserMaskAreSilentlyCleared()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Msg m = Msg.To(p);
        m.Bits |= 0x40000000;
        Assert.Equal(MachMsgReturn.Success, Send(m));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(0u, r.Header.Bits & 0x40000000);
    }

    [Fact]
    public void A5_ComplexWithoutRoomForBodyOrDescriptorsIsTooSmall()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Msg m = Msg.To(p);
        m.Bits |= MachMsgBits.Complex;
        byte[] buf = m.Build(out _);
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(buf, 24));

        // Count larger than (size - 28) / 12.
        byte[] two = Msg.To(p).Port(0, MachMsgType.CopySend).Build(out uint size);
        MemoryMarshal.Write(two.AsSpan(24), 2u);
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(two, size));

        // An OOL descriptor (16 bytes) that runs past the end of a 40-byte message.
        byte[] ool = Msg.To(p).Ool(0, 0).Build(out _);
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(ool, 40));
        Assert.Equal(1u, Refs(p, MachPortRight.Send));
        AssertNoMessage(p);
    }

    [Fact]
    public void A6_UnknownDescriptorTypeOrCopyOptionIsInvalidType_NothingConsumed()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint s = k.ForeignSend();
        var bad = new byte[12];
        bad[11] = 7;
        Assert.Equal(MachMsgReturn.SendInvalidType, Send(Msg.To(p, MachMsgType.MoveSend).Port(s, MachMsgType.MoveSend).Raw(bad)));
        Assert.Equal(1u, Refs(p, MachPortRight.Send));
        Assert.Equal(1u, Refs(s, MachPortRight.Send));

        byte[] ool = Msg.To(p).Ool(0, 0).Build(out uint size);
        ool[28 + 9] = 2; // copy option 2
        Assert.Equal(MachMsgReturn.SendInvalidType, Send(ool, size));

        var guarded = new byte[16];
        guarded[10] = (byte)MachMsgType.MoveSend;
        guarded[11] = (byte)MachMsgDescriptorType.GuardedPort;
        Assert.Equal(MachMsgReturn.SendInvalidType, Send(Msg.To(p).Raw(guarded)));
        AssertNoMessage(p);
    }

    [Fact]
    public void A7_MoreThan16383PortsInDescriptorsIsTooLarge()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.SendTooLarge, Send(Msg.To(p).OolPorts(16, 16384, MachMsgType.CopySend)));
        Assert.Equal(MachMsgReturn.SendTooLarge, Send(Msg.To(p).OolPorts(16, 16383, MachMsgType.CopySend).Port(0, MachMsgType.CopySend)));
    }

    [Fact]
    public void A8_RemoteDispositionMustBeASendDisposition()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(p, 0)));
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(p, MachMsgType.MoveReceive)));
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(p, MachMsgType.CopyReceive)));
        Assert.Equal(MachPortType.SendReceive, Type(p));
    }

    [Fact]
    public void A9_NullOrDeadDestinationIsInvalidDest()
    {
        using var k = new K();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(MachPortName.Null)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(MachPortName.Dead)));
    }

    [Fact]
    public void A10_LocalDispositionRules()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.PortWithSend();
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(p, MachMsgType.CopySend, q, 0)));
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(p, MachMsgType.CopySend, q, MachMsgType.MoveReceive)));
        // A valid disposition with a NULL or DEAD local name is passed through.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, MachPortName.Dead, MachMsgType.CopySend)));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(MachPortName.Dead, r.Header.RemotePort);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, MachPortName.Null, MachMsgType.MakeSendOnce)));
        Assert.Equal(MachPortName.Null, Rcv(p).Header.RemotePort);
    }

    [Fact]
    public void A11_VoucherDispositionAndNameChecks()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint other = k.PortWithSend();
        Msg m = Msg.To(p);
        m.Bits |= (uint)MachMsgType.MakeSend << 16;
        m.Voucher = other;
        Assert.Equal(MachMsgReturn.SendInvalidVoucher, Send(m));
        m = Msg.To(p);
        m.Bits |= (uint)MachMsgType.CopySend << 16;
        m.Voucher = MachPortName.Dead;
        Assert.Equal(MachMsgReturn.SendInvalidVoucher, Send(m));
        m.Voucher = other; // a send right, but not to a voucher
        Assert.Equal(MachMsgReturn.SendInvalidVoucher, Send(m));
        // Disposition 0: msgh_voucher_port passes through unchanged.
        m = Msg.To(p);
        m.Voucher = 0x1234;
        Assert.Equal(MachMsgReturn.Success, Send(m));
        Assert.Equal(0x1234u, Rcv(p).Header.VoucherPort);
    }

    [Fact]
    public void A12_SameNameRules()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint so = k.SendOnceTo(p);
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(so, MachMsgType.MoveSendOnce, so, MachMsgType.MoveSendOnce)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(p, MachMsgType.CopySend, p, MachMsgType.MoveSendOnce)));
        uint q = k.PortWithSend();
        Msg m = Msg.To(p, MachMsgType.CopySend, q, MachMsgType.CopySend);
        m.Bits |= (uint)MachMsgType.CopySend << 16;
        m.Voucher = q;
        Assert.Equal(MachMsgReturn.SendInvalidReply, Send(m));
        Assert.Equal(MachPortType.SendOnce, Type(so));
        Dealloc(so);
        RcvAndDestroy(p); // the send-once notification
    }

    [Fact]
    public void A13_UnknownNameOrPortSetDestinationIsInvalidDest()
    {
        using var k = new K();
        uint set = k.Set();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(0x12345)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(set)));
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(dead)));
    }

    [Fact]
    public void A14_DispositionMustMatchRightHeld()
    {
        using var k = new K();
        uint recvOnly = k.Port();
        uint p = k.PortWithSend();
        uint sendOnly = k.ForeignSend();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(recvOnly, MachMsgType.MoveSend)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(recvOnly, MachMsgType.CopySend)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(sendOnly, MachMsgType.MakeSend)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(sendOnly, MachMsgType.MoveSendOnce)));
        Assert.Equal(MachMsgReturn.SendInvalidReply, Send(Msg.To(p, MachMsgType.CopySend, sendOnly, MachMsgType.MakeSendOnce)));
        Assert.Equal(MachMsgReturn.SendInvalidReply, Send(Msg.To(p, MachMsgType.CopySend, recvOnly, MachMsgType.CopySend)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(recvOnly, MachMsgType.MakeSend)));
        RcvAndDestroy(recvOnly);
    }

    /// <summary>
    /// Found by the copyin fuzz target (tests/MachIpc.Fuzz/findings/copyin): one send-only name as both the MOVE_SEND
    /// destination and the COPY_SEND reply, holding one uref. XNU moves that uref and copies one more send right
    /// (ipc_kmsg_copyin_dest_disposition, IPC_OBJECT_COPYIN_FLAGS_DEST_EXTRA_COPY); the simulator freed the entry
    /// with the move and then threw copying the reply from it.
    /// </summary>
    [Fact]
    public void A14b_OneUrefAsMoveSendDestinationAndCopySendReply_MovesItAndCopiesAnother()
    {
        var before = SimulatedMach.Snapshot();
        using (var k = new K())
        {
            SimulatedTaskPair(k, out uint serverRecv, out uint clientSend, out var server);
            Assert.Equal(1u, Refs(clientSend, MachPortRight.Send));
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(clientSend, MachMsgType.MoveSend, clientSend, MachMsgType.CopySend)));
            Assert.Equal(KernReturn.InvalidName, TypeResult(clientSend)); // its only uref moved
            As(server, () =>
            {
                Received r = Rcv(serverRecv);
                Assert.Equal(MachMsgReturn.Success, r.Result);
                Assert.Equal(serverRecv, r.Header.RemotePort); // the copied send right, under the receive right's name
                Assert.Equal(1u, Refs(serverRecv, MachPortRight.Send));
                Dealloc(serverRecv);
                DestroyReceive(serverRecv);
            });
            Assert.Null(SimulatedMach.Snapshot().DescribeLeaksSince(before));
        }
    }

    [Fact]
    public void A15_SendRightToDeadPortTurnsIntoDeadNameAndFails()
    {
        using var k = new K();
        SimulatedTaskPair(k, out uint serverRecv, out uint clientSend, out var server);
        As(server, () => DestroyReceive(serverRecv));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(clientSend)));
        Assert.Equal(MachPortType.DeadName, Type(clientSend));
        Assert.Equal(1u, Refs(clientSend, MachPortRight.DeadName));
        Dealloc(clientSend);
    }

    [Fact]
    public void A16_SendOnceToDeadPortSucceedsAndConsumesTheName()
    {
        using var k = new K();
        var server = k.NewTask("server");
        (uint recv, uint send) = Connect(server, k.Task);
        uint reply = k.Port();
        // The server hands us a send-once right to its port; then the port dies.
        As(server, () =>
        {
            uint bounce = 0;
            Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, recv, recv, MachMsgType.MakeSend));
            bounce = recv;
            _ = bounce;
        });
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send, MachMsgType.CopySend, reply, MachMsgType.MakeSend)));
        Received got = As(server, () => Rcv(recv));
        As(server, () => Assert.Equal(MachMsgReturn.Success, Send(Msg.To(got.Header.RemotePort, MachMsgType.MoveSend).Port(recv, MachMsgType.MakeSendOnce))));
        Received r = Rcv(reply);
        uint so = r.PortDesc(0).Name;
        Assert.True(MachPortName.IsValid(so));
        As(server, () => DestroyName(recv));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(so, MachMsgType.MoveSendOnce)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(so));
        Dealloc(send);
    }

    internal static void SimulatedTaskPair(K k, out uint serverRecv, out uint clientSend, out MachIpc.Kernel.Simulated.SimulatedTask server)
    {
        server = k.NewTask("server");
        (serverRecv, clientSend) = Connect(server, k.Task);
    }

    [Fact]
    public void A17_UnconvertedDeadReplyIsAcceptedOnceThenRefused()
    {
        using var k = new K();
        SimulatedTaskPair(k, out uint serverRecv, out uint clientSend, out var server);
        uint mine = k.PortWithSend();
        As(server, () => DestroyReceive(serverRecv));
        // Not looked up yet: accepted (DEADOK); the receiver sees MACH_PORT_DEAD.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(mine, MachMsgType.CopySend, clientSend, MachMsgType.CopySend)));
        Received r = Rcv(mine);
        Assert.Equal(MachPortName.Dead, r.Header.RemotePort);
        // Now converted: the same send is refused.
        Assert.Equal(MachPortType.DeadName, Type(clientSend));
        Assert.Equal(MachMsgReturn.SendInvalidReply, Send(Msg.To(mine, MachMsgType.CopySend, clientSend, MachMsgType.CopySend)));
        Dealloc(clientSend);
    }

    [Fact]
    public void A18_HeaderCopyinIsAtomic()
    {
        using var k = new K();
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        uint recv = k.Port();
        uint s = k.ForeignSend();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(dead, MachMsgType.MoveSend, s, MachMsgType.MoveSend)));
        Assert.Equal(1u, Refs(s, MachPortRight.Send));
        Assert.Equal(MachMsgReturn.SendInvalidReply, Send(Msg.To(recv, MachMsgType.MakeSend, s, MachMsgType.MoveSendOnce)));
        Assert.Equal(0, MsCount(recv)); // no make-send count bump
        Assert.Equal(1u, Refs(s, MachPortRight.Send));
    }

    [Fact]
    public void A19_CheckOrder()
    {
        using var k = new K();
        var bad = new byte[12];
        bad[11] = 9;
        Assert.Equal(MachMsgReturn.SendInvalidType, Send(Msg.To(0x4242).Raw(bad)));
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(0x4242, MachMsgType.CopySend, 0x4343, MachMsgType.CopySend)));
        // ipc_kmsg_copyin_header_validate (osfmk/ipc/ipc_kmsg.c) checks the reply, then the voucher, then the
        // destination. Reply and destination errors are both MACH_SEND_INVALID_HEADER, so each is paired with an
        // error only the other order would report first.
        Msg badReplyBadVoucher = Msg.To(0x4242, MachMsgType.CopySend, 5, 0); // a reply name without a disposition
        badReplyBadVoucher.Bits |= (uint)MachMsgType.MakeSend << 16;         // vouchers are MOVE_SEND or COPY_SEND only
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(badReplyBadVoucher));
        Msg badVoucherBadDest = Msg.To(0x4242, 0);
        badVoucherBadDest.Bits |= (uint)MachMsgType.MakeSend << 16;
        Assert.Equal(MachMsgReturn.SendInvalidVoucher, Send(badVoucherBadDest));
        Assert.Equal(MachMsgReturn.SendInvalidHeader, Send(Msg.To(MachPortName.Null, MachMsgType.CopySend, 5, 0))); // not INVALID_DEST
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, Send(Msg.To(0x4242).Raw(bad).Build(out _), 30));
    }

    [Fact]
    public void A20_CopySendKeepsSenderUrefsAndArrivesAsPortSend()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend).Port(q, MachMsgType.CopySend)));
        Assert.Equal(1u, Refs(q, MachPortRight.Send));
        Received r = Rcv(p);
        Assert.Equal(MachMsgType.PortSend, r.PortDesc(0).Disposition);
        Assert.Equal(q, r.PortDesc(0).Name); // merged (B14)
        Assert.Equal(2u, Refs(q, MachPortRight.Send));
        Assert.Equal(MachMsgType.PortSend, MachMsgBits.Local(r.Header.Bits));
    }

    [Fact]
    public void A21_MoveSendTakesAUref_LastOneLeavesReceiveRight_PeggedStaysPegged()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.Send, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MoveSend)));
        Assert.Equal(1u, Refs(p, MachPortRight.Send));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MoveSend)));
        Assert.Equal(MachPortType.Receive, Type(p));
        RcvAndDestroy(p);
        RcvAndDestroy(p);

        uint q = k.PortWithSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, q, MachPortRight.Send, 70000 - 70000 + 65534));
        Assert.Equal(65535u, Refs(q, MachPortRight.Send));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(q, MachMsgType.MoveSend)));
        Assert.Equal(65535u, Refs(q, MachPortRight.Send));
        RcvAndDestroy(q);
    }

    [Fact]
    public void A21_MoveSendOfLastUrefAnswersDeadNameRequestWithPortDeleted()
    {
        using var k = new K();
        uint target = k.Port();
        uint s = k.SendTo(target);
        Assert.Equal(s, target); // B14: merged into the receive right's name
        var other = k.NewTask("other");
        (uint otherRecv, uint otherSend) = Connect(other, k.Task);
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(otherSend, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(target).Port(otherSend, MachMsgType.MoveSend)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(otherSend));
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.PortDeleted, n.Header.Id);
        Assert.Equal(otherSend, n.U32(32));
        RcvAndDestroy(target);
        _ = otherRecv;
    }

    [Fact]
    public void A22_MakeSendBumpsMakeSendCount()
    {
        using var k = new K();
        uint p = k.Port();
        Assert.Equal(0, MsCount(p));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MakeSend)));
        Assert.Equal(1, MsCount(p));
        Assert.Equal(1, Status(p)[6]); // srights > 0 while the message is queued
        Assert.Equal(MachPortType.Receive, Type(p));
        Received r = Rcv(p);
        Assert.Equal(MachMsgType.PortSend, MachMsgBits.Local(r.Header.Bits));
        Assert.Equal(0, Status(p)[6]);
    }

    [Fact]
    public void A23_MakeSendOnceArrivesAsPortSendOnce()
    {
        using var k = new K();
        uint p = k.Port();
        uint reply = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MakeSendOnce, reply, MachMsgType.MakeSendOnce)));
        Assert.Equal(2, Status(p)[5] + Status(reply)[5]);
        Received r = Rcv(p);
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgBits.Local(r.Header.Bits));
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgBits.Remote(r.Header.Bits));
        Assert.Equal(MachPortType.SendOnce, Type(r.Header.RemotePort));
        Destroy(r);
        RcvAndDestroy(reply); // send-once notification
    }

    [Fact]
    public void A24_MoveSendOnceDeletesTheEntry()
    {
        using var k = new K();
        uint p = k.Port();
        uint so = k.SendOnceTo(p);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(so, MachMsgType.MoveSendOnce)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(so));
        Received r = Rcv(p);
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgBits.Local(r.Header.Bits));
        Assert.Equal(0, Status(p)[5]);
    }

    [Fact]
    public void A25_MoveReceiveTakesQueuedMessagesAlongAndResetsCounts()
    {
        using var k = new K();
        uint carrier = k.PortWithSend();
        uint moved = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(moved, MachMsgType.MakeSend)));
        Assert.Equal(2, MsCount(moved));
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, moved, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(carrier).Port(moved, MachMsgType.MoveReceive)));
        Assert.Equal(MachPortType.Send, Type(moved)); // the name keeps just the send right
        Assert.Equal(MachMsgReturn.RcvInvalidName, Rcv(moved).Result);
        Received r = Rcv(carrier);
        uint got = r.PortDesc(0).Name;
        Assert.Equal(moved, got); // B15: into the entry that already held send rights
        Assert.Equal(MachPortType.SendReceive, Type(got));
        int[] st = Status(got);
        Assert.Equal(0, st[0]);  // left the set
        Assert.Equal(0, st[2]);  // mscount reset
        Assert.Equal(1, st[4]);  // the queued message travelled with it
        Received q = Rcv(got, trailer: MachTrailerElements.Seqno);
        Assert.Equal(0u, q.U32((int)q.Header.Size + 8)); // seqno reset
        Destroy(q);
    }

    [Fact]
    public void A26_ReceiveRightSentToItselfIsSilentlyDestroyed()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend).Port(p, MachMsgType.MoveReceive)));
        Assert.Equal(MachPortType.DeadName, Type(p));
        Dealloc(p);
        // Chain: A's receive right travels to B, whose receive right travels to A.
        uint a = k.PortWithSend(), b = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(b).Port(a, MachMsgType.MoveReceive)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(a).Port(b, MachMsgType.MoveReceive)));
        Assert.Equal(MachPortType.DeadName, Type(a));
        Assert.Equal(MachPortType.DeadName, Type(b));
        Dealloc(a);
        Dealloc(b);
    }

    [Fact]
    public void A27_SameNameForDestAndReplyAppliesBothDispositions()
    {
        using var k = new K();
        uint p = k.Port();
        uint s = k.ForeignSend();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(s, MachMsgType.MoveSend, s, MachMsgType.MoveSend)));
        Assert.Equal(1u, Refs(s, MachPortRight.Send));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(s, MachMsgType.MoveSend, s, MachMsgType.MoveSend)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(s));
        _ = p;
    }

    [Fact]
    public void A28_PortDescriptorNamesAndDeadOk()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(MachPortName.Null, MachMsgType.CopySend).Port(dead, MachMsgType.MoveSend)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(dead)); // its one uref was consumed
        Received r = Rcv(p);
        Assert.Equal(MachPortName.Null, r.PortDesc(0).Name);
        Assert.Equal(MachPortName.Dead, r.PortDesc(1).Name);
        Assert.Equal(MachMsgType.PortSend, r.PortDesc(1).Disposition);
        Assert.Equal(MachMsgReturn.SendInvalidRight, Send(Msg.To(p).Port(0x9999, MachMsgType.CopySend)));
        uint recvOnly = k.Port();
        Assert.Equal(MachMsgReturn.SendInvalidRight, Send(Msg.To(p).Port(recvOnly, MachMsgType.MoveSendOnce)));
        // An unknown disposition is refused by the right copyin (INVALID_RIGHT, not INVALID_TYPE) ...
        Assert.Equal(MachMsgReturn.SendInvalidRight, Send(Msg.To(p).Port(recvOnly, MachMsgType.CopyReceive)));
        // ... and is not even looked at for a NULL name.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(MachPortName.Null, (MachMsgType)99)));
        Assert.Equal(MachPortName.Null, Rcv(p).PortDesc(0).Name);
        // A NULL or DEAD name whose disposition reads as a receive right carries no right: nothing moves (A26's
        // circularity check has nothing to look at).
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(MachPortName.Null, MachMsgType.PortReceive).Port(MachPortName.Dead, MachMsgType.MoveReceive)));
        r = Rcv(p);
        Assert.Equal(MachPortName.Null, r.PortDesc(0).Name);
        Assert.Equal(MachPortName.Dead, r.PortDesc(1).Name);
    }

    [Fact]
    public void A29_OolPortsFailureDestroysRightsAlreadyTaken()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint s1 = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s1, MachPortRight.Send, 1));
        uint* names = stackalloc uint[3] { s1, 0x7777, s1 };
        Assert.Equal(MachMsgReturn.SendInvalidRight, Send(Msg.To(p).OolPorts((nint)names, 3, MachMsgType.MoveSend)));
        Assert.Equal(1u, Refs(s1, MachPortRight.Send)); // the first MOVE_SEND is lost
        Assert.Equal(MachMsgReturn.SendInvalidMemory, Send(Msg.To(p).OolPorts(0, 2, MachMsgType.CopySend)));
        AssertNoMessage(p);
        // Success: the receiver gets an array of names it must deallocate.
        uint* ok = stackalloc uint[2] { s1, MachPortName.Null };
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).OolPorts((nint)ok, 2, MachMsgType.CopySend)));
        Received r = Rcv(p);
        var d = MemoryMarshal.Read<MachMsgOolPortsDescriptor>(r.Buffer.AsSpan(28));
        Assert.Equal(2u, d.Count);
        Assert.Equal(1, d.Deallocate); // B19
        Assert.Equal(MachMsgCopy.Virtual, d.Copy);
        Assert.Equal(MachMsgType.PortSend, d.Disposition);
        uint* got = (uint*)d.Address;
        Assert.Equal(s1, got[0]);
        Assert.Equal(0u, got[1]);
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        Destroy(r);
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        Assert.Equal(1u, Refs(s1, MachPortRight.Send));
    }

    [Fact]
    public void A30_OolMemoryIsASnapshotAtSendTime()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] data = [1, 2, 3, 4, 5];
        fixed (byte* d = data)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)d, 5).Ool(0, 0)));
            d[0] = 99;
            Assert.Equal(MachMsgReturn.SendInvalidMemory, Send(Msg.To(p).Ool(0, 5)));
        }
        Received r = Rcv(p);
        var o = MemoryMarshal.Read<MachMsgOolDescriptor>(r.Buffer.AsSpan(28));
        Assert.NotEqual((ulong)0, o.Address);
        Assert.Equal(5u, o.Size);
        Assert.Equal(1, o.Deallocate); // B18: TRUE for VIRTUAL_COPY
        Assert.Equal(1, ((byte*)o.Address)[0]);
        var zero = MemoryMarshal.Read<MachMsgOolDescriptor>(r.Buffer.AsSpan(44));
        Assert.Equal(0ul, zero.Address);
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, o.Address, o.Size));
        Assert.Equal(0, k.Task.OutstandingVmRegions);
    }

    [Fact]
    public void A29_UnreadableOolPortsArrayFailsWithInvalidMemory_NotACrash()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(MachMsgReturn.SendInvalidMemory, Send(Msg.To(p).OolPorts((nint)0x10, 4, MachMsgType.CopySend)));
        Assert.Equal(MachMsgReturn.RcvTimedOut, Mach.Msg(null, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 0, p, 0, 0));
    }

    [Fact]
    public void A30_UnreadableOolSourceFailsWithInvalidMemory_NotACrash()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        // Non-null garbage addresses: a low page, a non-canonical address, and the end of the address space.
        foreach (ulong address in new ulong[] { 0x10, 0x8000_0000_0000_0000, ulong.MaxValue - 16 })
        {
            Assert.Equal(MachMsgReturn.SendInvalidMemory, Send(Msg.To(p).Ool((nint)address, 64)));
        }
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        Assert.Equal(MachMsgReturn.RcvTimedOut, Mach.Msg(null, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 0, p, 0, 0));
    }

    [Fact]
    public void A30_DeallocateOnASimulatorRegionFreesIt()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] data = [7, 7];
        fixed (byte* d = data)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)d, 2)));
        }
        Received r = Rcv(p);
        var o = MemoryMarshal.Read<MachMsgOolDescriptor>(r.Buffer.AsSpan(28));
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        // Forward the region with deallocate=TRUE: it leaves our address space.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)o.Address, o.Size, deallocate: true)));
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        Received again = Rcv(p);
        var o2 = MemoryMarshal.Read<MachMsgOolDescriptor>(again.Buffer.AsSpan(28));
        Assert.Equal(7, ((byte*)o2.Address)[1]);
        Destroy(again);
    }

    [Fact]
    public void A30_ForwardingAHeldRegionWithoutDeallocate_SendsASnapshot_AndKeepsTheRegion()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        byte[] data = [1, 2, 3];
        fixed (byte* d = data)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)d, 3)));
        }
        Received r = Rcv(p);
        var held = MemoryMarshal.Read<MachMsgOolDescriptor>(r.Buffer.AsSpan(28));
        ((byte*)held.Address)[0] = 42;
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)held.Address, held.Size)));
        ((byte*)held.Address)[0] = 99; // after the send: not seen by the receiver (A30)
        Assert.Equal(1, k.Task.OutstandingVmRegions); // still ours
        Received again = Rcv(p);
        var copy = MemoryMarshal.Read<MachMsgOolDescriptor>(again.Buffer.AsSpan(28));
        Assert.NotEqual(held.Address, copy.Address);
        Assert.Equal(42, ((byte*)copy.Address)[0]);
        Assert.Equal(3, ((byte*)copy.Address)[2]);
        Destroy(again);
        Destroy(r);
        Assert.Equal(0, k.Task.OutstandingVmRegions);
    }

    [Fact]
    public void A31_BodyFailureDestroysHeaderRightsAndEarlierDescriptors()
    {
        using var k = new K();
        uint dest = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(dest, MachNotify.NoSenders, 1, notify, MachMsgType.MakeSendOnce, out _));
        uint reply = k.Port();
        uint s1 = k.ForeignSend();
        uint s2 = k.ForeignSend();
        Assert.Equal(MachMsgReturn.SendInvalidRight, Send(Msg.To(dest, MachMsgType.MakeSend, reply, MachMsgType.MakeSendOnce)
            .Port(s1, MachMsgType.MoveSend).Port(0x5555, MachMsgType.CopySend).Port(s2, MachMsgType.MoveSend)));
        Assert.Equal(KernReturn.InvalidName, TypeResult(s1));      // taken, then destroyed
        Assert.Equal(1u, Refs(s2, MachPortRight.Send));            // after the failure: untouched
        Received so = Rcv(reply);
        Assert.Equal(MachNotify.SendOnce, so.Header.Id);           // the reply right was destroyed
        Received ns = Rcv(notify);
        Assert.Equal(MachNotify.NoSenders, ns.Header.Id);          // the MAKE_SEND'd dest right was released
        Assert.Equal(1u, ns.U32(32));
        AssertNoMessage(dest);
    }

    [Fact]
    public void A33_DestinationDyingWhileSenderBlockedReportsSuccess()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        uint reply = k.Port();
        MachMsgReturn result = (MachMsgReturn)(-1);
        var t = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                result = Send(Msg.To(p, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce), MachMsgOption.SendTimeout, 5000);
            }
        });
        t.Start();
        WaitBlocked(1);
        DestroyReceive(p);
        t.Join();
        Assert.Equal(MachMsgReturn.Success, result);
        Assert.Equal(MachNotify.SendOnce, Rcv(reply).Header.Id); // the destroyed message's reply right
        Dealloc(p); // our send right is now a dead name
    }

    internal static void WaitUntil(System.Func<bool> condition)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.ElapsedMilliseconds < 5000, "condition not reached");
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void A34_SendOnceDestinationBypassesQueueLimit()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(p), MachMsgOption.SendTimeout, 0));
        uint so = k.SendOnceTo(p);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(so, MachMsgType.MoveSendOnce), MachMsgOption.SendTimeout, 0));
        Assert.Equal(2, MsgCount(p));
        RcvAndDestroy(p);
        RcvAndDestroy(p);
    }

    [Fact]
    public void A35_FullQueueTimesOutImmediatelyOrAfterTimeout()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        }
        Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(p), MachMsgOption.SendTimeout, 0));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(p), MachMsgOption.SendTimeout, 30));
        Assert.True(sw.ElapsedMilliseconds >= 25);
        for (int i = 0; i < 5; i++)
        {
            RcvAndDestroy(p);
        }
    }

    [Fact]
    public void A35_PastTheKernelQueueLimitSendsFailWithNoBuffer()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        byte[] so = Msg.To(0, MachMsgType.MakeSendOnce).Build(out uint size);
        for (int i = 1; i < (int)MachPortLimits.QLimitKernel; i++)
        {
            // MAKE_SEND_ONCE destination: bypasses qlimit up to 65534 messages (A34).
            MemoryMarshal.Write(so.AsSpan(8), p);
            if (Send(so, size, MachMsgOption.SendTimeout, 0) != MachMsgReturn.Success)
            {
                Assert.Fail("send-once send " + i + " failed");
            }
        }
        Assert.Equal((int)MachPortLimits.QLimitKernel, MsgCount(p));
        Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(p, MachMsgType.MakeSendOnce), MachMsgOption.SendTimeout, 0));
        Assert.Equal(MachMsgReturn.SendNoBuffer, Send(Msg.To(p)));
        Assert.Equal(MachPortType.SendReceive, Type(p));
        Assert.Equal(2u, Refs(p, MachPortRight.Send)); // pseudo-received: the COPY_SEND'd right came back as a uref
        DestroyName(p); // 65534 queued messages destroyed with the port
    }

    [Fact]
    public void A36_TimedOutSendIsPseudoReceivedIntoSenderBuffer()
    {
        using var k = new K();
        uint p = k.Port();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 0));
        uint reply = k.Port();
        byte[] data = [1, 2, 3];
        byte[] buf;
        fixed (byte* d = data)
        {
            buf = Msg.To(p, MachMsgType.MakeSend, reply, MachMsgType.MakeSendOnce).Ool((nint)d, 3).Build(out uint size);
            Assert.Equal(MachMsgReturn.SendTimedOut, Send(buf, size, MachMsgOption.SendTimeout, 0));
        }
        var h = MemoryMarshal.Read<MachMsgHeader>(buf);
        Assert.Equal(MachMsgType.PortSend, MachMsgBits.Remote(h.Bits));
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgBits.Local(h.Bits));
        Assert.Equal(p, h.RemotePort);                           // merged into our receive right
        Assert.Equal(MachPortType.SendReceive, Type(p));
        Assert.Equal(1, MsCount(p));                             // the make-send count stays incremented
        Assert.NotEqual(reply, h.LocalPort);                     // a send-once right: new name
        Assert.Equal(MachPortType.SendOnce, Type(h.LocalPort));
        var o = MemoryMarshal.Read<MachMsgOolDescriptor>(buf.AsSpan(28));
        Assert.NotEqual((ulong)0, o.Address);                   // mapped back at a new address
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        fixed (byte* b = buf)
        {
            Mach.MsgDestroy((MachMsgHeader*)b); // releases remote (our send right) and the OOL region
        }
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        Assert.Equal(MachPortType.Receive, Type(p));
        Dealloc(h.LocalPort); // mach_msg_destroy leaves msgh_local_port alone
        RcvAndDestroy(reply);
    }

    [Fact]
    public void A37_HandOffToWaitingReceiverTakesNoSlot_DequeueWakesBlockedSender()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1));
        Received? got = null;
        var rt = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                got = Rcv(p, extra: MachMsgOption.RcvTimeout, timeout: 5000);
            }
        });
        rt.Start();
        WaitUntil(() => SimulatedKernel.Shared.ReceiversBlockedOn(k.Task, p) == 1);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        rt.Join();
        Assert.Equal(MachMsgReturn.Success, got!.Result);
        Assert.Equal(0, MsgCount(p));

        // The hand-off released its slot: with qlimit 1 the queue still has room, so a send that may not wait
        // (MACH_SEND_TIMEOUT 0) succeeds instead of timing out.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p), MachMsgOption.SendTimeout, 0));
        Assert.Equal(1, MsgCount(p));
        MachMsgReturn blocked = (MachMsgReturn)(-1);
        var st = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                blocked = Send(Msg.To(p, id: 2), MachMsgOption.SendTimeout, 5000);
            }
        });
        st.Start();
        WaitBlocked(1);
        Assert.Equal(1000, Rcv(p).Header.Id);
        st.Join();
        Assert.Equal(MachMsgReturn.Success, blocked);
        Assert.Equal(1, MsgCount(p));
        Assert.Equal(2, Rcv(p).Header.Id);
    }
}
