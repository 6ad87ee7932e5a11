// Races between operations on different ports, sets and tasks, now that each has its own lock: every message is
// accounted for exactly once, no thread is left blocked, and the kernel-wide leak check (K) finds nothing.
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class LockingTests
{
    private static readonly System.TimeSpan Hang = System.TimeSpan.FromSeconds(60);

    private static void JoinAll(IEnumerable<Thread> threads)
    {
        foreach (Thread t in threads)
        {
            Assert.True(t.Join(Hang), $"{t.Name} did not finish: a lost wake-up or a deadlock");
        }
    }

    private static Thread Start(string name, System.Action body)
    {
        var t = new Thread(() => body()) { Name = name, IsBackground = true };
        t.Start();
        return t;
    }

    [Fact]
    public void SendReceiveAndDestroy_OnDifferentPorts_EveryReplyRightComesBackOnce()
    {
        using var k = new K();
        SimulatedTask owner = k.NewTask("owner");
        const int Ports = 6, Senders = 3, PerSender = 300;
        var recv = new uint[Ports];
        var send = new uint[Ports];
        for (int i = 0; i < Ports; i++)
        {
            (recv[i], send[i]) = Connect(owner, k.Task);
        }
        uint replies = k.Port();
        Assert.Equal(KernReturn.Success, SetQLimit(replies, 1024));
        nint value = (nint)System.Runtime.InteropServices.NativeMemory.AllocZeroed(8);
        int delivered = 0;
        var errors = new ConcurrentQueue<string>();
        var threads = new List<Thread>();
        for (int s = 0; s < Senders; s++)
        {
            int seed = s;
            threads.Add(Start("sender-" + s, () =>
            {
                using var scope = k.Task.Enter();
                var rng = new System.Random(seed);
                for (int i = 0; i < PerSender; i++)
                {
                    // A reply right and an out-of-line region ride along; the port may die at any moment.
                    MachMsgReturn mr = Send(Msg.To(send[rng.Next(Ports)], MachMsgType.CopySend, replies, MachMsgType.MakeSendOnce).Ool(value, 8));
                    if (mr == MachMsgReturn.Success)
                    {
                        Interlocked.Increment(ref delivered);
                    }
                    else if (mr != MachMsgReturn.SendInvalidDest)
                    {
                        errors.Enqueue("send " + mr);
                    }
                }
            }));
        }
        var stop = new ManualResetEventSlim();
        for (int r = 0; r < Ports / 2; r++)
        {
            int port = r;
            threads.Add(Start("receiver-" + r, () =>
            {
                using var scope = owner.Enter();
                while (true)
                {
                    Received m = Rcv(recv[port], extra: MachMsgOption.RcvTimeout, timeout: 20);
                    if (m.Result == MachMsgReturn.Success)
                    {
                        Destroy(m); // the reply right is destroyed: MACH_NOTIFY_SEND_ONCE back to the senders' port
                    }
                    else if (m.Result == MachMsgReturn.RcvTimedOut && stop.IsSet)
                    {
                        return;
                    }
                    else if (m.Result is not (MachMsgReturn.RcvTimedOut or MachMsgReturn.RcvPortChanged or MachMsgReturn.RcvInvalidName))
                    {
                        errors.Enqueue("receive " + m.Result);
                    }
                }
            }));
        }
        // The other half of the ports die while messages are queued on them (and receivers block on the first half).
        Thread destroyer = Start("destroyer", () =>
        {
            using var scope = owner.Enter();
            for (int i = Ports / 2; i < Ports; i++)
            {
                Thread.Yield();
                DestroyName(recv[i]);
            }
        });
        destroyer.Join(Hang);
        JoinAll(threads.GetRange(0, Senders));
        stop.Set();
        JoinAll(threads);
        As(owner, () =>
        {
            for (int i = 0; i < Ports / 2; i++)
            {
                DestroyName(recv[i]); // whatever is still queued dies with the port
            }
        });
        Assert.Empty(errors);
        // Every message that was sent carried one send-once right, and every one came back exactly once.
        int notifications = 0;
        while (Rcv(replies).Result is MachMsgReturn.Success)
        {
            notifications++;
        }
        Assert.Equal(delivered, notifications);
        Assert.Equal(0, SimulatedMach.BlockedThreads);
        foreach (uint n in send)
        {
            Mach.PortDeallocate(Mach.TaskSelf, n);
        }
        System.Runtime.InteropServices.NativeMemory.Free((void*)value);
    }

    [Fact]
    public void PortSetMembershipChanges_DuringReceive_EveryMessageReceivedExactlyOnce()
    {
        using var k = new K();
        uint set = k.Set();
        uint other = k.Set();
        var ports = new uint[4];
        for (int i = 0; i < ports.Length; i++)
        {
            ports[i] = k.PortWithSend();
            Assert.Equal(KernReturn.Success, SetQLimit(ports[i], 1024));
            Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, ports[i], set));
        }
        const int Receivers = 3, Messages = 2000;
        var seen = new ConcurrentDictionary<int, byte>();
        var duplicates = new ConcurrentQueue<int>();
        var stop = new ManualResetEventSlim();
        var threads = new List<Thread>();
        for (int r = 0; r < Receivers; r++)
        {
            threads.Add(Start("set-receiver-" + r, () =>
            {
                using var scope = k.Task.Enter();
                while (!stop.IsSet)
                {
                    Received m = Rcv(set, extra: MachMsgOption.RcvTimeout, timeout: 20);
                    if (m.Result == MachMsgReturn.Success && !seen.TryAdd(m.Header.Id, 0))
                    {
                        duplicates.Enqueue(m.Header.Id);
                    }
                }
            }));
        }
        Thread churn = Start("membership", () =>
        {
            using var scope = k.Task.Enter();
            var rng = new System.Random(1);
            while (!stop.IsSet)
            {
                uint p = ports[rng.Next(ports.Length)];
                switch (rng.Next(3))
                {
                    case 0:
                        Mach.PortExtractMember(Mach.TaskSelf, p, set);
                        break;
                    case 1:
                        Mach.PortInsertMember(Mach.TaskSelf, p, set);
                        break;
                    default:
                        Mach.PortMoveMember(Mach.TaskSelf, p, rng.Next(2) == 0 ? other : set);
                        break;
                }
            }
        });
        for (int i = 0; i < Messages; i++)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(ports[i % ports.Length], id: i)));
        }
        // Put every port back in the set so the receivers can drain it, then let them finish.
        stop.Set();
        churn.Join(Hang);
        foreach (uint p in ports)
        {
            Mach.PortMoveMember(Mach.TaskSelf, p, set);
        }
        JoinAll(threads);
        foreach (uint p in ports)
        {
            while (Rcv(p) is { Result: MachMsgReturn.Success } m)
            {
                if (!seen.TryAdd(m.Header.Id, 0))
                {
                    duplicates.Enqueue(m.Header.Id);
                }
            }
        }
        Assert.Empty(duplicates);
        Assert.Equal(Messages, seen.Count);
        Assert.Equal(0, SimulatedMach.BlockedThreads);
        foreach (uint p in ports)
        {
            DestroyName(p);
        }
        DestroyName(set);
        DestroyName(other);
    }

    [Fact]
    public void TaskDeath_DuringTraffic_EveryCallReturns_AndNothingLeaks()
    {
        using var k = new K();
        const int Pairs = 4;
        var servers = new SimulatedTask[Pairs];
        var clients = new SimulatedTask[Pairs];
        var threads = new List<Thread>();
        var outcomes = new ConcurrentQueue<MachMsgReturn>();
        var started = new CountdownEvent(Pairs);
        for (int i = 0; i < Pairs; i++)
        {
            servers[i] = k.NewTask("server-" + i);
            clients[i] = k.NewTask("client-" + i);
            (uint recv, uint send) = Connect(servers[i], clients[i]);
            SimulatedTask server = servers[i], client = clients[i];
            threads.Add(Start("server-" + i, () =>
            {
                using var scope = server.Enter();
                byte* buf = stackalloc byte[256];
                var h = (MachMsgHeader*)buf;
                // MIG-style: reply and wait for the next request in one call, until the task dies under us.
                MachMsgReturn mr = Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, recv, 0, 0);
                while (mr == MachMsgReturn.Success)
                {
                    h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
                    h->LocalPort = 0;
                    h->Size = 32;
                    h->Id += 100;
                    mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, 32, 256, recv, 0, 0);
                }
                outcomes.Enqueue(mr);
            }));
            threads.Add(Start("client-" + i, () =>
            {
                using var scope = client.Enter();
                uint reply = ReceiveRightName();
                byte* buf = stackalloc byte[256];
                var h = (MachMsgHeader*)buf;
                for (int n = 0; ; n++)
                {
                    if (n == 50)
                    {
                        started.Signal();
                    }
                    h->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce);
                    h->Size = 32;
                    h->RemotePort = send;
                    h->LocalPort = reply;
                    h->VoucherPort = 0;
                    h->Id = 500;
                    MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, 32, 256, reply, 0, 0);
                    if (mr != MachMsgReturn.Success || h->Id != 600)
                    {
                        // The server died: its port is dead (SEND_INVALID_DEST), or it died holding our reply
                        // right (MACH_NOTIFY_SEND_ONCE arrives instead of a reply), or we died ourselves.
                        outcomes.Enqueue(mr == MachMsgReturn.Success ? (MachMsgReturn)h->Id : mr);
                        if (n < 50)
                        {
                            started.Signal();
                        }
                        return;
                    }
                }
            }));
        }
        Assert.True(started.Wait(Hang));
        // Servers die mid-traffic; then the clients, some blocked in a receive that can no longer complete.
        for (int i = 0; i < Pairs; i++)
        {
            servers[i].Terminate();
        }
        for (int i = 0; i < Pairs; i++)
        {
            clients[i].Terminate();
        }
        JoinAll(threads);
        Assert.Equal(2 * Pairs, outcomes.Count);
        // A thread whose own task dies while a message is being copied out to it gets the bare header with
        // MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE (osfmk/ipc/ipc_kmsg.c ipc_kmsg_copyout_header: "if
        // (!is_active(space)) ... return MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE").
        Assert.All(outcomes, o => Assert.Contains(o, new[]
        {
            MachMsgReturn.SendInvalidDest, MachMsgReturn.RcvPortChanged, MachMsgReturn.RcvInvalidName, (MachMsgReturn)MachNotify.SendOnce,
            (MachMsgReturn)((int)MachMsgReturn.RcvHeaderError | 0x2000),
        }));
        Assert.Equal(0, SimulatedMach.BlockedThreads);
    }

    private static uint ReceiveRightName()
    {
        uint n;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &n));
        return n;
    }

    [Fact]
    public void A26_ReceiveRightsSentIntoEachOther_AtTheSameTime_NeverFormACycle()
    {
        using var k = new K();
        for (int round = 0; round < 200; round++)
        {
            uint a = k.PortWithSend(), b = k.PortWithSend();
            using var go = new Barrier(2);
            // Each thread sends one receive right into the other port: if both got through, each port would be
            // queued inside the other, unreachable, and the leak check would find them.
            Thread t1 = Start("a-into-b", () =>
            {
                using var scope = k.Task.Enter();
                go.SignalAndWait();
                Send(Msg.To(b).Port(a, MachMsgType.MoveReceive));
            });
            Thread t2 = Start("b-into-a", () =>
            {
                using var scope = k.Task.Enter();
                go.SignalAndWait();
                Send(Msg.To(a).Port(b, MachMsgType.MoveReceive));
            });
            JoinAll(new[] { t1, t2 });
            // Whichever right stayed here (or came back through a message) is destroyed with everything behind it.
            foreach (PortRightInfo r in k.Task.Rights())
            {
                if (r.Type.HasFlag(MachPortType.Receive))
                {
                    DestroyName(r.Name);
                }
                else if (r.Name == a || r.Name == b)
                {
                    Mach.PortDestroy(Mach.TaskSelf, r.Name);
                }
            }
        }
    }
}
