// Section D (notifications) and E (queue limits) of kernel-semantics.md.
//
// Left out on purpose:
//   D1 (part) - SEND_POSSIBLE requests are not modelled: the simulator answers KERN_INVALID_VALUE.
//   D1 note   - when a request fails, the simulator destroys the notify send-once right that the MIG request
//               carried (as ipc_kobject_server destroys a failed request), so the notify port gets a
//               MACH_NOTIFY_SEND_ONCE. This follows from reading the MIG/kobject path, not from a test on hardware.
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class NotificationTests
{
    [Fact]
    public void D1_RequestArgumentChecks()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidCapability, Request(p, MachNotify.NoSenders, 0, MachPortName.Dead, MachMsgType.MakeSendOnce, out _));
        foreach (int id in new[] { MachNotify.SendOnce, MachNotify.PortDeleted, 99 })
        {
            Assert.Equal(KernReturn.InvalidValue, Request(p, id, 0, notify, MachMsgType.MakeSendOnce, out _));
            Assert.Equal(MachNotify.SendOnce, Rcv(notify).Header.Id); // the failed request's send-once right
        }
        // previous comes back as a send-once right to the old notify port.
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 1, notify, MachMsgType.MakeSendOnce, out uint prev));
        Assert.Equal(MachPortName.Null, prev);
        uint notify2 = k.Port();
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 1, notify2, MachMsgType.MakeSendOnce, out prev));
        Assert.Equal(MachPortType.SendOnce, Type(prev));
        Dealloc(prev);
        Assert.Equal(MachNotify.SendOnce, Rcv(notify).Header.Id);
        DestroyReceive(p);
        Assert.Equal(MachNotify.SendOnce, Rcv(notify2).Header.Id);
    }

    [Fact]
    public void D2_NoSendersRequestFiresImmediatelyWhenNoSendRights()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidRight, Request(MachPortName.Null, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        Assert.Equal(KernReturn.InvalidName, Request(0x3303, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.InvalidRight, Request(s, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.NoSenders, n.Header.Id);
        Assert.Equal(0u, n.U32(32));
        Assert.Equal(0, Status(p)[8]); // nothing stays armed
        // notify = NULL cancels and returns the previous request.
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 5, notify, MachMsgType.MakeSendOnce, out _));
        Assert.Equal(1, Status(p)[8]);
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 0, MachPortName.Null, 0, out uint prev));
        Assert.Equal(MachPortType.SendOnce, Type(prev));
        Assert.Equal(0, Status(p)[8]);
        Dealloc(prev);
        RcvAndDestroy(notify);
    }

    [Fact]
    public void D3_NoSendersFiresOnceWithCurrentMakeSendCount()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        uint s1 = k.SendTo(p);
        uint s2 = k.SendTo(p);
        Assert.Equal(p, s1);
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        Dealloc(p);
        AssertNoMessage(notify);
        Dealloc(p);
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.NoSenders, n.Header.Id);
        Assert.Equal(2u, n.U32(32));
        _ = k.SendTo(p);
        Dealloc(p);
        AssertNoMessage(notify); // not re-armed
        _ = s2;
    }

    [Fact]
    public void D4_ReceiveDestroyedWithNoSendersArmedSendsSendOnceInstead()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        DestroyReceive(p);
        Assert.Equal(MachNotify.SendOnce, Rcv(notify).Header.Id);
        AssertNoMessage(notify);
        Dealloc(p);
        // Notify port = the dying port itself: nothing at all. A receiver blocked on a port set holding q would
        // be handed a notification that reached q before it died; it must wake only because q left the set.
        uint q = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, q, set));
        Assert.Equal(KernReturn.Success, Request(q, MachNotify.NoSenders, 0, q, MachMsgType.MakeSendOnce, out _));
        Received? onSet = null;
        var receiver = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                onSet = Rcv(set, extra: MachMsgOption.RcvTimeout, timeout: 5000);
            }
        });
        receiver.Start();
        SendPathTests.WaitUntil(() => SimulatedKernel.Shared.ReceiversBlockedOn(k.Task, set) == 1);
        int queued = SimulatedMach.Snapshot().QueuedMessages;
        DestroyReceive(q);
        Assert.Equal(queued, SimulatedMach.Snapshot().QueuedMessages);
        Assert.Equal(1, SimulatedKernel.Shared.ReceiversBlockedOn(k.Task, set)); // nothing was handed to it
        DestroyName(set);
        receiver.Join();
        Assert.Equal(MachMsgReturn.RcvPortChanged, onSet!.Result);
        Dealloc(q);
    }

    [Fact]
    public void D5_DeadNameRequestFiresAndAddsAUref()
    {
        using var k = new K();
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidArgument, Request(MachPortName.Null, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        Assert.Equal(KernReturn.InvalidName, Request(0x7703, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        uint set = k.Set();
        Assert.Equal(KernReturn.InvalidRight, Request(set, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        SendPathTests.SimulatedTaskPair(k, out uint recv, out uint send, out var server);
        Assert.Equal(KernReturn.Success, Request(send, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out uint prev));
        Assert.Equal(MachPortName.Null, prev);
        uint notify2 = k.Port();
        Assert.Equal(KernReturn.Success, Request(send, MachNotify.DeadName, 0, notify2, MachMsgType.MakeSendOnce, out prev));
        Assert.Equal(MachPortType.SendOnce, Type(prev)); // replaced, previous returned
        Dealloc(prev);
        RcvAndDestroy(notify);
        As(server, () => DestroyReceive(recv));
        Received n = Rcv(notify2);
        Assert.Equal(MachNotify.DeadName, n.Header.Id);
        Assert.Equal(36u, n.Header.Size);
        Assert.Equal(send, n.U32(32));
        Assert.Equal(1, n.Buffer[24 + 4]); // NDR int_rep
        Assert.Equal(2u, Refs(send, MachPortRight.DeadName));
        Dealloc(send);
        Dealloc(send);
        Assert.Equal(KernReturn.InvalidName, TypeResult(send));
    }

    [Fact]
    public void D6_DeadNameRequestOnDeadNameIsInvalidArgument()
    {
        using var k = new K();
        uint dead;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &dead));
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidArgument, Request(dead, MachNotify.DeadName, 1, notify, MachMsgType.MakeSendOnce, out _));
        Assert.Equal(KernReturn.InvalidArgument, Request(dead, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        Assert.Equal(1u, Refs(dead, MachPortRight.DeadName));
        RcvAndDestroy(notify);
        RcvAndDestroy(notify);
    }

    [Fact]
    public void D7_LosingTheRightWhilePortLivesSendsPortDeleted()
    {
        using var k = new K();
        uint notify = k.Port();
        uint s = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Request(s, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        Dealloc(s);
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.PortDeleted, n.Header.Id);
        Assert.Equal(s, n.U32(32));
        uint s2 = k.ForeignSend();
        Assert.Equal(KernReturn.Success, Request(s2, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        DestroyName(s2);
        Assert.Equal(MachNotify.PortDeleted, Rcv(notify).Header.Id);
    }

    [Fact]
    public void D8_PortDestroyedRequestRules()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidValue, Request(p, MachNotify.PortDestroyed, 1, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        Assert.Equal(KernReturn.InvalidRight, Request(MachPortName.Null, MachNotify.PortDestroyed, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.PortDestroyed, 0, notify, MachMsgType.MakeSendOnce, out uint prev));
        Assert.Equal(MachPortName.Null, prev);
        Assert.Equal(KernReturn.Failure, Request(p, MachNotify.PortDestroyed, 0, MachPortName.Null, 0, out _));
        Assert.Equal(1, Status(p)[7]);
        DestroyReceive(p);
        Received n = Rcv(notify);
        Assert.Equal(MachNotify.PortDestroyed, n.Header.Id);
        uint back = n.PortDesc(0).Name;
        Assert.Equal(0, Status(back)[7]); // consumed
        DestroyReceive(back);
    }

    /// <summary>
    /// Found by the wire fuzz target (tests/MachIpc.Fuzz/findings/wire): a port whose port-destroyed notification
    /// goes to the port itself. Its notification would carry its own receive right into its own queue; XNU marks it
    /// circular (ipc_kmsg_copyin_port_from_kernel) and ipc_kmsg_send destroys it, so the port dies, its queue with it.
    /// </summary>
    [Fact]
    public void D8b_PortDestroyedNotificationToThePortItselfDestroysThePort()
    {
        var before = SimulatedMach.Snapshot();
        using (var k = new K())
        {
            uint p = k.Port();
            Assert.Equal(KernReturn.Success, Request(p, MachNotify.PortDestroyed, 0, p, MachMsgType.MakeSendOnce, out _));
            uint so = k.SendOnceTo(p);
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(so, MachMsgType.MoveSendOnce))); // queued on p: must die too
            DestroyReceive(p);
            Assert.Equal(KernReturn.InvalidName, TypeResult(p));
            Assert.Null(SimulatedMach.Snapshot().DescribeLeaksSince(before)); // before the task dies: nothing lives on
        }
    }

    [Fact]
    public void D9_SendOnceNotificationIsAutomaticAndCannotBeRequested()
    {
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.InvalidValue, Request(p, MachNotify.SendOnce, 0, notify, MachMsgType.MakeSendOnce, out _));
        RcvAndDestroy(notify);
        uint so = k.SendOnceTo(p);
        Assert.Equal(KernReturn.Success, Mach.PortModRefs(Mach.TaskSelf, so, MachPortRight.SendOnce, -1));
        Assert.Equal(MachNotify.SendOnce, Rcv(p).Header.Id);
    }

    [Fact]
    public void D10_KernelNotificationsAreTellableByTheirAuditToken()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint so = k.SendOnceTo(p);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        Dealloc(so);
        Received user = Rcv(p);
        Received kernel = Rcv(p);
        Assert.Equal(k.Task.Pid, user.AuditTrailer.Audit.Pid);
        Assert.False(user.AuditTrailer.Audit.IsKernel);
        Assert.Equal(0, kernel.AuditTrailer.Audit.Pid);
        Assert.True(kernel.AuditTrailer.Audit.IsKernel);
        Assert.Equal(new SecurityToken { Euid = 0, Egid = 1 }, kernel.AuditTrailer.Sender);
    }

    [Fact]
    public void E1_NewPortsHaveQueueLimitFive()
    {
        using var k = new K();
        uint p = k.Port();
        int q;
        uint count = 1;
        Assert.Equal(KernReturn.Success, Mach.PortGetAttributes(Mach.TaskSelf, p, MachPortLimits.LimitsInfoFlavor, &q, &count));
        Assert.Equal(5, q);
        Assert.Equal(1u, count);
        Assert.Equal(5u, MachPortLimits.QLimitDefault);
        Assert.Equal(1024u, MachPortLimits.QLimitMax);
        Assert.Equal(65534u, MachPortLimits.QLimitKernel);
    }

    [Fact]
    public void E2_SetQueueLimitChecksAndWakesBlockedSenders()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        int q = 3;
        Assert.Equal(KernReturn.Failure, Mach.PortSetAttributes(Mach.TaskSelf, p, MachPortLimits.LimitsInfoFlavor, &q, 0));
        Assert.Equal(KernReturn.InvalidValue, SetQLimit(MachPortName.Null, 1025));
        Assert.Equal(KernReturn.InvalidRight, SetQLimit(MachPortName.Null, 3));
        Assert.Equal(KernReturn.InvalidName, SetQLimit(0x12303, 3));
        Assert.Equal(KernReturn.InvalidRight, SetQLimit(k.ForeignSend(), 3));
        Assert.Equal(KernReturn.Success, SetQLimit(p, 0));
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1024));
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        var results = new MachMsgReturn[2];
        var threads = new Thread[2];
        for (int i = 0; i < 2; i++)
        {
            int j = i;
            threads[i] = new Thread(() =>
            {
                using (k.Task.Enter())
                {
                    results[j] = Send(Msg.To(p), MachMsgOption.SendTimeout, 5000);
                }
            });
            threads[i].Start();
        }
        WaitBlocked(2);
        Thread.Sleep(10);
        Assert.Equal(KernReturn.Success, SetQLimit(p, 3)); // room for two more: both wake with a slot
        foreach (Thread t in threads)
        {
            t.Join();
        }
        Assert.Equal(new[] { MachMsgReturn.Success, MachMsgReturn.Success }, results);
        Assert.Equal(3, MsgCount(p));
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1)); // lowering drops nothing
        Assert.Equal(3, MsgCount(p));
        for (int i = 0; i < 3; i++)
        {
            RcvAndDestroy(p);
        }
    }

    [Fact]
    public void E3_GetAttributesLimitsAndReceiveStatus()
    {
        using var k = new K();
        int q = 7;
        uint count = 1;
        Assert.Equal(KernReturn.Success, Mach.PortGetAttributes(Mach.TaskSelf, MachPortName.Null, MachPortLimits.LimitsInfoFlavor, &q, &count));
        Assert.Equal(0u, count);
        uint p = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, p, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)));
        uint so = k.SendOnceTo(p);
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 9, p, MachMsgType.MakeSendOnce, out _));
        int[] st = Status(p);
        Assert.Equal(1, st[0]); // pset
        Assert.Equal(0, st[1]); // seqno
        Assert.Equal(1, st[2]); // mscount
        Assert.Equal(5, st[3]); // qlimit
        Assert.Equal(1, st[4]); // msgcount
        Assert.Equal(2, st[5]); // sorights: ours + the request's
        Assert.Equal(1, st[6]); // srights (bool)
        Assert.Equal(0, st[7]); // pdrequest
        Assert.Equal(1, st[8]); // nsrequest
        Dealloc(so);
        DestroyName(p); // SEND_RECEIVE: the send goes first (no-senders goes to p itself), then the port
        Dealloc(set);
    }

    [Fact]
    public void E4_QueueLimitZeroBlocksOrdinarySendsEvenWithAWaitingReceiver()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 0));
        MachMsgReturn got = (MachMsgReturn)(-1);
        var t = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                got = Rcv(p, extra: MachMsgOption.RcvTimeout, timeout: 5000).Result;
            }
        });
        t.Start();
        WaitBlocked(1);
        Thread.Sleep(10);
        Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(p), MachMsgOption.SendTimeout, 0));
        uint so = k.SendOnceTo(p);
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(so, MachMsgType.MoveSendOnce), MachMsgOption.SendTimeout, 0));
        t.Join();
        Assert.Equal(MachMsgReturn.Success, got);
        Assert.Equal(0, MsgCount(p));
    }
}
