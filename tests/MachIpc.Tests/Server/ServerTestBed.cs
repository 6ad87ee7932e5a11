using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.Server;

/// <summary>A server task and a client task on the simulated kernel, a fresh service name, and the leak check.</summary>
internal sealed class ServerTestBed : IDisposable
{
    private readonly IReadOnlyList<PortRightInfo> _serverBaseline;
    private readonly IReadOnlyList<PortRightInfo> _clientBaseline;

    public ServerTestBed(string name)
    {
        ServerTask = SimulatedMach.CreateTask(name + "-server");
        ClientTask = SimulatedMach.CreateTask(name + "-client");
        Service = $"org.machipc.tests.{name}." + Guid.NewGuid().ToString("N");
        _serverBaseline = ServerTask.Rights();
        _clientBaseline = ClientTask.Rights();
    }

    public SimulatedTask ServerTask { get; }

    public SimulatedTask ClientTask { get; }

    public string Service { get; }

    public MachServer StartServer(IMachDispatcher dispatcher, MachServerOptions? options = null)
    {
        using (ServerTask.Enter())
        {
            var server = MachServer.CheckIn(Service, dispatcher, options);
            server.Start();
            return server;
        }
    }

    public MachRpcClient Connect()
    {
        using (ClientTask.Enter())
        {
            return new MachRpcClient(BootstrapServer.LookUp(Service));
        }
    }

    /// <summary>The number of messages queued on a port of the server task.</summary>
    public int MessagesOn(uint port)
    {
        using (ServerTask.Enter())
        {
            return Kernel.K.MsgCount(port);
        }
    }

    public void AssertNoLeaks()
    {
        Assert.Equal(_serverBaseline, ServerTask.Rights());
        Assert.Equal(_clientBaseline, ClientTask.Rights());
        Assert.Equal(0, ServerTask.OutstandingVmRegions);
        Assert.Equal(0, ClientTask.OutstandingVmRegions);
    }

    public void Dispose()
    {
        ServerTask.Dispose();
        ClientTask.Dispose();
    }
}
