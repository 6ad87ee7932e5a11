// A send whose header only copies rights (COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE) takes them without its space's lock,
// reading the entries under the lock's sequence count and confirming them with the ports locked (MsgSend.cs
// TryCopyinHeaderUnlocked, KernelLock.cs SeqLock). These tests check that it is taken, that it takes the same rights the
// locked copyin would, and that the counts stay exact while other threads change the space under it.
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class UnlockedCopyinTests
{
    [Fact]
    public void SeqLock_AReaderSeesAnyHolderBetweenItsTwoReads()
    {
        SeqLock l = SeqLock.Create();
        int begin = l.ReadBegin();
        Assert.True(l.Unchanged(begin));
        l.Enter();
        int during = l.ReadBegin();
        Assert.False(l.Unchanged(begin));
        Assert.False(l.Unchanged(during)); // odd: a holder may be halfway through a change
        l.Exit();
        Assert.False(l.Unchanged(begin));
        Assert.True(l.TryEnter());
        l.Exit();
        int after = l.ReadBegin();
        Assert.Equal(begin + 4, after);
        Assert.True(l.Unchanged(after));
    }

    [Fact]
    public void CopyOnlySends_LeaveTheSpaceUnlocked_AndTakeTheSameRights()
    {
        using var k = new K();
        uint p = k.PortWithSend(), reply = k.Port();
        IpcPort port = k.Task.Space.Lookup(p)!.Port!;
        int seq = k.Task.Space.Lock.ReadBegin();

        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce, id: 1)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MakeSend, reply, MachMsgType.MakeSend, id: 2)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.MakeSendOnce, p, MachMsgType.CopySend, id: 3)));
        Assert.True(k.Task.Space.Lock.Unchanged(seq)); // no send above held the space lock

        // What the messages carry: 2 send rights + 1 send-once to p in flight, plus the entry's own send right.
        Assert.Equal(3 + 1, (int)port.SRights);
        Assert.Equal(1, (int)port.SoRights);
        Assert.Equal(2, MsCount(p)); // insert_right's MAKE_SEND and message 2's
        Assert.Equal(1, MsCount(reply)); // message 2's reply

        Received r1 = Rcv(p), r2 = Rcv(p), r3 = Rcv(p);
        Assert.Equal((uint)MachMsgType.PortSendOnce | ((uint)MachMsgType.PortSend << 8), r1.Header.Bits);
        Assert.Equal(MachPortType.SendOnce, Type(r1.Header.RemotePort));
        Assert.Equal((uint)MachMsgType.PortSend | ((uint)MachMsgType.PortSend << 8), r2.Header.Bits);
        Assert.Equal(reply, r2.Header.RemotePort); // merged into the receive right's name (B14)
        Assert.Equal((uint)MachMsgType.PortSend | ((uint)MachMsgType.PortSendOnce << 8), r3.Header.Bits);
        Assert.Equal(p, r3.Header.RemotePort);
        Destroy(r1);
        Destroy(r2);
        Destroy(r3);
        Received notification = Rcv(reply); // destroying r1's send-once right notified the reply port
        Assert.Equal(MachMsgReturn.Success, notification.Result);
        Assert.Equal(MachNotify.SendOnce, notification.Header.Id);
        AssertNoMessage(reply);
        Assert.Equal(1, (int)port.SRights);
        Assert.Equal(0, (int)port.SoRights);

        // A moved right changes the entry, so that send takes the lock.
        seq = k.Task.Space.Lock.ReadBegin();
        uint s = k.SendTo(p);
        Assert.False(k.Task.Space.Lock.Unchanged(seq));
        seq = k.Task.Space.Lock.ReadBegin();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(s, MachMsgType.MoveSend)));
        Assert.False(k.Task.Space.Lock.Unchanged(seq));
        RcvAndDestroy(p);
        DestroyName(p);
        DestroyName(reply);
    }

    [Fact]
    public void CopyOnlySends_FallBackToTheLock_ForADeadDestination()
    {
        using var k = new K();
        SimulatedTask server = k.NewTask("server");
        (uint recv, uint send) = Connect(server, k.Task);
        As(server, () => DestroyReceive(recv));
        // The entry still says send right (it turns into a dead name when next looked up under the lock, C10e).
        Assert.Equal(MachPortType.Send, k.Task.Space.Lookup(send)!.Type);
        int seq = k.Task.Space.Lock.ReadBegin();
        Assert.Equal(MachMsgReturn.SendInvalidDest, Send(Msg.To(send, MachMsgType.CopySend)));
        Assert.False(k.Task.Space.Lock.Unchanged(seq));
        Assert.Equal(MachPortType.DeadName, k.Task.Space.Lookup(send)!.Type);
        Dealloc(send);
    }

    /// <summary>
    /// Senders copy rights to a port while another thread of the task keeps taking its send right away and giving it
    /// back and churns the space's names: every send either carries a right or is refused as the locked path would,
    /// and the port's counts come out exact.
    /// </summary>
    [Fact]
    public void CopyOnlySendsRacingChangesToTheSpace_KeepEveryCountExact()
    {
        using var k = new K();
        uint p = k.PortWithSend(), reply = k.Port();
        IpcPort port = k.Task.Space.Lookup(p)!.Port!, replyPort = k.Task.Space.Lookup(reply)!.Port!;
        const int Rounds = 3000;
        int sent = 0, madeSend = 0, refused = 0, toggles = 0;
        var unexpected = new List<string>();
        var stop = new ManualResetEventSlim();
        int received = 0;

        var sender = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                for (int i = 0; i < Rounds; i++)
                {
                    bool make = (i & 1) == 0;
                    MachMsgReturn mr = Send(Msg.To(p, make ? MachMsgType.MakeSend : MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce, id: i));
                    if (mr == MachMsgReturn.Success)
                    {
                        sent++;
                        madeSend += make ? 1 : 0;
                    }
                    else if (mr == MachMsgReturn.SendInvalidDest && !make)
                    {
                        refused++; // the send right was away at that moment
                    }
                    else
                    {
                        lock (unexpected)
                        {
                            unexpected.Add("send " + mr);
                        }
                    }
                }
            }
        });
        var changer = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                var names = new Queue<uint>();
                while (!stop.IsSet)
                {
                    uint n;
                    KernReturn a = Mach.PortModRefs(Mach.TaskSelf, p, MachPortRight.Send, -1);
                    KernReturn b = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &n); // new names, now and then a larger table
                    KernReturn c = Mach.PortInsertRight(Mach.TaskSelf, p, p, MachMsgType.MakeSend);
                    names.Enqueue(n);
                    KernReturn d = names.Count > 200 ? Mach.PortDestroy(Mach.TaskSelf, names.Dequeue()) : KernReturn.Success;
                    if (a != KernReturn.Success || b != KernReturn.Success || c != KernReturn.Success || d != KernReturn.Success)
                    {
                        lock (unexpected)
                        {
                            unexpected.Add($"change {a} {b} {c} {d}");
                        }
                        break;
                    }
                    toggles++;
                }
                while (names.Count > 0)
                {
                    Mach.PortDestroy(Mach.TaskSelf, names.Dequeue());
                }
            }
        });
        var drainer = new Thread(() =>
        {
            using (k.Task.Enter())
            {
                while (!stop.IsSet || MsgCount(p) > 0)
                {
                    Received r = Rcv(p, timeout: 10);
                    if (r.Result == MachMsgReturn.Success)
                    {
                        Destroy(r); // releases the send right; the send-once reply notifies the reply port
                        received++;
                    }
                }
            }
        });
        changer.Start();
        drainer.Start();
        sender.Start();
        sender.Join();
        stop.Set();
        changer.Join();
        drainer.Join();

        Assert.Empty(unexpected);
        Assert.Equal(Rounds, sent + refused);
        Assert.Equal(sent, received);
        Assert.True(toggles > 0);
        // Only the entry's own send right is left, and every MAKE_SEND was counted once.
        Assert.Equal(1u, Refs(p, MachPortRight.Send));
        Assert.Equal(1, (int)port.SRights);
        Assert.Equal(1 + toggles + madeSend, MsCount(p));
        // Each send-once right was destroyed by the drainer and came back as one notification.
        int notifications = 0;
        while (Rcv(reply).Result == MachMsgReturn.Success)
        {
            notifications++;
        }
        Assert.Equal(sent, notifications);
        Assert.Equal(0, (int)replyPort.SoRights);
        DestroyName(p);
        DestroyName(reply);
    }
}
