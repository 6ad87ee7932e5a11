using System.Globalization;
using MachIpc.Abi;
using MachIpc.Client;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary><see cref="MachServer"/> in this process, serving a client that is another process.</summary>
public sealed class ServerTests : BehaviourTest
{
    [Fact]
    public void ARequestFromAnotherProcess_IsAnsweredWithItsAuditedPid_AMalformedOneIsRefusedWithItsRightDestroyed_AndStopJoins()
    {
        string service = UniqueName("server");
        var handlers = new EchoServer();
        using MachServer server = MachServer.CheckIn(service, handlers);
        server.Start();
        var serving = PortSpace();

        var child = StartPeer("call", service);
        string[] said = Finish(child).Split(' ');
        // The reply carries the pid the server read from the request's audit token; the client read ours from the reply's.
        Assert.Equal(["ok", "42", Str(child.Id), Str(Environment.ProcessId)], said[..4]);
        Assert.Equal(child.Id, handlers.LastSenderPid);
        // The gift's send-once right where a send right was declared: refused with MIG_BAD_ARGUMENTS, and the right
        // destroyed here, which the child's kernel reported to it as a send-once notification.
        Assert.Equal([nameof(MachRpcStatus.RemoteError), Str((int)MigReturn.BadArguments), Str(MachNotify.SendOnce)], said[4..]);
        Assert.Equal(1, server.Metrics.Rejected);
        Assert.Equal(1, server.Metrics.Dispatched);
        Assert.Equal(serving, PortSpace()); // nothing either request carried is left in this task

        server.Stop();
        Assert.False(server.IsRunning);
        Assert.Null(server.Fault);
        Assert.Equal(serving, PortSpace()); // Stop joins; the ports go with Dispose (checked when the test ends)
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);
}
