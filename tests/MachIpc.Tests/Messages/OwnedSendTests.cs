using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Tests.Kernel;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Messages;

/// <summary>Every move disposition, a copy, a make and out-of-line data, for the owned-right Send overload.</summary>
[MachMessage(5300, Remote = MachMsgType.MoveSend, Local = MachMsgType.MakeSendOnce)]
public partial struct MovesRights
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor MovedReceive;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor MovedSend;
    [MachPort(MachMsgType.MoveSendOnce)] public MachMsgPortDescriptor MovedSendOnce;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Copied;
    [MachOol(MaxSize = 4096)] public MachMsgOolDescriptor Data;
    public int Tag;
}

/// <summary>A variable-length message whose count SetPayload sets.</summary>
[MachMessage(5301, MinSize = 28)]
public unsafe partial struct CountedText
{
    public MachMsgHeader Header;
    [MachCount] public uint Length;
    public fixed byte Text[128];
}

/// <summary>
/// The generated <c>Send(SendRight remotePort, ...)</c>: a moved right leaves its owner only when the kernel took it,
/// a copied one stays, and whatever a failed send gave back is destroyed (the kernel-wide leak check of <see cref="K"/>).
/// </summary>
[Collection("Kernel")]
public unsafe class OwnedSendTests
{
    private sealed class Rights : IDisposable
    {
        public ReceiveRight Destination = ReceiveRight.Allocate();
        public ReceiveRight Reply = ReceiveRight.Allocate();
        public ReceiveRight Moved = ReceiveRight.Allocate();
        public ReceiveRight SendTarget = ReceiveRight.Allocate();
        public ReceiveRight SendOnceTarget = ReceiveRight.Allocate();
        public SendRight Remote = null!, Send = null!, Copied = null!;
        public SendOnceRight SendOnce = null!;

        public Rights()
        {
            Remote = Destination.MakeSend();
            Send = SendTarget.MakeSend();
            Copied = Send.Copy();
            SendOnce = SendOnceTarget.MakeSendOnce();
        }

        public MachMsgReturn SendWith(byte[] data, MachMsgOption options = MachMsgOption.None)
        {
            var m = new MovesRights { Tag = 7 };
            return m.Send(Remote, Reply, Moved, Send, SendOnce, Copied, data, options);
        }

        public void Dispose()
        {
            foreach (MachRight r in new MachRight[] { Remote, Send, Copied, SendOnce, Moved, SendOnceTarget, SendTarget, Reply, Destination })
            {
                r.Dispose();
            }
        }
    }

    [Fact]
    public void Success_MovedRightsLeaveTheirOwners_CopiedOnesStay_AndTheDataArrives()
    {
        using var k = new K();
        using var r = new Rights();
        Assert.Equal(MachMsgReturn.Success, r.SendWith([1, 2, 3]));
        Assert.False(r.Remote.IsValid);
        Assert.False(r.Moved.IsValid);
        Assert.False(r.Send.IsValid);
        Assert.False(r.SendOnce.IsValid);
        Assert.True(r.Copied.IsValid);
        Assert.True(r.Reply.IsValid);
        Assert.Equal(1u, Refs(r.Copied.Name, MachPortRight.Send)); // the copy made the message's own right

        byte[] buffer = new byte[MovesRights.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, MovesRights.Receive(r.Destination.Name, buffer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, MovesRights.TryRead(buffer, out var received));
        Assert.Equal(7, received.Message.Tag);
        using (ReceiveRight moved = received.TakeReceiveRight(in received.Message.MovedReceive))
        using (OutOfLineMemory data = received.TakeMemory(in received.Message.Data))
        {
            Assert.Equal(MachPortType.Receive, moved.QueryType());
            Assert.Equal(new byte[] { 1, 2, 3 }, data.AsSpan().ToArray());
        }
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
    }

    [Fact]
    public void NothingCopiedIn_TheCallerStillOwnsEveryRight()
    {
        using var k = new K();
        using var r = new Rights();
        uint before = Refs(r.Send.Name, MachPortRight.Send);
        r.Destination.Dispose(); // the destination dies: MOVE_SEND of a dead name is MACH_SEND_INVALID_DEST (A18)
        Assert.Equal(MachMsgReturn.SendInvalidDest, r.SendWith([1]));
        Assert.True(r.Remote.IsValid);
        Assert.Equal(MachPortType.DeadName, Type(r.Remote.Name));
        Assert.Equal(MachPortType.Receive, r.Moved.QueryType());
        Assert.Equal(before, Refs(r.Send.Name, MachPortRight.Send));
        Assert.Equal(MachPortType.SendOnce, r.SendOnce.QueryType());
    }

    [Fact]
    public void PseudoReceived_MovedRightsComeBackToTheirOwners_WhatTheKernelMadeIsDestroyed()
    {
        using var k = new K();
        using var r = new Rights();
        r.Destination.SetQueueLimit(0); // always full: a send with a zero timeout is copied in, then copied back (A36)
        uint copiedRefs = Refs(r.Copied.Name, MachPortRight.Send);
        MachMsgReturn mr = r.SendWith([1, 2, 3, 4], MachMsgOption.SendTimeout);
        Assert.Equal(MachMsgReturn.SendTimedOut, mr.WithoutResourceBits());
        Assert.True(r.Remote.IsValid);
        Assert.Equal(MachPortType.Send, Type(r.Remote.Name) & MachPortType.Send);
        Assert.Equal(MachPortType.Receive, r.Moved.QueryType());
        Assert.True(r.Send.IsValid);
        Assert.True(r.SendOnce.IsValid);
        Assert.Equal(MachPortType.SendOnce, r.SendOnce.QueryType()); // a send-once right comes back under a new name
        Assert.Equal(copiedRefs, Refs(r.Copied.Name, MachPortRight.Send)); // the copy's extra reference was released
        Assert.Equal(0, k.Task.OutstandingVmRegions); // the region mapped back was freed
        // The reply right made from Reply was destroyed: its send-once notification is the only message there.
        RcvAndDestroy(r.Reply.Name);
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(r.Reply.Name).Result);
    }

    [Fact]
    public void BodyError_TheHeaderAndEarlierDescriptorsAreGone_LaterDescriptorsStayWithTheCaller()
    {
        using var k = new K();
        using var r = new Rights();
        // A "send right" over a name that holds only a receive right: its MOVE_SEND fails with MACH_SEND_INVALID_RIGHT
        // after the header and the moved receive right before it were copied in (A31).
        using var bogusPort = ReceiveRight.Allocate();
        var bogus = SendRight.Adopt(bogusPort.Name);
        var m = new MovesRights();
        MachMsgReturn mr = m.Send(r.Remote, r.Reply, r.Moved, bogus, r.SendOnce, r.Copied, default(ReadOnlySpan<byte>));
        Assert.Equal(MachMsgReturn.SendInvalidRight, mr);
        Assert.False(r.Remote.IsValid); // the destination's right was destroyed with the header
        Assert.False(r.Moved.IsValid); // copied in before the failure, destroyed
        Assert.False(bogus.IsValid);
        Assert.True(r.SendOnce.IsValid); // after the failing descriptor: untouched
        Assert.Equal(MachPortType.SendOnce, r.SendOnce.QueryType());
        RcvAndDestroy(r.Reply.Name); // the destroyed reply right's send-once notification
    }

    [Fact]
    public unsafe void SetPayload_SendsOnlyThePayload_AndTheOwnedSendKeepsThatSize()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        using SendRight send = port.MakeSend();
        var m = new CountedText();
        m.SetPayload("hello"u8);
        Assert.Equal(MachMsgReturn.Success, m.Send(send));
        Assert.True(send.IsValid); // COPY_SEND: still owned

        byte[] buffer = new byte[CountedText.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, CountedText.Receive(port.Name, buffer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, CountedText.TryRead(buffer, out var received));
        Assert.Equal(36, received.MessageSize); // 28 + 5, rounded to 4
        Assert.Equal(5u, received.Message.Length);
        fixed (byte* text = received.Message.Text)
        {
            Assert.Equal("hello"u8.ToArray(), new ReadOnlySpan<byte>(text, 5).ToArray());
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ReceiveAndDropTheRegion(ReceiveRight port)
    {
        byte[] buffer = new byte[MovesRights.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, MovesRights.Receive(port.Name, buffer, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, MovesRights.TryRead(buffer, out var received));
        _ = received.TakeMemory(in received.Message.Data); // never disposed
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
    }

    [Fact]
    public void ADroppedRegion_IsFreedByItsFinalizer()
    {
        using var k = new K();
        using var r = new Rights();
        Assert.Equal(MachMsgReturn.Success, r.SendWith(new byte[100]));
        ReceiveAndDropTheRegion(r.Destination);
        Assert.Equal(1, k.Task.OutstandingVmRegions);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(0, k.Task.OutstandingVmRegions);
    }

    [Fact]
    public unsafe void SendReceive_MovesTheRightsWithTheRequest_AndGetsTheReply()
    {
        using var k = new K();
        using var r = new Rights();
        // The "server" answers before the call, on the reply port the call will receive on.
        var reply = new Server.EchoReply { Value = 9 };
        using (SendOnceRight answer = r.Reply.MakeSendOnce())
        {
            Assert.Equal(MachMsgReturn.Success, reply.Send(answer));
            Assert.False(answer.IsValid); // MOVE_SEND_ONCE: the kernel took it
        }
        var request = new MovesRights { Tag = 3 };
        byte[] buffer = new byte[Math.Max(MovesRights.SendSize, Server.EchoReply.ReceiveBufferSize)];
        MachMsgReturn mr = request.SendReceive<Server.EchoReply>(buffer, r.Remote, r.Reply, r.Moved, r.Send, r.SendOnce, r.Copied, [5, 6], MachMsgOption.RcvTimeout, 0);
        Assert.Equal(MachMsgReturn.Success, mr);
        Assert.Equal(MachValidationError.None, Server.EchoReply.TryRead(buffer, out var received));
        Assert.Equal(9, received.Message.Value);
        Assert.False(r.Remote.IsValid);
        Assert.False(r.Moved.IsValid);
        Assert.False(r.SendOnce.IsValid);
        Assert.True(r.Copied.IsValid);
        Assert.Equal(0ul, request.Data.Address); // the struct no longer points at the span
        fixed (byte* b = buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
        // The request is queued at the destination with everything it carried.
        byte[] incoming = new byte[MovesRights.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, MovesRights.Receive(r.Destination.Name, incoming, MachMsgOption.RcvTimeout, 0));
        Assert.Equal(MachValidationError.None, MovesRights.TryRead(incoming, out var sent));
        Assert.Equal(3, sent.Message.Tag);
        Assert.Equal(2ul, (ulong)sent.Message.Data.Size);
        fixed (byte* b = incoming)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
        }
    }

    [Fact]
    public void ADisposedRight_IsAProgrammerError_AndNothingIsSent()
    {
        using var k = new K();
        using var r = new Rights();
        r.Send.Dispose();
        Assert.Throws<ObjectDisposedException>(() => r.SendWith([1]));
        Assert.Throws<ArgumentNullException>(() => new MovesRights().Send(null!, r.Reply, null, null, null, null, default));
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(r.Destination.Name).Result);
        Assert.True(r.Moved.IsValid);
    }
}
