using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Server;
using MachIpc.Tests.Server;
using Xunit;

namespace MachIpc.Tests.Client;

/// <summary>What MachRpcClient does with its reply port and the request's rights when a call fails (MIG's rules).</summary>
public sealed class MachRpcClientTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("rpc-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("rpc-client");
    private readonly string _service = "org.machipc.tests.rpc." + Guid.NewGuid().ToString("N");
    private readonly IReadOnlyList<PortRightInfo> _clientBaseline;
    private readonly MachServer _server;
    private readonly TestDispatcher _dispatcher = new();

    public MachRpcClientTests()
    {
        _clientBaseline = _clientTask.Rights();
        using (_serverTask.Enter())
        {
            _server = MachServer.CheckIn(_service, _dispatcher);
            _server.Start();
        }
    }

    public void Dispose()
    {
        using (_serverTask.Enter())
        {
            _server.Dispose();
        }
        _serverTask.Dispose();
        _clientTask.Dispose();
    }

    private MachRpcClient Connect()
    {
        using (_clientTask.Enter())
        {
            return new MachRpcClient(BootstrapServer.LookUp(_service));
        }
    }

    private static MachRpcResult Echo(MachRpcClient client, int value, out EchoReply reply, uint timeoutMs = 5000)
    {
        var request = new EchoRequest { Value = value };
        request.Prepare(0, 0);
        client.TryCall<EchoRequest, EchoReply>(request, out reply, out _, out var r, TimeSpan.FromMilliseconds(timeoutMs), TimeSpan.FromMilliseconds(timeoutMs));
        return r;
    }

    [Fact]
    public void AfterASendErrorThatDestroyedTheReplyRight_EveryLaterCallGetsItsOwnReply()
    {
        // MACH_SEND_INVALID_RIGHT fails in the body copyin, after the header's MAKE_SEND_ONCE reply right was made:
        // the kernel destroys it, which queues a send-once notification on the reply port (kernel-semantics A31).
        // MIG keeps a reply port only after MACH_SEND_INVALID_DATA/DEST/HEADER (I3); the client must replace it.
        using (_clientTask.Enter())
        using (var client = Connect())
        {
            var bad = new CarriesPort();
            bad.Prepare(0, 0);
            bad.Port.Name = 0x7777_0003; // not a name in this space
            client.TryCall<CarriesPort, EchoReply>(bad, out _, out _, out var failed);
            Assert.Equal(MachRpcStatus.SendFailed, failed.Status);
            Assert.Equal((int)MachMsgReturn.SendInvalidRight, failed.Code);

            var first = Echo(client, 1, out var reply1);
            Assert.True(first.IsSuccess, first.ToString()); // not MIG_SERVER_DIED from the stale notification
            Assert.Equal(2, reply1.Value);
            var second = Echo(client, 5, out var reply2);
            Assert.True(second.IsSuccess, second.ToString());
            Assert.Equal(6, reply2.Value); // not the previous call's reply
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void AfterAHeaderError_TheReplyPortIsKept()
    {
        // MIG's mig_put_reply_port case: nothing was copied in, so nothing can be queued on the reply port.
        using (_clientTask.Enter())
        {
            var doomed = ReceiveRight.Allocate();
            using var client = new MachRpcClient(doomed.MakeSend());
            doomed.Dispose(); // the client's server right is now a dead name
            uint replyPort = client.ReplyPort;
            var result = Echo(client, 1, out _);
            Assert.Equal(MachRpcStatus.SendFailed, result.Status);
            Assert.Equal((int)MachMsgReturn.SendInvalidDest, result.Code);
            Assert.Equal(replyPort, client.ReplyPort);
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void ATimedOutSend_ReleasesEveryRightThePseudoReceiveGaveBack_TheReplyRightIncluded()
    {
        // After MACH_SEND_TIMED_OUT the request comes back pseudo-received: the destination as a send right and the
        // reply right (MAKE_SEND_ONCE) as a send-once right in msgh_local_port, which mach_msg_destroy leaves (I2).
        using (_clientTask.Enter())
        {
            var full = ReceiveRight.Allocate();
            full.SetQueueLimit(0); // every ordinary send times out
            using (var client = new MachRpcClient(full.MakeSend()))
            {
                for (int i = 0; i < 3; i++)
                {
                    var result = Echo(client, i, out _, timeoutMs: 1);
                    Assert.Equal(MachRpcStatus.SendFailed, result.Status);
                    Assert.Equal((int)MachMsgReturn.SendTimedOut, result.Code);
                }
            }
            full.Dispose();
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void ReplyPorts_AreProvisionalReplyPorts_AndStaySoWhenReplaced()
    {
        // mach_port_construct(MPO_PROVISIONAL_REPLY_PORT): ipc_port.c ipc_port_init marks the port
        // (ip_mark_provisional_reply_port) where macOS does not enforce reply-port semantics on it.
        using (_clientTask.Enter())
        using (var client = Connect())
        {
            uint first = client.ReplyPort;
            Assert.True(_clientTask.IsProvisionalReplyPort(first));
            // A receive timeout replaces the port (a late reply must not be mistaken for the next one).
            using var silent = ReceiveRight.Allocate();
            using var silentClient = new MachRpcClient(silent.MakeSend());
            uint before = silentClient.ReplyPort;
            var request = new EchoRequest();
            request.Prepare(0, 0);
            Assert.False(silentClient.TryCall<EchoRequest, EchoReply>(request, out _, out _, out var r, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10)));
            Assert.Equal(MachRpcStatus.ReceiveFailed, r.Status);
            Assert.NotEqual(before, silentClient.ReplyPort);
            Assert.True(_clientTask.IsProvisionalReplyPort(silentClient.ReplyPort));
            using var own = ReceiveRight.AllocateReplyPort();
            Assert.True(_clientTask.IsProvisionalReplyPort(own.Name));
            Assert.True(Echo(client, 1, out _).IsSuccess);
        }
    }

    private static EchoRequest Request(int value)
    {
        var request = new EchoRequest { Value = value };
        request.Prepare(0, 0);
        return request;
    }

    [Theory]
    [InlineData(0L, 0u, true)]             // TimeSpan.Zero: bounded, do not wait at all
    [InlineData(1L, 1u, true)]             // one tick rounds up to 1 ms, never to "do not wait"
    [InlineData(15_000L, 2u, true)]        // 1.5 ms -> 2 ms
    [InlineData(50_000_000L, 5000u, true)] // exact milliseconds stay
    public void Timeouts_AreWholeMillisecondsRoundedUp(long ticks, uint expectedMs, bool bounded)
    {
        Assert.Equal((expectedMs, bounded), MachRpcClient.ToMachTimeout(TimeSpan.FromTicks(ticks), "t"));
    }

    [Fact]
    public void AnInfiniteTimeout_IsMachMsgTimeoutNone_WithoutTheTimeoutOption()
    {
        Assert.Equal((MachMsgTimeout.None, false), MachRpcClient.ToMachTimeout(Timeout.InfiniteTimeSpan, "t"));
        Assert.Equal(TimeSpan.FromMilliseconds(100), MachRpcClient.DefaultSendTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), MachRpcClient.DefaultReceiveTimeout);
    }

    [Fact]
    public void NegativeOrTooLongTimeouts_AreArgumentErrors_AndNothingIsSent()
    {
        using (_clientTask.Enter())
        using (var client = Connect())
        {
            var request = Request(1);
            var send = Assert.Throws<ArgumentOutOfRangeException>(() => client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _, sendTimeout: TimeSpan.FromMilliseconds(-2)));
            Assert.Equal("sendTimeout", send.ParamName);
            var receive = Assert.Throws<ArgumentOutOfRangeException>(() => client.Call<EchoRequest, EchoReply>(request, receiveTimeout: TimeSpan.FromTicks(-1)));
            Assert.Equal("receiveTimeout", receive.ParamName);
            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = client.CallAsync<EchoRequest, EchoReply>(request, receiveTimeout: TimeSpan.FromDays(50)); });
            // Each call still works afterwards: a refused argument left no call running.
            Assert.Equal(2, client.Call<EchoRequest, EchoReply>(request).Message.Value);
        }
        Assert.Equal(1, _server.Metrics.Received);
    }

    [Fact]
    public void SendAndReceiveTimeouts_AreSeparate()
    {
        using (_clientTask.Enter())
        {
            // A full queue and no send timeout to wait: the send fails at once; the receive timeout does not matter.
            using (var full = ReceiveRight.Allocate())
            {
                full.SetQueueLimit(0);
                using var client = new MachRpcClient(full.MakeSend());
                Assert.False(client.TryCall<EchoRequest, EchoReply>(Request(1), out _, out _, out var sendFailed, TimeSpan.Zero, Timeout.InfiniteTimeSpan));
                Assert.Equal(MachRpcStatus.SendFailed, sendFailed.Status);
                Assert.Equal((int)MachMsgReturn.SendTimedOut, sendFailed.Code);
            }
            // A server that never answers: the send goes out however its timeout compares with the receive's, and the
            // receive times out (send longer than receive: two calls; shorter: one call continued; infinite send).
            using (var silent = ReceiveRight.Allocate())
            using (var client = new MachRpcClient(silent.MakeSend()))
            {
                foreach (var (send, receive) in new[] { (TimeSpan.FromSeconds(10), TimeSpan.Zero), (TimeSpan.Zero, TimeSpan.FromMilliseconds(1)), (Timeout.InfiniteTimeSpan, TimeSpan.Zero) })
                {
                    Assert.False(client.TryCall<EchoRequest, EchoReply>(Request(1), out _, out _, out var timedOut, send, receive));
                    Assert.Equal(MachRpcStatus.ReceiveFailed, timedOut.Status);
                    Assert.Equal((int)MachMsgReturn.RcvTimedOut, timedOut.Code);
                }
                using (_clientTask.Enter())
                {
                    Assert.Equal(3, MachIpc.Tests.Kernel.K.MsgCount(silent.Name)); // every request was sent
                }
            }
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void Call_ReturnsTheReplyAndItsSender_OrThrowsMachExceptionWithTheCode_LikeTryCallReports()
    {
        using (_clientTask.Enter())
        using (var client = Connect())
        using (var carried = ReceiveRight.Allocate())
        {
            MachRpcReply<EchoReply> reply = client.Call<EchoRequest, EchoReply>(Request(41));
            Assert.Equal(42, reply.Message.Value);
            Assert.Equal(_serverTask.Pid, reply.Sender.Pid);

            var unknown = new Unknown();
            unknown.Prepare(0, 0);
            unknown.Port.Name = carried.Name;
            Assert.False(client.TryCall<Unknown, EchoReply>(unknown, out _, out _, out var reason));
            Assert.Equal(MachRpcStatus.RemoteError, reason.Status);
            var thrown = Assert.Throws<MachException>(() => client.Call<Unknown, EchoReply>(unknown));
            Assert.Equal(new MachError((int)MigReturn.BadId), thrown.Error);
            Assert.Equal(reason.Error, thrown.Error);
            Assert.Contains("MIG_BAD_ID", thrown.Message);
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void ProgrammerErrors_Throw_TheyAreNeverCodes()
    {
        using (_clientTask.Enter())
        {
            var client = Connect();
            var unprepared = new EchoRequest { Value = 1 };
            Assert.Throws<ArgumentException>(() => client.TryCall<EchoRequest, EchoReply>(unprepared, out _, out _, out _));
            Assert.Throws<ArgumentException>(() => { _ = client.CallAsync<EchoRequest, EchoReply>(unprepared); });
            Assert.Throws<ArgumentNullException>(() => new MachRpcClient(null!));
            client.Dispose();
            Assert.Throws<ObjectDisposedException>(() => client.TryCall<EchoRequest, EchoReply>(Request(1), out _, out _, out _));
            Assert.Throws<ObjectDisposedException>(() => { _ = client.CallAsync<EchoRequest, EchoReply>(Request(1)); });
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public async Task CallAsync_ReturnsTheReplyAndTheRepliersAuditToken()
    {
        var client = Connect();
        for (int i = 0; i < 3; i++)
        {
            MachRpcReply<EchoReply> reply = await client.CallAsync<EchoRequest, EchoReply>(Request(i));
            Assert.Equal(i + 1, reply.Message.Value);
            Assert.Equal(_clientTask.Pid, reply.Message.SenderPid);
            Assert.Equal(_serverTask.Pid, reply.Sender.Pid);
        }
        using (_clientTask.Enter())
        {
            client.Dispose();
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public async Task ACancelledCall_ReplacesTheReplyPort_SoTheLateReplyIsNeverTakenForTheNextCallsReply_AndLeavesNoRight()
    {
        using var block = new ManualResetEventSlim();
        _dispatcher.BlockHandler = block;
        var client = Connect();
        uint replyPort = client.ReplyPort;
        using var cancel = new CancellationTokenSource();
        Task<MachRpcReply<EchoReply>> call = client.CallAsync<EchoRequest, EchoReply>(Request(1), cancellationToken: cancel.Token);
        Assert.True(_dispatcher.HandlerEntered.Wait(TimeSpan.FromSeconds(30)), "the request never reached the handler"); // the request is out, the reply is not
        // A second call while one runs is a programmer error, not a code.
        Assert.Throws<InvalidOperationException>(() => client.TryCall<EchoRequest, EchoReply>(Request(2), out _, out _, out _));
        cancel.Cancel();
        // Bounded, so that a cancellation that never ends the wait fails here instead of hanging the run.
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(cancel.Token, cancelled.CancellationToken);
        Assert.NotEqual(replyPort, client.ReplyPort); // MIG's rule, as after a timeout

        // The handler now answers the cancelled call. Its reply must go nowhere the next call could take it from.
        _dispatcher.BlockHandler = null;
        block.Set();
        Assert.True(SpinWait.SpinUntil(() => _server.Metrics.Dispatched + _server.Metrics.Rejected == 1, 30_000), "the blocked handler never finished");
        using (_clientTask.Enter())
        {
            Assert.Equal(6, client.Call<EchoRequest, EchoReply>(Request(5)).Message.Value); // not the late 2
        }
        Assert.Equal(8, (await client.CallAsync<EchoRequest, EchoReply>(Request(7)).WaitAsync(TimeSpan.FromSeconds(30))).Message.Value);
        using (_clientTask.Enter())
        {
            client.Dispose();
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public async Task ACallCancelledBeforeItStarts_SendsNothing()
    {
        var client = Connect();
        Task<MachRpcReply<EchoReply>> call = client.CallAsync<EchoRequest, EchoReply>(Request(1), cancellationToken: new CancellationToken(canceled: true));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        using (_serverTask.Enter())
        {
            _server.Stop(); // joined: anything sent would have been received
        }
        Assert.Equal(0, _server.Metrics.Received);
        using (_clientTask.Enter())
        {
            client.Dispose();
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public async Task CallsInFlight_ParkOneThreadBetweenThem_AndEachGetsItsOwnReply()
    {
        // Six calls: one request in the blocked handler and five in the server's queue (its default limit); a seventh
        // would wait for room in its send.
        const int Calls = 6;
        using var block = new ManualResetEventSlim();
        _dispatcher.BlockHandler = block;
        MachRpcClient[] clients = Enumerable.Range(0, Calls).Select(_ => Connect()).ToArray();
        Task<MachRpcReply<EchoReply>>[] calls;
        try
        {
            calls = clients
                .Select((client, i) => client.CallAsync<EchoRequest, EchoReply>(Request(100 + i), receiveTimeout: TimeSpan.FromSeconds(60)))
                .ToArray();
            Assert.True(_dispatcher.HandlerEntered.Wait(TimeSpan.FromSeconds(30)), "no request reached the handler");
            // Six calls wait for their replies, and one thread in this process waits for all of them (it was six).
            Assert.Equal(1, ReplyWaiter.Threads);
            Assert.All(calls, call => Assert.False(call.IsCompleted));
        }
        finally
        {
            _dispatcher.BlockHandler = null;
            block.Set(); // whatever happened above, the server's thread must not stay in the handler
        }
        MachRpcReply<EchoReply>[] replies = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(101, Calls), replies.Select(r => r.Message.Value));
        using (_clientTask.Enter())
        {
            foreach (MachRpcClient client in clients)
            {
                client.Dispose();
            }
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights()); // the waiter gave its port set back when the last reply came
    }

    [Fact]
    public async Task AnAsyncCallThatGetsNoReply_TimesOut_WithItsOwnTimer_AndTheNextCallGetsItsOwnReply()
    {
        using var block = new ManualResetEventSlim();
        _dispatcher.BlockHandler = block;
        var client = Connect();
        uint replyPort = client.ReplyPort;
        try
        {
            Task<MachRpcReply<EchoReply>> call = client.CallAsync<EchoRequest, EchoReply>(Request(1), receiveTimeout: TimeSpan.FromMilliseconds(50));
            var failed = await Assert.ThrowsAsync<MachException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal((int)MachMsgReturn.RcvTimedOut, failed.Error.Code);
            Assert.NotEqual(replyPort, client.ReplyPort); // MIG's rule after a receive timeout
        }
        finally
        {
            _dispatcher.BlockHandler = null;
            block.Set(); // the late reply goes to the replaced port's grave
        }
        Assert.Equal(4, (await client.CallAsync<EchoRequest, EchoReply>(Request(3)).WaitAsync(TimeSpan.FromSeconds(30))).Message.Value);
        using (_clientTask.Enter())
        {
            client.Dispose();
        }
        Assert.Equal(_clientBaseline, _clientTask.Rights());
    }

    [Fact]
    public void CallsAndDispatches_AreActivities_TaggedWithMsghIdAndSenderPid()
    {
        var stopped = new System.Collections.Concurrent.ConcurrentQueue<System.Diagnostics.Activity>();
        // This test's calls run under a parent activity of its own; other tests' calls meanwhile do not.
        using var testSource = new System.Diagnostics.ActivitySource("MachIpc.Tests.Client");
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == MachIpc.Diagnostics.MachTelemetry.ActivitySourceName || source == testSource,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        System.Diagnostics.ActivityTraceId trace;
        using (var parent = testSource.StartActivity("test")!)
        using (_clientTask.Enter())
        using (var client = Connect())
        using (var carried = ReceiveRight.Allocate())
        {
            Assert.Equal(2, client.Call<EchoRequest, EchoReply>(Request(1)).Message.Value);
            var unknown = new Unknown();
            unknown.Prepare(0, 0);
            unknown.Port.Name = carried.Name;
            Assert.False(client.TryCall<Unknown, EchoReply>(unknown, out _, out _, out _));
            trace = parent.TraceId;
        }
        using (_serverTask.Enter())
        {
            _server.Stop(); // every dispatch activity has ended
        }
        // Other tests' servers and clients run meanwhile: calls are this test's by their trace, dispatches by the client's pid.
        var calls = stopped.Where(a => a.OperationName == "machipc.call" && a.TraceId == trace).ToList();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, a => Assert.Equal(System.Diagnostics.ActivityKind.Client, a.Kind));
        var call = Assert.Single(calls, a => Tag(a, MachIpc.Diagnostics.MachTelemetry.MsghIdTag) is EchoRequest.MsgId);
        Assert.Equal(_serverTask.Pid, Tag(call, MachIpc.Diagnostics.MachTelemetry.SenderPidTag));
        var failedCall = Assert.Single(calls, a => Tag(a, MachIpc.Diagnostics.MachTelemetry.MsghIdTag) is Unknown.MsgId);
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Error, failedCall.Status);
        Assert.Equal("MIG_BAD_ID", Tag(failedCall, MachIpc.Diagnostics.MachTelemetry.ReasonTag));

        var dispatches = stopped.Where(a => a.OperationName == "machipc.dispatch" && Tag(a, MachIpc.Diagnostics.MachTelemetry.SenderPidTag) is int pid && pid == _clientTask.Pid).ToList();
        Assert.Equal(2, dispatches.Count);
        Assert.All(dispatches, a => Assert.Equal(System.Diagnostics.ActivityKind.Server, a.Kind));
        var handled = Assert.Single(dispatches, a => Tag(a, MachIpc.Diagnostics.MachTelemetry.MsghIdTag) is EchoRequest.MsgId);
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Unset, handled.Status);
        var rejected = Assert.Single(dispatches, a => Tag(a, MachIpc.Diagnostics.MachTelemetry.MsghIdTag) is Unknown.MsgId);
        Assert.Equal("unknown msgh_id", Tag(rejected, MachIpc.Diagnostics.MachTelemetry.ReasonTag));
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Error, rejected.Status);
    }

    private static object? Tag(System.Diagnostics.Activity activity, string name) => activity.GetTagItem(name);
}
