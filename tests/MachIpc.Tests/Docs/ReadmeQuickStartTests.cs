using MachIpc.Abi;
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

public class ReadmeQuickStartTests
{
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
            SendRight.Adopt(received.Message.ReplyTo.Name).Dispose();
        }
        Assert.Equal(before, task.Rights());
    }
}
