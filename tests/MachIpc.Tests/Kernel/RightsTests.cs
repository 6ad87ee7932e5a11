// Section C (port rights and names) of kernel-semantics.md.
//
// Left out on purpose:
//   C2 (part) - mach_port_allocate_name is not part of the seam (IMachKernel); its errors are not tested.
//   C3        - mach_port_construct is not part of the seam.
//   C7/C8 guard parts - guarded receive rights (MPO_CONTEXT_AS_GUARD, guard exceptions) are out of scope.
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class RightsTests
{
    [Fact]
    public void C1_NamesAreIndexAndGeneration_StaleNamesAreInvalid()
    {
        using var k = new K();
        uint a = k.Port();
        Assert.NotEqual(0u, a >> 8);
        Assert.True(MachPortName.IsValid(a));
        DestroyReceive(a);
        uint b = k.Port();
        Assert.Equal(a >> 8, b >> 8);       // the index is reused ...
        Assert.NotEqual(a & 0xff, b & 0xff); // ... with a new generation
        Assert.Equal(KernReturn.InvalidName, TypeResult(a));
        Assert.Equal(KernReturn.InvalidName, Mach.PortDeallocate(Mach.TaskSelf, a));
        for (int i = 0; i < 300; i++)
        {
            uint n = k.Port();
            Assert.True(MachPortName.IsValid(n));
            DestroyReceive(n);
        }
    }

    [Fact]
    public void C2_AllocateEachKindOfRight()
    {
        using var k = new K();
        uint p = k.Port();
        Assert.Equal(MachPortType.Receive, Type(p));
        int[] st = Status(p);
        Assert.Equal(new[] { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0 }, st);
        uint set = k.Set();
        Assert.Equal(MachPortType.PortSet, Type(set));
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Assert.Equal(MachPortType.DeadName, Type(dead));
        Assert.Equal(1u, Refs(dead, MachPortRight.DeadName));
        uint n;
        Assert.Equal(KernReturn.InvalidValue, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Send, &n));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.SendOnce, &n));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortAllocate(Mach.TaskSelf, (MachPortRight)9, &n));
    }

    [Fact]
    public void C4_InsertRightSameNameMakeSendAndCopySend()
    {
        using var k = new K();
        uint p = k.Port();
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, p, p, MachMsgType.MakeSend));
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, p, p, MachMsgType.MakeSend));
        Assert.Equal(2u, Refs(p, MachPortRight.Send));
        Assert.Equal(2, MsCount(p));
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, p, p, MachMsgType.CopySend));
        Assert.Equal(3u, Refs(p, MachPortRight.Send));
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.InvalidRight, Mach.PortInsertRight(Mach.TaskSelf, s, s, MachMsgType.MakeSend));
        uint r = k.Port();
        Assert.Equal(KernReturn.InvalidRight, Mach.PortInsertRight(Mach.TaskSelf, r, r, MachMsgType.CopySend));
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Assert.Equal(KernReturn.InvalidCapability, Mach.PortInsertRight(Mach.TaskSelf, dead, dead, MachMsgType.CopySend));
        Assert.Equal(KernReturn.InvalidName, Mach.PortInsertRight(Mach.TaskSelf, 0x5503, 0x5503, MachMsgType.MakeSend));
    }

    [Fact]
    public void C5_InsertRightUnderAnotherName()
    {
        using var k = new K();
        uint p = k.Port();
        const uint Chosen = 0x00700003;
        Assert.Equal(KernReturn.InvalidName, Mach.PortInsertRight(Mach.TaskSelf, Chosen, 0x4403, MachMsgType.MakeSend));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortInsertRight(Mach.TaskSelf, Chosen, p, MachMsgType.MoveSend));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortInsertRight(Mach.TaskSelf, MachPortName.Null, p, MachMsgType.MakeSend));
        Assert.Equal(0, Status(p)[6]); // the make-send'd right was released again
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, Chosen, p, MachMsgType.MakeSendOnce));
        Assert.Equal(MachPortType.SendOnce, Type(Chosen));
        Assert.Equal(KernReturn.NameExists, Mach.PortInsertRight(Mach.TaskSelf, Chosen, p, MachMsgType.MakeSendOnce));
        // A send right for p would merge with the receive right's name: a different name is RIGHT_EXISTS.
        Assert.Equal(KernReturn.RightExists, Mach.PortInsertRight(Mach.TaskSelf, 0x00710003, p, MachMsgType.MakeSend));
        // The MOVE_SEND'd uref is lost on such a second-stage failure.
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 1));
        Assert.Equal(KernReturn.RightExists, Mach.PortInsertRight(Mach.TaskSelf, 0x00720003, s, MachMsgType.MoveSend));
        Assert.Equal(1u, Refs(s, MachPortRight.Send));
        Dealloc(Chosen);
        RcvAndDestroy(p);
    }

    [Fact]
    public void C6_DeallocateByRightType()
    {
        using var k = new K();
        Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, MachPortName.Null));
        Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, MachPortName.Dead));
        Assert.Equal(KernReturn.InvalidName, Mach.PortDeallocate(Mach.TaskSelf, 0x99903));
        uint p = k.PortWithSend();
        Dealloc(p);
        Assert.Equal(MachPortType.Receive, Type(p));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortDeallocate(Mach.TaskSelf, p));
        uint so = k.SendOnceTo(p);
        Dealloc(so);
        Assert.Equal(MachNotify.SendOnce, Rcv(p).Header.Id);
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Dealloc(dead);
        Assert.Equal(KernReturn.InvalidName, TypeResult(dead));
        uint set = k.Set();
        Dealloc(set);
        Assert.Equal(KernReturn.InvalidName, TypeResult(set));
        // A send right to a dead port is converted first, then loses a uref.
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 1));
        KillPeerPort(k, s);
        Dealloc(s);
        Assert.Equal(MachPortType.DeadName, Type(s));
        Dealloc(s);
    }

    /// <summary>Destroys the receive rights behind foreign send names by terminating the peer task.</summary>
    private static void KillPeerPort(K k, uint send)
    {
        Assert.NotNull(k.Peer);
        k.Peer!.Terminate();
        _ = send;
    }

    [Fact]
    public void C7_ModRefsSend()
    {
        using var k = new K();
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Number, 1));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, MachPortName.Null, MachPortRight.Send, 1));
        Assert.Equal(KernReturn.InvalidName, Mach.PortModRefs(Mach.TaskSelf, MachPortName.Dead, MachPortRight.Receive, 1));
        Assert.Equal(KernReturn.InvalidName, Mach.PortModRefs(Mach.TaskSelf, 0x8803, MachPortRight.Send, 1));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, -2));
        Assert.Equal(1u, Refs(s, MachPortRight.Send));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 65536));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 70000 - 4465));
        Assert.Equal(65535u, Refs(s, MachPortRight.Send));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, -1));
        Assert.Equal(65535u, Refs(s, MachPortRight.Send)); // pegged
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, -65535));
        Assert.Equal(KernReturn.InvalidName, TypeResult(s));
        uint r = k.Port();
        Assert.Equal(KernReturn.InvalidRight, Mach.PortModRefs(Mach.TaskSelf, r, MachPortRight.Send, 1)); // never creates one
    }

    [Fact]
    public void C7_ModRefsReceiveSendOncePortSetDeadName()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.Receive, 0));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.Receive, -2));
        uint so = k.SendOnceTo(p);
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, so, MachPortRight.SendOnce, 1));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, so, MachPortRight.SendOnce, -1));
        Assert.Equal(MachNotify.SendOnce, Rcv(p).Header.Id);
        // Receive -1 on SEND_RECEIVE: the send right becomes a dead name with the same urefs.
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.Send, 1));
        DestroyReceive(p);
        Assert.Equal(MachPortType.DeadName, Type(p));
        Assert.Equal(2u, Refs(p, MachPortRight.DeadName));
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.DeadName, -3));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.DeadName, -2));
        Assert.Equal(KernReturn.InvalidName, TypeResult(p));
        uint set = k.Set();
        Assert.Equal(KernReturn.InvalidValue, Mach.PortModRefs(Mach.TaskSelf, set, MachPortRight.PortSet, 1));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, set, MachPortRight.PortSet, -1));
        uint live = k.ForeignSend();
        Assert.Equal(KernReturn.InvalidRight, Mach.PortModRefs(Mach.TaskSelf, live, MachPortRight.DeadName, -1));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortModRefs(Mach.TaskSelf, live, MachPortRight.Receive, -1));
    }

    [Fact]
    public void C7_ModRefsSendOnDeadPortConvertsAndFails()
    {
        using var k = new K();
        uint s = k.ForeignSend();
        KillPeerPort(k, s);
        Assert.Equal(KernReturn.InvalidRight, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 1));
        Assert.Equal(MachPortType.DeadName, Type(s));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.DeadName, -1));
    }

    [Fact]
    public void C8_DestroyRemovesEveryRightUnderTheName()
    {
        using var k = new K();
        Assert.Equal(KernReturn.Success, Mach.PortDestroy(Mach.TaskSelf, MachPortName.Null));
        Assert.Equal(KernReturn.Success, Mach.PortDestroy(Mach.TaskSelf, MachPortName.Dead));
        Assert.Equal(KernReturn.InvalidName, Mach.PortDestroy(Mach.TaskSelf, 0x6603));
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.Send, 5));
        DestroyName(s);
        Assert.Equal(KernReturn.InvalidName, TypeResult(s));
        uint p = k.PortWithSend();
        uint so = k.SendOnceTo(p);
        DestroyName(so);
        Assert.Equal(MachNotify.SendOnce, Rcv(p).Header.Id);
        DestroyName(p);
        Assert.Equal(KernReturn.InvalidName, TypeResult(p));
    }

    [Fact]
    public void C9_GetRefsAndTypeSpecialCases()
    {
        using var k = new K();
        Assert.Equal(1u, Refs(MachPortName.Null, MachPortRight.Send));
        Assert.Equal(1u, Refs(MachPortName.Dead, MachPortRight.SendOnce));
        uint r;
        Assert.Equal(KernReturn.InvalidName, Mach.PortGetRefs(Mach.TaskSelf, MachPortName.Dead, MachPortRight.Receive, &r));
        uint p = k.Port();
        Assert.Equal(1u, Refs(p, MachPortRight.Receive));
        Assert.Equal(0u, Refs(p, MachPortRight.Send));
        Assert.Equal(0u, Refs(p, MachPortRight.PortSet));
        Assert.Equal(KernReturn.InvalidName, TypeResult(MachPortName.Null));
        Assert.Equal(MachPortType.DeadName, Type(MachPortName.Dead));
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Request(s, MachNotify.DeadName, 0, p, MachMsgType.MakeSendOnce, out _));
        Assert.Equal(MachPortType.Send | MachPortType.DnRequest, Type(s));
        KillPeerPort(k, s);
        Assert.Equal(0u, Refs(s, MachPortRight.Send));
        Assert.Equal(2u, Refs(s, MachPortRight.DeadName)); // +1 for the fired dead-name request
        Assert.Equal(MachNotify.DeadName, Rcv(p).Header.Id);
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, s, MachPortRight.DeadName, -2));
    }

    [Fact]
    public void C10_DestroyingReceiveRightCleansUp()
    {
        using var k = new K();
        SimulatedTask other = k.NewTask("other");
        (uint recv, uint otherSend) = Connect(k.Task, other);
        uint notify = k.Port();
        uint soTarget = k.Port();
        uint so = k.SendOnceTo(soTarget);
        // A queued message carrying a send-once right.
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(recv, MachMsgType.MakeSend).Port(so, MachMsgType.MoveSendOnce)));
        Assert.Equal(KernReturn.Success, Request(recv, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        uint otherNotify = 0;
        As(other, () =>
        {
            otherNotify = k.Port();
            Assert.Equal(KernReturn.Success, Request(otherSend, MachNotify.DeadName, 0, otherNotify, MachMsgType.MakeSendOnce, out _));
        });
        DestroyReceive(recv);
        Assert.Equal(MachNotify.SendOnce, Rcv(soTarget).Header.Id);  // (b) the queued message's send-once right
        Assert.Equal(MachNotify.SendOnce, Rcv(notify).Header.Id);    // (c) no NO_SENDERS, a SEND_ONCE instead
        As(other, () =>
        {
            Received dn = Rcv(otherNotify);
            Assert.Equal(MachNotify.DeadName, dn.Header.Id);          // (d) immediately
            Assert.Equal(otherSend, dn.U32(32));
            Assert.Equal(MachPortType.DeadName, Type(otherSend));    // (e) lazily, with +1
            Assert.Equal(2u, Refs(otherSend, MachPortRight.DeadName));
        });
    }

    [Fact]
    public void C11_PortDestroyedRequestHandsTheReceiveRightOver()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint notify = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, id: 42)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, id: 43)));
        RcvAndDestroy(p); // seqno 1 now
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.PortDestroyed, 0, notify, MachMsgType.MakeSendOnce, out uint prev));
        Assert.Equal(MachPortName.Null, prev);
        DestroyReceive(p);
        Assert.Equal(MachPortType.Send, Type(p)); // the send right stays live
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.PortDestroyed, n.Header.Id);
        Assert.Equal(40u, n.Header.Size);
        Assert.True(n.Header.IsComplex);
        Assert.Equal(MachMsgType.PortReceive, n.PortDesc(0).Disposition);
        uint back = n.PortDesc(0).Name;
        Assert.Equal(p, back); // merged with our send right
        Assert.Equal(MachPortType.SendReceive, Type(back));
        Assert.Equal(0, MsCount(back));
        Received q = Rcv(back, trailer: MachTrailerElements.Seqno);
        Assert.Equal(43, q.Header.Id);
        Assert.Equal(0u, q.U32(24 + 8));
    }

    [Fact]
    public void C12_UnusedSendOnceRightNotifiesItsPort()
    {
        using var k = new K();
        uint p = k.Port();
        uint so = k.SendOnceTo(p);
        Assert.Equal(1, Status(p)[5]);
        Dealloc(so);
        Received r = Rcv(p);
        Assert.Equal(MachNotify.SendOnce, r.Header.Id);
        Assert.Equal(24u, r.Header.Size);
        Assert.Equal(MachMsgBits.Make(0, MachMsgType.PortSendOnce), r.Header.Bits);
        Assert.Equal(MachPortName.Null, r.Header.RemotePort);
        Assert.Equal(p, r.Header.LocalPort);
        Assert.Equal(0, Status(p)[5]);
        // mach_port_mod_refs(SEND_ONCE, -1) destroys an unused send-once right too, and notifies the same way.
        uint so1 = k.SendOnceTo(p);
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, so1, MachPortRight.SendOnce, -1));
        Assert.Equal(MachNotify.SendOnce, Rcv(p).Header.Id);
        // A send-once right that dies with a dead port sends nothing (ipc_notify_send_once_and_unlock drops it): its
        // name became a dead name, deallocating that leaves no name behind and nothing queued anywhere.
        uint q = k.Port();
        uint so2 = k.SendOnceTo(q);
        DestroyReceive(q);
        Assert.Equal(MachPortType.DeadName, Type(so2));
        int queued = SimulatedMach.Snapshot().QueuedMessages;
        Dealloc(so2);
        Assert.Equal(queued, SimulatedMach.Snapshot().QueuedMessages);
        Assert.Equal(KernReturn.InvalidName, Mach.PortModRefs(Mach.TaskSelf, so2, MachPortRight.DeadName, -1));
    }

    [Fact]
    public void C13_ExtractRight()
    {
        using var k = new K();
        uint n;
        MachMsgType t;
        uint p = k.Port();
        Assert.Equal(KernReturn.InvalidValue, Mach.PortExtractRight(Mach.TaskSelf, p, MachMsgType.CopyReceive, &n, &t));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortExtractRight(Mach.TaskSelf, MachPortName.Null, MachMsgType.MakeSend, &n, &t));
        Assert.Equal(KernReturn.InvalidName, Mach.PortExtractRight(Mach.TaskSelf, 0x1234503, MachMsgType.MakeSend, &n, &t));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortExtractRight(Mach.TaskSelf, p, MachMsgType.CopySend, &n, &t));
        Assert.Equal(KernReturn.Success, Mach.PortExtractRight(Mach.TaskSelf, p, MachMsgType.MakeSendOnce, &n, &t));
        Assert.Equal(MachMsgType.PortSendOnce, t);
        Assert.NotEqual(p, n);
        Dealloc(n);
        RcvAndDestroy(p);
        // From another task (named by its task port): its receive right is taken away and lands in our space.
        SimulatedTask other = k.NewTask("other");
        uint theirs = As(other, () => k.Port());
        uint otherTask = other.TaskPortNameIn(k.Task);
        Assert.Equal(KernReturn.Success, Mach.PortExtractRight(otherTask, theirs, MachMsgType.MoveReceive, &n, &t));
        Assert.Equal(MachMsgType.PortReceive, t);
        Assert.Equal(MachPortType.Receive, Type(n));
        As(other, () => Assert.Equal(KernReturn.InvalidName, TypeResult(theirs)));
        DestroyReceive(n);
        Dealloc(otherTask);
        // Dead names are allowed: the caller gets MACH_PORT_DEAD and a MOVE consumes the uref.
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        Assert.Equal(KernReturn.Success, Mach.PortExtractRight(Mach.TaskSelf, dead, MachMsgType.MoveSend, &n, &t));
        Assert.Equal(MachPortName.Dead, n);
        Assert.Equal(KernReturn.InvalidName, TypeResult(dead));
    }

    [Fact]
    public void TaskArgument_MustNameATaskPort()
    {
        using var k = new K();
        uint n;
        uint notATask = k.Port();
        Assert.Equal((KernReturn)MachMsgReturn.SendInvalidDest, Mach.PortAllocate(notATask, MachPortRight.Receive, &n));
        Assert.Equal((KernReturn)MachMsgReturn.SendInvalidDest, Mach.PortAllocate(0x123403, MachPortRight.Receive, &n));
        SimulatedTask other = k.NewTask("other");
        uint otherTask = other.TaskPortNameIn(k.Task);
        Assert.Equal(otherTask, other.TaskPortNameIn(k.Task)); // merged: +1 uref
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(otherTask, MachPortRight.Receive, &n));
        uint created = n;
        Assert.Contains(other.Rights(), r => r.Name == created && r.Type == MachPortType.Receive);
        other.Terminate();
        Assert.Equal((KernReturn)MachMsgReturn.SendInvalidDest, Mach.PortAllocate(otherTask, MachPortRight.Receive, &n));
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, otherTask, MachPortRight.DeadName, -2));
    }

    [Fact]
    public void C14_PortSetMembership()
    {
        using var k = new K();
        uint p = k.Port();
        uint s1 = k.Set(), s2 = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, p, s1));
        Assert.Equal(KernReturn.AlreadyInSet, Mach.PortInsertMember(Mach.TaskSelf, p, s1));
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, p, s2)); // several sets at once
        Assert.Equal(KernReturn.Success, Mach.PortExtractMember(Mach.TaskSelf, p, s2));
        Assert.Equal(KernReturn.NotInSet, Mach.PortExtractMember(Mach.TaskSelf, p, s2));
        Assert.Equal(KernReturn.Success, Mach.PortMoveMember(Mach.TaskSelf, p, s2));
        Assert.Equal(KernReturn.NotInSet, Mach.PortExtractMember(Mach.TaskSelf, p, s1)); // only in s2 now
        Assert.Equal(KernReturn.Success, Mach.PortMoveMember(Mach.TaskSelf, p, MachPortName.Null));
        Assert.Equal(KernReturn.NotInSet, Mach.PortMoveMember(Mach.TaskSelf, p, MachPortName.Null));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortInsertMember(Mach.TaskSelf, MachPortName.Null, s1));
        Assert.Equal(KernReturn.InvalidRight, Mach.PortMoveMember(Mach.TaskSelf, MachPortName.Dead, s1));
        Assert.Equal(0, Status(p)[0]);
    }

    [Fact]
    public void C15_TaskDeathDestroysReceiveRightsThenReleasesTheRest()
    {
        using var k = new K();
        SimulatedTask victim = k.NewTask("victim");
        (uint victimRecv, uint mySend) = Connect(victim, k.Task);
        (uint myRecv, uint victimSend) = Connect(k.Task, victim);
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(mySend, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        uint x = k.Port();
        Assert.Equal(KernReturn.Success, Request(x, MachNotify.NoSenders, 1, notify, MachMsgType.MakeSendOnce, out _));
        // The victim holds the only send right to x in its space ...
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(mySend).Port(x, MachMsgType.MakeSend)));
        As(victim, () => Assert.Equal(MachMsgReturn.Success, Rcv(victimRecv).Result));
        // ... and a queued send-once right it will never use.
        uint soPort = k.Port();
        uint so = k.SendOnceTo(soPort);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(mySend).Port(so, MachMsgType.MoveSendOnce)));
        int livePorts = SimulatedMach.Snapshot().LivePorts;
        victim.Terminate();
        Assert.True(victim.IsTerminated);
        Assert.Equal(livePorts - 1, SimulatedMach.Snapshot().LivePorts);
        Assert.Equal(MachNotify.SendOnce, Rcv(soPort).Header.Id);   // the queued message's send-once right
        var ids = new System.Collections.Generic.List<int> { Rcv(notify).Header.Id, Rcv(notify).Header.Id };
        ids.Sort();
        Assert.Equal(new[] { MachNotify.NoSenders, MachNotify.DeadName }, ids.ToArray());
        Assert.Equal(MachPortType.DeadName, Type(mySend));
        Dealloc(mySend);
        Dealloc(mySend);
        _ = victimRecv;
        _ = victimSend;
    }
}
