using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>Pattern 3: pre-created channel pairs, in one task and with one end moved to another process.</summary>
public sealed class ChannelTests : BehaviourTest
{
    internal static void SendNote(MachChannel channel, int value)
    {
        var note = new Note { Value = value };
        note.Prepare(channel.Send.Name);
        Assert.Equal(MachMsgReturn.Success, note.Send());
    }

    internal static Note ReceiveNote(MachChannel channel, out int senderPid)
    {
        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 30_000));
        Assert.Equal(MachValidationError.None, Note.TryRead(buffer, out var note));
        senderPid = note.SenderPid ?? -1;
        return note.Message;
    }

    [Fact]
    public void APair_CarriesMessagesBothWays()
    {
        var (first, second) = MachChannel.CreatePair();
        using (first)
        using (second)
        {
            SendNote(first, 1);
            SendNote(second, 2);
            Assert.Equal(1, ReceiveNote(second, out _).Value);
            Assert.Equal(2, ReceiveNote(first, out int pid).Value);
            Assert.Equal(Environment.ProcessId, pid);
        }
    }

    [Fact]
    public void OneEnd_MovedToAnotherProcess_GetsTheMessagesQueuedBeforeTheMove_AndAnswers()
    {
        string inbox = UniqueName("channel.inbox");
        var child = StartPeer("channel", inbox);
        Assert.Equal("ready", ReadLine(child));
        var (mine, theirs) = MachChannel.CreatePair();
        using (mine)
        using (theirs)
        {
            SendNote(mine, 20);
            SendNote(mine, 22);
            using (SendRight toChild = BootstrapServer.LookUp(inbox))
            {
                var transfer = new ChannelTransfer();
                transfer.Prepare(toChild.Name);
                transfer.Inbound.Name = theirs.Receive.TakeName();
                transfer.Outbound.Name = theirs.Send.TakeName();
                Assert.Equal(MachMsgReturn.Success, transfer.Send());
            }
            Assert.Equal(42, ReceiveNote(mine, out int pid).Value); // the child sums what it received
            Assert.Equal(child.Id, pid);
        }
        Assert.Equal("ok", Finish(child));
    }
}
