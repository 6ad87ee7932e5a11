using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Tests.Kernel;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// In the kernel host's process a thread about to sleep in a synchronous mach_msg wait runs the host's event loop
/// itself (leader/follower, Remote/EventLoop.cs): it reads the request that wakes it, and what it receives, and when,
/// is what it would receive sleeping. Each test first waits until its receiver holds the loop (the host's thread hands
/// it over), so none depends on timing.
/// </summary>
[Collection("cross-process")]
public sealed unsafe class KernelHostLeaderTests : ChildProcessTests
{
    private static EventLoop Loop => KernelHost.Current!.Loop;

    private static void WaitUntil(Func<bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < ChildTimeout, "timed out waiting for " + what);
            Thread.Yield();
        }
    }

    /// <summary>Receives on <paramref name="port"/> on a new thread (blocking, or with a timeout) and returns once that thread leads the loop.</summary>
    private static Task<Received> ReceiveLeading(uint port, uint timeoutMs = 0)
    {
        var done = new TaskCompletionSource<Received>(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiver = new Thread(() =>
        {
            try
            {
                done.SetResult(timeoutMs == 0 ? K.Rcv(port, extra: 0) : K.Rcv(port, timeout: timeoutMs));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = "leader test receiver" };
        receiver.Start();
        WaitUntil(() => Loop.Holder == receiver, "the receiver to lead the host's loop");
        return done.Task;
    }

    private static Received Result(Task<Received> r)
    {
        Assert.True(r.Wait(ChildTimeout), "the receiver did not return");
        return r.Result;
    }

    private static uint PortWithSend()
    {
        uint n;
        Assert.Equal(KernReturn.Success, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &n));
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, n, n, MachMsgType.MakeSend));
        return n;
    }

    [Fact]
    public void AReceiverLeadingTheLoop_ReadsAJoinedHelpersRequestToItsPort_ItselfAndGetsTheHelpersAuditToken()
    {
        string service = _prefix + ".lead";
        int selfWakes = Volatile.Read(ref Waiter.LeaderSelfWakes);
        Process helper;
        Received got;
        using (ReceiveRight port = BootstrapServer.CheckIn(service))
        {
            Task<Received> r = ReceiveLeading(port.Name);
            helper = Start("hello", service); // connects, looks the name up and sends: all read by the receiver
            got = Result(r);
        }
        Assert.Equal("sent", Finish(helper));
        Assert.Equal(MachMsgReturn.Success, got.Result);
        Assert.Equal(helper.Id, got.AuditTrailer.Audit.Pid);
        Assert.True(Volatile.Read(ref Waiter.LeaderSelfWakes) > selfWakes, "the send to the receiver's port ran on another thread");
        K.Destroy(got);
        AssertNoLeaks();
    }

    [Fact]
    public void ALeadingReceiver_KeepsItsOwnErrno_AfterRunningAHelpersFailingCall()
    {
        // The host's requests set errno on whichever thread runs them (a fileport call that fails, G4); a receiver
        // leading the loop ran one, and what its own caller reads afterwards is still its own.
        const int Mine = 4321;
        string service = _prefix + ".errno";
        Process helper;
        int after = 0;
        MachMsgReturn mr = 0;
        using (ReceiveRight port = BootstrapServer.CheckIn(service))
        {
            var receiver = new Thread(() =>
            {
                SimulatedKernel.ThreadErrno = Mine;
                Received got = K.Rcv(port.Name, extra: 0);
                after = SimulatedKernel.ThreadErrno;
                mr = got.Result;
                K.Destroy(got);
            }) { IsBackground = true, Name = "leader errno receiver" };
            receiver.Start();
            WaitUntil(() => Loop.Holder == receiver, "the receiver to lead the host's loop");
            helper = Start("bad-fileport", service);
            Assert.True(receiver.Join(ChildTimeout), "the receiver did not return");
        }
        Assert.Equal("errno 22", ReadLine(helper)); // EINVAL reached the helper: the leader ran the call
        Assert.Equal("sent", Finish(helper));
        Assert.Equal(MachMsgReturn.Success, mr);
        Assert.Equal(Mine, after);
        AssertNoLeaks();
    }

    [Fact]
    public void ALeadingReceiver_WokenByASenderInThisProcess_ReturnsItsMessage()
    {
        uint port = PortWithSend();
        Task<Received> r = ReceiveLeading(port);
        Assert.Equal(MachMsgReturn.Success, K.Send(Msg.To(port, id: 4242)));
        Received got = Result(r);
        Assert.Equal(MachMsgReturn.Success, got.Result);
        Assert.Equal(4242, got.Header.Id);
        Assert.Equal(0u, got.AuditTrailer.Seqno);
        K.DestroyName(port);
        AssertNoLeaks();
    }

    [Fact]
    public void ALeadingReceiver_TimesOutWithRcvTimedOut_AndGivesTheLoopBack()
    {
        uint port = PortWithSend();
        Task<Received> r = ReceiveLeading(port, timeoutMs: 3000);
        Assert.Equal(MachMsgReturn.RcvTimedOut, Result(r).Result);
        WaitUntil(() => Loop.Holder is null || Loop.Holder == Loop.HostThread, "the loop to be given back");
        Assert.Equal(MachMsgReturn.Success, K.Send(Msg.To(port, id: 7))); // the timed-out wait took nothing
        Assert.Equal(7, K.RcvAndDestroy(port).Header.Id);
        K.DestroyName(port);
        AssertNoLeaks();
    }

    [Fact]
    public void ALeadingReceiver_WhosePortIsDestroyed_GetsRcvPortChanged()
    {
        uint port = PortWithSend();
        Task<Received> r = ReceiveLeading(port);
        K.DestroyReceive(port);
        Assert.Equal(MachMsgReturn.RcvPortChanged, Result(r).Result);
        K.Dealloc(port); // the send right left as a dead name
        AssertNoLeaks();
    }

    [Fact]
    public void AfterAReceiverLeaves_TheHostThreadTakesTheLoopBack_AndHelpersTalkThroughTheHost()
    {
        uint port = PortWithSend();
        Task<Received> r = ReceiveLeading(port);
        Assert.Equal(MachMsgReturn.Success, K.Send(Msg.To(port)));
        Assert.Equal(MachMsgReturn.Success, Result(r).Result);
        K.DestroyName(port);
        // No thread of this process is in mach_msg now (this one waits for the helpers' output): only the host's
        // own thread can run the loop for them.
        WaitUntil(() => Loop.Holder == Loop.HostThread, "the host thread to take the loop back");
        string service = _prefix + ".peer";
        Process server = Start("peer-server", service, "50");
        Assert.Equal("listening", ReadLine(server));
        Process client = Start("peer-client", service, "50", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("ok", Finish(client));
        Assert.Equal("served 50", Finish(server));
        AssertNoLeaks();
    }
}
