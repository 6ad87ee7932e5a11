using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>A message to this task's own port and back, with a port right and out-of-line memory.</summary>
public sealed unsafe class RoundTripTests : BehaviourTest
{
    [Fact]
    public void Note_ToOwnPort_ArrivesWithThisProcessAsTheAuditedSender()
    {
        using var port = ReceiveRight.Allocate();
        using var send = port.MakeSend();
        var note = new Note { Value = 42 };
        note.Prepare(send.Name);
        Assert.Equal(MachMsgReturn.Success, note.Send());

        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(port.Name, buffer, MachMsgOption.RcvTimeout, 5000));
        Assert.Equal(MachValidationError.None, Note.TryRead(buffer, out var received));
        Assert.Equal(42, received.Message.Value);
        Assert.Equal(Environment.ProcessId, received.SenderPid);
    }

    [Fact]
    public void Receive_OnAnEmptyPort_TimesOut()
    {
        using var port = ReceiveRight.Allocate();
        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.RcvTimedOut, Note.Receive(port.Name, buffer, MachMsgOption.RcvTimeout, 10));
    }

    [Fact]
    public void Parcel_CarriesASendRightAndOutOfLineBytes_AndDestroyReleasesBoth()
    {
        using var port = ReceiveRight.Allocate();
        using var send = port.MakeSend();
        byte[] data = new byte[70_000];
        new Random(7).NextBytes(data);
        fixed (byte* p = data)
        {
            var parcel = new Parcel { Checksum = Checksums.Of(data) };
            parcel.Prepare(send.Name);
            parcel.ReplyTo.Name = port.Name;
            parcel.Data.Address = (ulong)p;
            parcel.Data.Size = (uint)data.Length;
            Assert.Equal(MachMsgReturn.Success, parcel.Send());
        }
        byte[] buffer = new byte[Parcel.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Parcel.Receive(port.Name, buffer, MachMsgOption.RcvTimeout, 5000));
        Assert.Equal(MachValidationError.None, Parcel.TryRead(buffer, out var received));
        Parcel message = received.Message;
        // The bytes arrive at a new address of this task, the send right under the port's own name (one name per port).
        Assert.NotEqual(0ul, message.Data.Address);
        Assert.Equal(data, new ReadOnlySpan<byte>((void*)message.Data.Address, (int)message.Data.Size).ToArray());
        Assert.Equal(Checksums.Of(data), message.Checksum);
        Assert.Equal(port.Name, message.ReplyTo.Name);
        uint refs;
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, port.Name, MachPortRight.Send, &refs));
        Assert.Equal(2u, refs); // ours, and the one the message carried
        fixed (byte* b = buffer)
        {
            // A received virtual copy has deallocate set, so mach_msg_destroy frees it with the send right.
            Assert.NotEqual(0, message.Data.Deallocate);
            Mach.MsgDestroy((MachMsgHeader*)b);
        }
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, port.Name, MachPortRight.Send, &refs));
        Assert.Equal(1u, refs);
    }
}
