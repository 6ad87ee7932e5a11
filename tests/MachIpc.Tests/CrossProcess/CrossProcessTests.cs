using System.Collections.Concurrent;
using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.ProcessHelper;
using MachIpc.Samples.HelperPool;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>The generated dispatch plus a hand-written out-of-line echo (the generator has no OOL descriptors).</summary>
internal sealed unsafe class XDispatcher(PoolServer inner) : IMachDispatcher
{
    public int OolEchoes;

    public int MaxRequestSize => Math.Max(((IMachDispatcher)inner).MaxRequestSize, sizeof(XOol));

    public MachDispatchResult Dispatch(MachMsgHeader* message, int length)
    {
        if (message->Id != XOol.RequestId)
        {
            return ((IMachDispatcher)inner).Dispatch(message, length);
        }
        var m = (XOol*)message;
        if (!message->IsComplex || message->Size != sizeof(XOol) || m->Body.DescriptorCount != 1 || m->Data.Type != MachMsgDescriptorType.Ool
            || message->RemoteDisposition != MachMsgType.MoveSendOnce)
        {
            return MachDispatchResult.Rejected("bad OOL request");
        }
        // The server destroys the request (the region included) after this returns.
        var data = new ReadOnlySpan<byte>((void*)m->Data.Address, (int)m->Data.Size);
        byte[] reversed = data.ToArray();
        Array.Reverse(reversed);
        fixed (byte* p = reversed)
        {
            XOol reply = default;
            reply.Header.Bits = MachMsgBits.Complex | (uint)MachMsgType.MoveSendOnce;
            reply.Header.Size = (uint)sizeof(XOol);
            reply.Header.RemotePort = message->RemotePort;
            reply.Header.Id = XOol.ReplyId;
            reply.Body.DescriptorCount = 1;
            reply.Data.Address = (ulong)p;
            reply.Data.Size = (uint)reversed.Length;
            reply.Data.Copy = MachMsgCopy.Virtual;
            reply.Data.Type = MachMsgDescriptorType.Ool;
            var mr = Mach.Msg(&reply.Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, (uint)sizeof(XOol), 0, 0, 1000, 0);
            // The send consumed the reply right: clear it so that destroying the request does not release it again.
            message->RemotePort = MachPortName.Null;
            message->Bits &= ~MachMsgBits.RemoteMask;
            if (mr != MachMsgReturn.Success)
            {
                return MachDispatchResult.HandlerFailed(new MachException("ool reply", mr));
            }
        }
        Interlocked.Increment(ref OolEchoes);
        return MachDispatchResult.Handled;
    }
}

/// <summary>The simulated kernel shared with real child processes (simulator-only: on a Mac the kernel is shared anyway).</summary>
[Collection("cross-process")]
public sealed class CrossProcessTests : ChildProcessTests
{
    private sealed class Served(HelperConnection connection, MachServer server, PoolServer handlers, XDispatcher dispatcher) : IDisposable
    {
        public readonly HelperConnection Connection = connection;
        public readonly MachServer Server = server;
        public readonly PoolServer Handlers = handlers;
        public readonly XDispatcher Dispatcher = dispatcher;

        public void Dispose()
        {
            Server.Dispose();
            Connection.Dispose();
        }
    }

    private static unsafe Served Serve(HelperRegistration registration, MachNotificationHandler? onNotification = null)
    {
        HelperConnection connection = registration.WaitForConnection(ChildTimeout) ?? throw new TimeoutException($"pid {registration.Pid} never checked in");
        var handlers = new PoolServer(connection.AuditToken);
        var dispatcher = new XDispatcher(handlers);
        uint channel = connection.Channel.Receive.Name;
        var server = new MachServer(dispatcher, ReceiveRight.Adopt(connection.Channel.Receive.TakeName()),
            new MachServerOptions { Name = $"xproc-{connection.Pid}", OnNotification = onNotification });
        if (onNotification is not null)
        {
            // The helper holds the only send rights: when it dies they go, and the kernel says so here.
            uint previous;
            Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, channel, MachNotify.NoSenders, 0, channel, MachMsgType.MakeSendOnce, &previous));
            Assert.Equal(MachPortName.Null, previous);
            // And its receive right dies with it: our send right to it becomes a dead name (D5).
            Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, connection.Channel.Send.Name, MachNotify.DeadName, 0, channel, MachMsgType.MakeSendOnce, &previous));
            Assert.Equal(MachPortName.Null, previous);
        }
        server.Start();
        return new Served(connection, server, handlers, dispatcher);
    }

    [Fact]
    public void RealProcesses_RoundTrips_PassAFileDescriptor_AndOutOfLineMemory()
    {
        using var rendezvous = new HelperRendezvous(_prefix);
        var helpers = new[] { Start(true, null, "rpc", rendezvous.ServiceName, "2000"), Start(true, null, "rpc", rendezvous.ServiceName, "2000") };
        var registrations = helpers.Select(h => rendezvous.Expect(h.Id)).ToArray();
        var served = registrations.Select(r => Serve(r)).ToArray();
        try
        {
            for (int i = 0; i < helpers.Length; i++)
            {
                string line = Finish(helpers[i]);
                Assert.Equal($"ok pid={helpers[i].Id} ospid={helpers[i].Id} count=2000", line);
                Assert.Equal(0, helpers[i].ExitCode);
                Assert.Equal(helpers[i].Id, served[i].Connection.Pid); // the audit token carries the OS pid
                Assert.Equal(2000 + 1, served[i].Handlers.Requests); // the round trips and the file
                Assert.Equal(0, served[i].Handlers.ForeignSenders);
                Assert.Equal($"hello from {helpers[i].Id}", served[i].Handlers.FileText);
                Assert.Equal(1, served[i].Dispatcher.OolEchoes);
                Assert.Equal(0, served[i].Server.Metrics.Rejected);
            }
        }
        finally
        {
            foreach (Served s in served)
            {
                s.Dispose();
            }
            foreach (HelperRegistration r in registrations)
            {
                r.Dispose();
            }
        }
        rendezvous.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public void AReplyLargerThanTheSocketBuffer_ReachesTheHelperWhole()
    {
        // 8 MiB out of line each way: the host's reply to the helper's receive does not fit the socket buffer, so
        // the host writes it as the helper reads (EPOLLOUT, watched only while such a reply waits).
        using var rendezvous = new HelperRendezvous(_prefix);
        Process helper = Start(true, null, "rpc", rendezvous.ServiceName, "10", (8 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using (HelperRegistration registration = rendezvous.Expect(helper.Id))
        using (Served served = Serve(registration))
        {
            Assert.Equal($"ok pid={helper.Id} ospid={helper.Id} count=10", Finish(helper));
            Assert.Equal(1, served.Dispatcher.OolEchoes);
        }
        rendezvous.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public void KilledHelper_ParentGetsNoSendersAndDeadName_AndKeepsServingTheOthers()
    {
        using var rendezvous = new HelperRendezvous(_prefix);
        Process victim = Start(true, null, "stream", rendezvous.ServiceName);
        Process survivor = Start(true, null, "rpc", rendezvous.ServiceName, "3000");
        using HelperRegistration victimReg = rendezvous.Expect(victim.Id);
        using HelperRegistration survivorReg = rendezvous.Expect(survivor.Id);
        var noSenders = new ConcurrentQueue<uint>();
        var deadNames = new ConcurrentQueue<uint>();
        using var died = new CountdownEvent(2);
        Served victimServed = Serve(victimReg, (in MachNotification n) =>
        {
            if (n.Id == MachNotify.NoSenders)
            {
                noSenders.Enqueue(n.Port);
                died.Signal();
            }
            else if (n.Id == MachNotify.DeadName)
            {
                deadNames.Enqueue(n.NotPort);
                Mach.PortDeallocate(Mach.TaskSelf, n.NotPort); // the uref the notification added (D5)
                died.Signal();
            }
        });
        Served survivorServed = Serve(survivorReg);
        try
        {
            Assert.Equal("connected", ReadLine(victim));
            SpinWait.SpinUntil(() => victimServed.Handlers.Requests > 100, ChildTimeout);
            victim.Kill(); // SIGKILL, mid-stream
            Assert.True(died.Wait(ChildTimeout), $"after the helper was killed: {noSenders.Count} no-senders, {deadNames.Count} dead-name notifications");
            Assert.Equal(victimServed.Connection.Channel.Send.Name, Assert.Single(deadNames));
            // Release that helper's state; the other helper keeps being served.
            victimServed.Dispose();
            Assert.Equal($"ok pid={survivor.Id} ospid={survivor.Id} count=3000", Finish(survivor));
            Assert.Equal(3000 + 1, survivorServed.Handlers.Requests);
            Assert.Single(noSenders);
        }
        finally
        {
            victimServed.Dispose();
            survivorServed.Dispose();
        }
        victim.WaitForExit(5000);
        rendezvous.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public unsafe void KilledHelper_FiresTheDeadNameRequestArmedOnItsTaskPort()
    {
        // A parent that watches a helper's task port (kernel-semantics I4): when the process dies, its task's
        // kernel ports are destroyed (osfmk/kern/ipc_tt.c ipc_task_terminate -> ipc_port_destroy) and the armed
        // dead-name request fires, with the extra uref D5 describes.
        using var service = BootstrapServer.CheckIn(_prefix + ".task");
        Process child = Start(true, null, "task-port", _prefix + ".task");
        Assert.Equal("sent", ReadLine(child));
        byte* buf = stackalloc byte[256];
        var header = (MachMsgHeader*)buf;
        Assert.Equal(MachMsgReturn.Success, Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, service.Name, 20_000, 0));
        uint task = ((MachMsgPortDescriptor*)(buf + MachMsgBase.SizeOf))->Name;
        int pid;
        Assert.Equal(KernReturn.Success, Mach.PidForTask(task, &pid));
        Assert.Equal(child.Id, pid);
        using var notify = ReceiveRight.Allocate();
        uint previous;
        Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, task, MachNotify.DeadName, 0, notify.Name, MachMsgType.MakeSendOnce, &previous));
        child.Kill();
        Assert.Equal(MachMsgReturn.Success, Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, notify.Name, 20_000, 0));
        Assert.Equal(MachNotify.DeadName, header->Id);
        Assert.Equal(task, ((MachPortNameNotification*)header)->NotPort);
        uint refs;
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, task, MachPortRight.DeadName, &refs));
        Assert.Equal(2u, refs);
        Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, task));
        Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, task));
        child.WaitForExit(5000);
        service.Dispose();
        notify.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public void GarbageOnTheKernelSocket_DisconnectsThatClientOnly()
    {
        using var rendezvous = new HelperRendezvous(_prefix);
        Process good = Start(true, null, "rpc", rendezvous.ServiceName, "3000");
        using HelperRegistration reg = rendezvous.Expect(good.Id);
        Served served = Serve(reg);
        try
        {
            int rejectedBefore = SimulatedMach.RejectedClients;
            Process bad = Start(true, null, "garbage");
            Assert.Equal("disconnected", Finish(bad));
            Assert.True(SimulatedMach.RejectedClients >= rejectedBefore + 2);
            Assert.Equal($"ok pid={good.Id} ospid={good.Id} count=3000", Finish(good));
            Assert.Equal(0, served.Server.Metrics.Rejected);
        }
        finally
        {
            served.Dispose();
        }
        rendezvous.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public void MalformedAndRandomRequests_AreRejectedOrAnswered_WhileOthersKeepWorking()
    {
        using var rendezvous = new HelperRendezvous(_prefix);
        Process good = Start(true, null, "rpc", rendezvous.ServiceName, "3000");
        using HelperRegistration reg = rendezvous.Expect(good.Id);
        Served served = Serve(reg);
        try
        {
            int rejectedBefore = SimulatedMach.RejectedClients;
            Process fuzzer = Start(true, null, "fuzz", "1234", "300");
            // 300 connections one after another take 2 s on an idle machine and over 20 s on a loaded one, so the
            // time limit applies to each request (a host that stops answering), not to the whole run.
            string line;
            while ((line = ReadLine(fuzzer)).StartsWith("progress ", StringComparison.Ordinal))
            {
            }
            Assert.True(fuzzer.WaitForExit(ChildTimeout), $"helper {fuzzer.Id} did not exit");
            Assert.StartsWith("survived ", line);
            Assert.True(SimulatedMach.RejectedClients >= rejectedBefore + 8, $"{line}; rejected {SimulatedMach.RejectedClients - rejectedBefore}");
            Assert.Equal($"ok pid={good.Id} ospid={good.Id} count=3000", Finish(good));
        }
        finally
        {
            served.Dispose();
        }
        rendezvous.Dispose();
        AssertNoLeaks();
    }

    [Fact]
    public void TwoHelperProcesses_TalkToEachOther_ThroughTheSharedBootstrapServer()
    {
        string service = _prefix + ".peer";
        Process server = Start(true, null, "peer-server", service, "500");
        Assert.Equal("listening", ReadLine(server));
        Process client = Start(true, null, "peer-client", service, "500", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("ok", Finish(client));
        Assert.Equal("served 500", Finish(server));
        AssertNoLeaks(); // the service died with the task that checked it in (F6)
    }

    [Fact]
    public void DeallocateTrue_OnAReceivedRegion_FreesItAtCopyin_InTheHostToo()
    {
        Process p = Start(true, null, "dealloc");
        int Regions() => SimulatedMach.Snapshot().Tasks.Single(t => t.Pid == p.Id).VmRegions;
        Assert.Equal("received", ReadLine(p));
        Assert.Equal(1, Regions());
        p.StandardInput.WriteLine();
        p.StandardInput.Flush();
        Assert.Equal("forwarded", ReadLine(p));
        Assert.Equal(0, Regions()); // freed when the message was copied in, not later
        p.StandardInput.WriteLine();
        p.StandardInput.Flush();
        Assert.Equal("ok", Finish(p));
        AssertNoLeaks();
    }

    [Fact]
    public void JoinedProcess_TimeoutsAndPseudoReceiveBehaveAsInProcess()
    {
        Process p = Start(true, null, "semantics");
        Assert.Equal("ok", Finish(p));
        Assert.Equal(0, p.ExitCode);
        AssertNoLeaks();
    }

    [Fact]
    public void JoinedProcess_PortConstructNamesPidForTaskAndBootstrapPort()
    {
        Process p = Start(true, null, "seam");
        Assert.Equal("ok", Finish(p));
        Assert.Equal(0, p.ExitCode);
        AssertNoLeaks();
    }

    [Fact]
    public void HostDeath_EndsJoinedCallsWithTheDocumentedErrors()
    {
        Process host = Start(false, null, "host"); // its own kernel, which it shares
        string socketLine = ReadLine(host);
        Assert.StartsWith("socket ", socketLine);
        Process victim = Start(false, socketLine["socket ".Length..], "victim");
        Assert.Equal("ready", ReadLine(victim));
        host.StandardInput.WriteLine("await-blocked"); // the victim's receive must be blocked in the host's kernel
        host.StandardInput.Flush();
        Assert.Equal("blocked", ReadLine(host));
        var clock = Stopwatch.StartNew();
        host.Kill();
        string result = Finish(victim);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        // MACH_RCV_PORT_CHANGED, MACH_SEND_INVALID_DEST, KERN_INVALID_TASK; BootstrapServer.TryLookUp sends to the
        // bootstrap_port global like any bootstrap call: MACH_SEND_INVALID_DEST
        Assert.True(result.Contains("receive=0x10004006 send=0x10000003 allocate=16 lookup=0x10000003 ", StringComparison.Ordinal), result);
        Assert.True(result.Contains("reason=the kernel host closed the connection", StringComparison.Ordinal), result);
        // MachRpcClient: the call in flight and the next one end in results, like every other call (KERN_INVALID_TASK = 16).
        Assert.True(result.Contains("call=ReceiveFailed call2=SendFailed:16", StringComparison.Ordinal), result);
        AssertNoLeaks();
    }
}
