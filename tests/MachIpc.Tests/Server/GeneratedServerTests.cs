using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.Server;

/// <summary>A server whose dispatch the generator writes.</summary>
[MachServer]
public partial class EchoServer
{
    public int Echoes;
    public int PortsReceived;

    private void OnEcho(MachReceived<EchoRequest> request)
    {
        if (request.Message.Value < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), "negative values are refused");
        }
        var reply = new EchoReply { Value = request.Message.Value + 1, SenderPid = request.SenderPid ?? -1 };
        reply.Prepare(MachPortName.Null);
        var mr = request.Reply(ref reply);
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("reply", mr);
        }
        Echoes++;
    }

    private void OnPort(MachReceived<CarriesPort> request)
    {
        // Takes nothing: the server destroys both rights, the reply right unanswered.
        PortsReceived++;
    }
}

public sealed unsafe class GeneratedServerTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("client");
    private readonly string _service = "org.machipc.tests.generated." + Guid.NewGuid().ToString("N");

    public void Dispose()
    {
        _serverTask.Dispose();
        _clientTask.Dispose();
    }

    [Fact]
    public void GeneratedDispatcher_ReportsTheLargestRequest()
    {
        IMachDispatcher dispatcher = new EchoServer();
        Assert.Equal(Math.Max(EchoRequest.SendSize, CarriesPort.SendSize), dispatcher.MaxRequestSize);
    }

    [Fact]
    public void GeneratedDispatcher_RoutesByIdValidatesAndContainsHandlerFailures()
    {
        var handlers = new EchoServer();
        var serverBaseline = _serverTask.Rights();
        MachServer server;
        using (_serverTask.Enter())
        {
            server = MachServer.CheckIn(_service, handlers);
            server.Start();
        }
        using (_clientTask.Enter())
        {
            using var client = new MachRpcClient(BootstrapServer.LookUp(_service));
            var request = new EchoRequest { Value = 9 };
            request.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(request, out var reply, out _, out var ok);
            Assert.True(ok.IsSuccess, ok.ToString());
            Assert.Equal(10, reply.Value);
            Assert.Equal(_clientTask.Pid, reply.SenderPid);

            request.Value = -1;
            client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out var failed);
            Assert.Equal(MachRpcStatus.RemoteError, failed.Status);
            Assert.Equal((int)MigReturn.RemoteError, failed.Code);

            using var carried = Ports.ReceiveRight.Allocate();
            var bad = new CarriesPort();
            bad.Prepare(0, 0);
            bad.Port.Name = carried.Name;
            bad.Port.Disposition = MachMsgType.MakeSendOnce; // a right other than the declared one
            client.TryCall<CarriesPort, EchoReply>(bad, out _, out _, out var rejected);
            Assert.Equal(MachRpcStatus.RemoteError, rejected.Status);
            Assert.Equal((int)MigReturn.BadArguments, rejected.Code);

            var unknown = new Unknown();
            unknown.Prepare(0, 0);
            unknown.Port.Name = carried.Name;
            Assert.False(client.TryCall<Unknown, EchoReply>(unknown, out _, out _, out var r));
            Assert.Equal((int)MigReturn.BadId, r.Code);

            var good = new CarriesPort();
            good.Prepare(0, 0);
            good.Port.Name = carried.Name;
            client.TryCall<CarriesPort, EchoReply>(good, out _, out _, out var portResult);
            // The server destroys the reply right unanswered; the kernel's send-once notification tells the client.
            Assert.Equal(MachRpcStatus.RemoteError, portResult.Status);
            Assert.Equal((int)MigReturn.ServerDied, portResult.Code);
        }
        using (_serverTask.Enter())
        {
            server.Dispose();
        }
        Assert.Equal(1, handlers.Echoes);
        Assert.Equal(1, handlers.PortsReceived);
        Assert.Equal(1, server.Metrics.HandlerFailures);
        Assert.Equal(3, server.Metrics.Rejected);
        Assert.Equal(serverBaseline, _serverTask.Rights());
    }
}
