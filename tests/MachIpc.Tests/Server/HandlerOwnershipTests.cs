using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.Server;

/// <summary>A generated server whose handlers each test sets.</summary>
[MachServer]
public sealed partial class OwnershipServer
{
    public delegate void Handler<T>(MachReceived<T> request) where T : unmanaged;

    public Handler<CarriesSend>? Carries;
    public Handler<EchoRequest>? Echo;
    public Handler<VarEcho>? Var;
    public Handler<VarWithPort>? VarPort;

    private void OnCarries(MachReceived<CarriesSend> request) => Carries!(request);
    private void OnEcho(MachReceived<EchoRequest> request) => Echo!(request);
    private void OnVar(MachReceived<VarEcho> request) => Var!(request);
    private void OnVarPort(MachReceived<VarWithPort> request) => VarPort!(request);
}

public sealed unsafe class HandlerOwnershipTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("owner-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("owner-client");
    private readonly string _service = "org.machipc.tests.ownership." + Guid.NewGuid().ToString("N");
    private readonly IReadOnlyList<PortRightInfo> _serverBaseline;
    private readonly OwnershipServer _handlers = new();
    private readonly MachServer _server;

    public HandlerOwnershipTests()
    {
        _serverBaseline = _serverTask.Rights();
        using (_serverTask.Enter())
        {
            _server = MachServer.CheckIn(_service, _handlers);
            _server.Start();
        }
    }

    public void Dispose()
    {
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

    private void StopServerAndAssertNoLeaks()
    {
        using (_serverTask.Enter())
        {
            _server.Dispose();
        }
        Assert.Equal(_serverBaseline, _serverTask.Rights());
        Assert.Equal(0, _serverTask.OutstandingVmRegions);
    }

    private static uint Refs(uint name)
    {
        uint refs;
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, name, MachPortRight.Send, &refs));
        return refs;
    }

    [Fact]
    public void AHandlerThatTakesASendRightAndThrows_KeepsIt_TheServerReleasesNothingOfItsHolders()
    {
        // The server already holds a send right to q; a received send right to q merges into that name (B14). The
        // handler takes the received one and throws: destroying "the message" again must not take a uref that now
        // belongs to the handler's SendRight (nor the one the server held before).
        string qName = _service + ".q";
        ReceiveRight q;
        SendRight held;
        using (_serverTask.Enter())
        {
            q = ReceiveRight.Allocate();
            held = q.MakeSend();
            BootstrapServer.Register(qName, held);
        }
        SendRight? taken = null;
        _handlers.Carries = request =>
        {
            taken = request.TakeSendRight(in request.Message.Port);
            throw new InvalidOperationException("after taking the right");
        };
        using (var client = Connect())
        using (_clientTask.Enter())
        using (var toQ = BootstrapServer.LookUp(qName))
        {
            var request = new CarriesSend();
            request.Prepare(0, 0);
            request.Port.Name = toQ.Name;
            client.TryCall<CarriesSend, EchoReply>(request, out _, out _, out var result);
            Assert.Equal(MachRpcStatus.RemoteError, result.Status);
            Assert.Equal((int)MigReturn.RemoteError, result.Code);
        }
        using (_serverTask.Enter())
        {
            Assert.NotNull(taken);
            Assert.Equal(q.Name, taken!.Name);
            Assert.Equal(2u, Refs(q.Name)); // held's and taken's
            taken.Dispose();
            held.Dispose();
            q.Dispose();
        }
        StopServerAndAssertNoLeaks();
    }

    [Fact]
    public void AHandlerThatTakesTheReplyRightAndThrows_GetsNoMigErrorSentOnIt_AndCanStillAnswerLater()
    {
        MachRight? replyRight = null;
        _handlers.Echo = request =>
        {
            replyRight = request.TakeReplyRight();
            throw new InvalidOperationException("answers later, elsewhere");
        };
        using var client = Connect();
        MachRpcResult result = default;
        EchoReply reply = default;
        var caller = new Thread(() =>
        {
            using (_clientTask.Enter())
            {
                var request = new EchoRequest { Value = 41 };
                request.Prepare(0, 0);
                client.TryCall<EchoRequest, EchoReply>(request, out reply, out _, out result, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(20));
            }
        });
        caller.Start();
        Assert.True(SpinWait.SpinUntil(() => _server.Metrics.HandlerFailures == 1, 20_000));
        using (_serverTask.Enter())
        {
            var late = new EchoReply { Value = 42 };
            late.Prepare(replyRight!.TakeName());
            Assert.Equal(MachMsgReturn.Success, late.Send());
        }
        caller.Join();
        Assert.True(result.IsSuccess, result.ToString()); // the real answer, not MIG_REMOTE_ERROR
        Assert.Equal(42, reply.Value);
        using (_clientTask.Enter())
        {
            client.Dispose();
        }
        StopServerAndAssertNoLeaks();
    }

    [Fact]
    public void DisposeFromInsideAHandler_LeavesItsMessageIntact_UntilItReturns()
    {
        bool intact = false;
        MachMsgReturn replied = (MachMsgReturn)(-1);
        _handlers.Echo = request =>
        {
            int value = request.Message.Value;
            _server.Dispose(); // cannot join itself; the release waits until this handler returns
            intact = request.Header.Size == EchoRequest.SendSize && request.Header.Id == EchoRequest.MsgId
                     && request.DestinationPort == _server.ServicePort && request.Message.Value == value
                     && request.SenderPid == _clientTask.Pid;
            var reply = new EchoReply { Value = value + 1 };
            reply.Prepare(MachPortName.Null);
            replied = request.Reply(ref reply);
        };
        using (var client = Connect())
        using (_clientTask.Enter())
        {
            client.TryCall<EchoRequest, EchoReply>(new EchoRequest { Value = 9 }.Prepared(), out var reply, out _, out var result);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(10, reply.Value);
        }
        // The loop ends only after the handler returned, so its results are read after that (the reply can reach the
        // client before the handler has stored what Reply returned).
        Assert.True(SpinWait.SpinUntil(() => !_server.IsRunning, 20_000));
        Assert.True(intact, "the handler's message changed under it after Dispose");
        Assert.Equal(MachMsgReturn.Success, replied);
        Assert.Equal(_serverBaseline, _serverTask.Rights()); // released by the loop as it ended
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(64)]
    public void ShortVariableLengthRequests_AreServed(int textBytes)
    {
        // Reproduced before: every msgh_size below SendSize - trailer size got MIG_BAD_ARGUMENTS.
        _handlers.Var = request =>
        {
            var reply = new EchoReply { Value = (int)request.Message.Length, SenderPid = request.MessageSize };
            reply.Prepare(MachPortName.Null);
            Assert.Equal(MachMsgReturn.Success, request.Reply(ref reply));
        };
        _handlers.VarPort = request =>
        {
            using var port = request.TakeSendRight(in request.Message.Port);
            var reply = new EchoReply { Value = (int)request.Message.Cookie, SenderPid = request.MessageSize };
            reply.Prepare(MachPortName.Null);
            Assert.Equal(MachMsgReturn.Success, request.Reply(ref reply));
        };
        using (var client = Connect())
        using (_clientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            // As a C peer sends it: msgh_size covers only what is used.
            var var = new VarEcho { Length = (uint)textBytes };
            var.Prepare(0, 0);
            var.Header.Size = (uint)(28 + textBytes);
            client.TryCall<VarEcho, EchoReply>(var, out var reply, out _, out var result);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(textBytes, reply.Value);
            Assert.Equal(28 + textBytes, reply.SenderPid);

            var withPort = new VarWithPort { Cookie = 77 };
            withPort.Prepare(0, 0);
            withPort.Port.Name = carried.Name;
            withPort.Header.Size = (uint)(48 + textBytes);
            client.TryCall<VarWithPort, EchoReply>(withPort, out reply, out _, out result);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(77, reply.Value);
            Assert.Equal(48 + textBytes, reply.SenderPid);
        }
        Assert.Equal(0, _server.Metrics.Rejected);
        StopServerAndAssertNoLeaks();
    }
}

/// <summary>Test helpers over generated messages.</summary>
internal static class PreparedMessages
{
    public static EchoRequest Prepared(this EchoRequest request)
    {
        request.Prepare(0, 0);
        return request;
    }
}
