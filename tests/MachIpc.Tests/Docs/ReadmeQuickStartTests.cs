using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Server;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Tests.Docs;

// The README's quick start, verbatim apart from assertions, so the README cannot drift from the API.
[MachMessage(1000, Remote = MachMsgType.MakeSend, Trailer = MachTrailerElements.Audit)]
public partial struct Hello
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor ReplyTo;
    public long Value;
}

// The README's server example, verbatim.
[MachMessage(1001, Local = MachMsgType.MakeSendOnce)]
public partial struct Greet
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Listener;
    public long Value;
}

[MachMessage(1101, Remote = MachMsgType.MoveSendOnce)]
public partial struct GreetReply
{
    public MachMsgHeader Header;
    public long Value;
}

[MachServer]
public partial class Helpers
{
    public SendRight? Listener;

    private void OnGreet(MachReceived<Greet> greet)
    {
        Listener = greet.TakeSendRight(in greet.Message.Listener);
        var reply = new GreetReply { Value = greet.Message.Value + 1 };
        reply.Prepare(MachPortName.Null);
        greet.Reply(ref reply);
    }
}

public class ReadmeQuickStartTests
{
    [Fact]
    public void ServerExample_KeepsWhatItTakes_RepliesOnce_AndTheServerDestroysTheRest()
    {
        using var task = SimulatedMach.CreateTask("readme-server");
        using var entered = task.Enter();
        var before = task.Rights();
        string name = "org.example.helpers." + Guid.NewGuid().ToString("N");
        var helpers = new Helpers();
        using (var server = MachServer.CheckIn(name, helpers))
        using (var listener = ReceiveRight.Allocate())
        using (var toListener = listener.MakeSend())
        {
            server.Start();
            using var client = new MachRpcClient(BootstrapServer.LookUp(name));
            var greet = new Greet { Value = 41 };
            greet.Prepare(0, 0);
            greet.Listener.Name = toListener.Name;
            var result = client.Call<Greet, GreetReply>(greet, out var reply, out _);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(42, reply.Value);
            server.Stop();
            Assert.NotNull(helpers.Listener);
            Assert.Equal(listener.Name, helpers.Listener!.Name); // merged into the name this task already had
            helpers.Listener.Dispose();
        }
        Assert.Equal(before, task.Rights());
    }

    [Fact]
    public void QuickStart_SendsReceivesAndValidates()
    {
        using var task = SimulatedMach.CreateTask("readme");
        using var _ = task.Enter();
        var before = task.Rights();

        using (var port = ReceiveRight.Allocate())
        {
            var hello = new Hello { Value = 42 };
            hello.Prepare(remotePort: port.Name);
            hello.ReplyTo.Name = port.Name;
            Assert.Equal(MachMsgReturn.Success, hello.Send());

            Span<byte> buffer = stackalloc byte[Hello.ReceiveBufferSize];
            Assert.Equal(MachMsgReturn.Success, Hello.Receive(port.Name, buffer));
            Assert.Equal(MachValidationError.None, Hello.TryRead(buffer, out var received));
            Assert.Equal(42, received.Message.Value);
            Assert.Equal(task.Pid, received.SenderPid);
            // The send right carried in ReplyTo merged into the receiver's name for the port (B14).
            Assert.Equal(port.Name, received.Message.ReplyTo.Name);
            received.TakeSendRight(in received.Message.ReplyTo).Dispose();
        }
        Assert.Equal(before, task.Rights());
    }
}
