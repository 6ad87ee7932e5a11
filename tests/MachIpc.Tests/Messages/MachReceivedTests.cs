using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Tests.Kernel;
using MachIpc.Tests.Server;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Messages;

/// <summary>Explicit ownership of a received message: what a handler takes is cleared in the buffer, the rest is destroyed.</summary>
[Collection("Kernel")]
public unsafe class MachReceivedTests
{
    private sealed class Sent
    {
        public uint Service, Send, SendOnceTarget, Receive, Reply, ArrayTarget;
        public byte[] Buffer = new byte[CarriesAll.ReceiveBufferSize];
    }

    /// <summary>Sends a CarriesAll to a new port in this task and receives it.</summary>
    private static Sent SendAndReceive(K k)
    {
        var s = new Sent
        {
            Service = k.Port(),
            Send = k.PortWithSend(),
            SendOnceTarget = k.Port(),
            Receive = k.Port(),
            Reply = k.Port(),
            ArrayTarget = k.PortWithSend(),
        };
        byte[] data = [1, 2, 3, 4, 5];
        uint* names = stackalloc uint[2] { s.ArrayTarget, s.ArrayTarget };
        fixed (byte* d = data)
        {
            var m = new CarriesAll();
            m.Prepare(s.Service, s.Reply);
            m.SendPort.Name = s.Send;
            m.SendOncePort.Name = s.SendOnceTarget;
            m.ReceivePort.Name = s.Receive;
            m.Data.Address = (ulong)d;
            m.Data.Size = (uint)data.Length;
            m.Ports.Address = (ulong)names;
            m.Ports.Count = 2;
            // Service has no send right of ours: make one for the send.
            m.Header.Bits = (m.Header.Bits & ~MachMsgBits.RemoteMask) | (uint)MachMsgType.MakeSend;
            Assert.Equal(MachMsgReturn.Success, m.Send());
        }
        Assert.Equal(MachMsgReturn.Success, CarriesAll.Receive(s.Service, s.Buffer, MachMsgOption.RcvTimeout, 0));
        return s;
    }

    [Fact]
    public void TakenRightsAreClearedInTheBuffer_TheRestIsDestroyed_AndNothingIsReleasedTwice()
    {
        using var k = new K();
        Sent s = SendAndReceive(k);
        Assert.Equal(MachValidationError.None, CarriesAll.TryRead(s.Buffer, out var received));
        uint sendName = received.Message.SendPort.Name;
        Assert.Equal(s.Send, sendName); // merged into our existing name (B14)
        Assert.Equal(2u, Refs(s.Send, MachPortRight.Send));

        using SendRight send = received.TakeSendRight(in received.Message.SendPort);
        using ReceiveRight receive = received.TakeReceiveRight(in received.Message.ReceivePort);
        using OutOfLineMemory data = received.TakeMemory(in received.Message.Data);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, data.AsSpan().ToArray());
        Assert.Equal(0u, received.Message.SendPort.Name);
        Assert.Equal(0u, received.Message.ReceivePort.Name);
        Assert.Equal(0ul, received.Message.Data.Address);
        Assert.Throws<InvalidOperationException>(() => { _ = CarriesAll.TryRead(s.Buffer, out var r); r.TakeSendRight(in r.Message.SendPort); });

        fixed (byte* b = s.Buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b); // what a server does after the handler returns
        }
        // The taken rights survived the destroy; the send-once right, the port array and the reply right did not.
        Assert.Equal(2u, Refs(s.Send, MachPortRight.Send));
        Assert.Equal(MachPortType.Receive, Type(receive.Name));
        Assert.Equal(1u, Refs(s.ArrayTarget, MachPortRight.Send));
        Assert.Equal(1, k.Task.OutstandingVmRegions); // only the taken region
        RcvAndDestroy(s.SendOnceTarget); // the destroyed send-once right's notification
        RcvAndDestroy(s.Reply);
        send.Dispose();
        Assert.Equal(1u, Refs(s.Send, MachPortRight.Send));
    }

    [Fact]
    public void TakePorts_AdoptsEveryRightAndFreesTheArray_TakeReplyRight_TakesTheReplyRight()
    {
        using var k = new K();
        Sent s = SendAndReceive(k);
        Assert.Equal(MachValidationError.None, CarriesAll.TryRead(s.Buffer, out var received));
        MachRight[] ports = received.TakePorts(in received.Message.Ports);
        Assert.Equal(2, ports.Length);
        Assert.All(ports, p => Assert.IsType<SendRight>(p));
        Assert.Equal(3u, Refs(s.ArrayTarget, MachPortRight.Send));
        Assert.Equal(0, k.Task.OutstandingVmRegions - 1); // the array is freed; the data region is still there
        using MachRight reply = received.TakeReplyRight();
        Assert.IsType<SendOnceRight>(reply);
        Assert.Equal(MachMsgType.None, received.ReplyDisposition);
        try
        {
            received.TakeReplyRight();
            Assert.Fail("a second TakeReplyRight must throw");
        }
        catch (InvalidOperationException)
        {
        }
        fixed (byte* b = s.Buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
        Assert.Equal(3u, Refs(s.ArrayTarget, MachPortRight.Send));
        foreach (MachRight p in ports)
        {
            p.Dispose();
        }
        Assert.Equal(1u, Refs(s.ArrayTarget, MachPortRight.Send));
        reply.Dispose();
        RcvAndDestroy(s.Reply);
        RcvAndDestroy(s.SendOnceTarget);
    }

    [Fact]
    public void TakeWithADescriptorOfAnotherMessage_OrOfTheWrongKind_IsRefused()
    {
        using var k = new K();
        Sent s = SendAndReceive(k);
        Assert.Equal(MachValidationError.None, CarriesAll.TryRead(s.Buffer, out var received));
        Assert.Throws<ArgumentException>(() => { _ = CarriesAll.TryRead(s.Buffer, out var r); CarriesAll copy = r.Message; r.TakeSendRight(in copy.SendPort); });
        Assert.Throws<InvalidOperationException>(() => { _ = CarriesAll.TryRead(s.Buffer, out var r); r.TakeReceiveRight(in r.Message.SendPort); }); // a send right
        Assert.Equal(s.Send, received.Message.SendPort.Name); // untouched
        fixed (byte* b = s.Buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
        RcvAndDestroy(s.SendOnceTarget);
        RcvAndDestroy(s.Reply);
    }

    [Fact]
    public void DeadAndNullNames_AreRefusedAsRights_NotAdopted()
    {
        // A send right whose port died in transit arrives as MACH_PORT_DEAD (B17): this task holds nothing under it.
        using var k = new K();
        uint service = k.PortWithSend();
        uint replyPort = k.Port();
        uint doomed = k.Port();
        uint send = k.SendTo(doomed);
        DestroyReceive(doomed); // `send` is now a dead name
        var m = new CarriesPort();
        m.Prepare(service, replyPort);
        m.Port.Name = send;
        m.Port.Disposition = MachMsgType.MoveSend; // a dead name moves as MACH_PORT_DEAD (A28)
        Assert.Equal(MachMsgReturn.Success, m.Send());
        var buffer = new byte[CarriesPort.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, CarriesPort.Receive(service, buffer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, CarriesPort.TryRead(buffer, out var received));
        Assert.Equal(MachPortName.Dead, received.Message.Port.Name);
        var dead = Assert.Throws<InvalidOperationException>(() => { _ = CarriesPort.TryRead(buffer, out var r); r.TakeSendRight(in r.Message.Port); });
        Assert.Contains("MACH_PORT_DEAD", dead.Message, StringComparison.Ordinal);
        // Nor can a bare name be adopted as a right.
        Assert.Throws<ArgumentException>(() => SendRight.Adopt(MachPortName.Dead));
        Assert.Throws<ArgumentException>(() => ReceiveRight.Adopt(MachPortName.Null));
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b); // skips MACH_PORT_DEAD: nothing is held under it
        }
        RcvAndDestroy(replyPort);
        DestroyReceive(replyPort);
        Dealloc(service);
        DestroyReceive(service);
    }

    [Fact]
    public void Reply_ConsumesTheReplyRightOnce_AndSetsTheDestination()
    {
        using var k = new K();
        uint service = k.PortWithSend();
        uint replyPort = k.Port();
        var request = new EchoRequest { Value = 7 };
        request.Prepare(service, replyPort);
        Assert.Equal(MachMsgReturn.Success, request.Send());
        var buffer = new byte[EchoRequest.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, EchoRequest.Receive(service, buffer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, EchoRequest.TryRead(buffer, out var received));
        Assert.Throws<ArgumentException>(() => { _ = EchoRequest.TryRead(buffer, out var r); var unprepared = new EchoReply(); r.Reply(ref unprepared); });
        var reply = new EchoReply { Value = 8 };
        reply.Prepare(MachPortName.Null);
        Assert.Equal(MachMsgReturn.Success, received.Reply(ref reply));
        Assert.Equal(0u, received.ReplyPort);
        try
        {
            received.Reply(ref reply);
            Assert.Fail("a second Reply must throw");
        }
        catch (InvalidOperationException)
        {
        }
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b); // nothing left to release: no send-once notification follows
        }
        var answer = new byte[EchoReply.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, EchoReply.Receive(replyPort, answer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, EchoReply.TryRead(answer, out var got));
        Assert.Equal(8, got.Message.Value);
        AssertNoMessage(replyPort);
        DestroyReceive(replyPort);
        Dealloc(service);
        DestroyReceive(service);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(200)]
    public void ShortVariableLengthMessage_ValidatesInABufferCutToItsLength(int textBytes)
    {
        // Any msgh_size in [MinSize, SendSize] must validate whatever buffer length it arrives in: here exactly
        // round_msg(msgh_size) + the trailer, as the kernel wrote it.
        using var k = new K();
        uint service = k.PortWithSend();
        uint replyPort = k.Port();
        var m = new VarEcho { Length = (uint)textBytes };
        m.Prepare(service, replyPort);
        m.Header.Size = (uint)(28 + ((textBytes + 3) & ~3));
        for (int i = 0; i < textBytes; i++)
        {
            m.Text[i] = (byte)('a' + (i % 26));
        }
        Assert.Equal(MachMsgReturn.Success, m.Send());
        var buffer = new byte[VarEcho.ReceiveBufferSize];
        fixed (byte* b = buffer)
        {
            Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)b, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | VarEcho.TrailerOption, 0, (uint)buffer.Length, service, 0, 0));
        }
        int length = (int)MachTrailerRequest.RoundMsg(MemoryMarshal.Read<MachMsgHeader>(buffer).Size) + VarEcho.TrailerSize;
        Assert.True(length < VarEcho.SendSize);
        Assert.Equal(MachValidationError.None, VarEcho.TryRead(buffer.AsSpan(0, length), out var received));
        Assert.Equal((uint)textBytes, received.Message.Length);
        Assert.Equal(k.Task.Pid, received.SenderPid);
        if (textBytes > 0)
        {
            Assert.Equal((byte)'a', received.Message.Text[0]);
        }
        Assert.Equal(MachValidationError.BufferTooSmall, VarEcho.Validate(buffer.AsSpan(0, VarEcho.MinSize - 4)));
        Assert.Equal(MachValidationError.TrailerOutOfBounds, VarEcho.Validate(buffer.AsSpan(0, length - 4)));
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
        RcvAndDestroy(replyPort);
        DestroyReceive(replyPort);
        Dealloc(service);
        DestroyReceive(service);
    }
}
