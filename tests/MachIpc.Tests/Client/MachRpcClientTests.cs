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
public sealed unsafe class MachRpcClientTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("rpc-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("rpc-client");
    private readonly string _service = "org.machipc.tests.rpc." + Guid.NewGuid().ToString("N");
    private readonly IReadOnlyList<PortRightInfo> _clientBaseline;
    private readonly MachServer _server;

    public MachRpcClientTests()
    {
        _clientBaseline = _clientTask.Rights();
        using (_serverTask.Enter())
        {
            _server = MachServer.CheckIn(_service, new TestDispatcher());
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
        return client.Call<EchoRequest, EchoReply>(request, out reply, out _, timeoutMs);
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
            var failed = client.Call<CarriesPort, EchoReply>(bad, out _, out _);
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
            Assert.Equal(MachRpcStatus.ReceiveFailed, silentClient.Call<EchoRequest, EchoReply>(request, out _, out _, timeoutMs: 10).Status);
            Assert.NotEqual(before, silentClient.ReplyPort);
            Assert.True(_clientTask.IsProvisionalReplyPort(silentClient.ReplyPort));
            using var own = ReceiveRight.AllocateReplyPort();
            Assert.True(_clientTask.IsProvisionalReplyPort(own.Name));
            Assert.True(Echo(client, 1, out _).IsSuccess);
        }
    }
}
