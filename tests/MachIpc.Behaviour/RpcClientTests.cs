using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary><see cref="MachRpcClient"/> in this process, calling a server that is another process.</summary>
public sealed unsafe class RpcClientTests : BehaviourTest
{
    private static MachRpcResult CallHold(MachRpcClient client, uint timeoutMs)
    {
        var hold = new Hold();
        hold.Prepare(MachPortName.Null, MachPortName.Null);
        client.TryCall<Hold, EchoReply>(hold, out _, out _, out var r, TimeSpan.FromMilliseconds(timeoutMs), TimeSpan.FromMilliseconds(timeoutMs));
        return r;
    }

    private static void AssertEchoes(MachRpcClient client, int value, int serverPid)
    {
        var echo = new Echo { Value = value };
        echo.Prepare(MachPortName.Null, MachPortName.Null);
        client.TryCall<Echo, EchoReply>(echo, out EchoReply reply, out AuditToken replier, out var result, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
        Assert.True(result.IsSuccess, result.ToString());
        Assert.Equal(value + 1, reply.Value);
        Assert.Equal(Environment.ProcessId, reply.SenderPid);
        Assert.Equal(serverPid, replier.Pid);
    }

    [Fact]
    public void Calls_Succeed_TimeOut_AndReportAServerThatDied_AsResults_WithoutLeakingReplyPorts()
    {
        string service = UniqueName("rpc");
        var server = StartPeer("serve", service);
        Assert.Equal("ready", ReadLine(server));
        using var client = new MachRpcClient(BootstrapServer.LookUp(service));
        int receiveRights = ReceiveRights();
        AssertEchoes(client, 1, server.Id);

        // The server holds the request until told: the call's receive times out, whatever the timeout.
        MachRpcResult timedOut = CallHold(client, 100);
        Assert.Equal(MachRpcStatus.ReceiveFailed, timedOut.Status);
        Assert.Equal((int)MachMsgReturn.RcvTimedOut, timedOut.Code);
        Assert.Equal("holding", ReadLine(server));
        Assert.Equal(receiveRights, ReceiveRights()); // the reply port a late reply could reach was replaced, not kept
        Say(server, "release");
        AssertEchoes(client, 2, server.Id);

        // The server dies holding a request: its reply right dies with it, and the kernel says so to the reply port.
        // A dead-name request on the server's port tells us when that port is gone too (kernel-semantics I4), which a
        // task's teardown need not do before it destroys the reply right.
        using (var notify = ReceiveRight.Allocate())
        {
            uint previous;
            Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, client.Server.Name, MachNotify.DeadName, 0, notify.Name, MachMsgType.MakeSendOnce, &previous));
            MachRpcResult died = default;
            var caller = new Thread(() => died = CallHold(client, 30_000));
            caller.Start();
            Assert.Equal("holding", ReadLine(server));
            server.Kill();
            Assert.True(server.WaitForExit(ChildTimeout));
            Assert.True(caller.Join(ChildTimeout), "the call outlived the server");
            Assert.Equal(MachRpcStatus.RemoteError, died.Status);
            Assert.Equal((int)MigReturn.ServerDied, died.Code);
            byte* buffer = stackalloc byte[256];
            var header = (MachMsgHeader*)buffer;
            Assert.Equal(MachMsgReturn.Success, Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, notify.Name, 30_000, MachPortName.Null));
            Assert.Equal(MachNotify.DeadName, header->Id);
            Assert.Equal(client.Server.Name, ((MachPortNameNotification*)header)->NotPort);
            // The notification carries a user reference to the dead name (kernel-semantics D5): ours to release.
            Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, client.Server.Name));
        }

        // The server's port is dead: the next call cannot be sent.
        var echo = new Echo { Value = 3 };
        echo.Prepare(MachPortName.Null, MachPortName.Null);
        client.TryCall<Echo, EchoReply>(echo, out _, out _, out var dead, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
        Assert.Equal(MachRpcStatus.SendFailed, dead.Status);
        Assert.Equal((int)MachMsgReturn.SendInvalidDest, dead.Code);
        Assert.Equal(receiveRights, ReceiveRights());
    }
}
