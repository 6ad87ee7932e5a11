using System.Runtime.CompilerServices;
using MachIpc.Abi;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Tests.Kernel;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.PortRights;

/// <summary>Notification requests, queries and send-once rights on owned rights, and the kernel-sender check.</summary>
[Collection("Kernel")]
public unsafe class RightNotificationTests
{
    private static bool FromKernel(Received r)
    {
        fixed (byte* b = r.Buffer)
        {
            return ReceivedMessage.IsFromKernel((MachMsgHeader*)b, r.Buffer.Length);
        }
    }

    [Fact]
    public void NoSenders_ArrivesFromTheKernel_WhenTheLastSendRightDies()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        using var notify = ReceiveRight.Allocate();
        SendRight send = port.MakeSend();
        SendRight copy = send.Copy();
        Assert.Null(port.RequestNoSenders(notify));
        send.Dispose();
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(notify.Name).Result); // a reference is left
        copy.Dispose();
        Received n = Rcv(notify.Name);
        Assert.Equal(MachMsgReturn.Success, n.Result);
        Assert.Equal(MachNotify.NoSenders, n.Header.Id);
        Assert.True(FromKernel(n));
    }

    [Fact]
    public void ARequestThatReplacesAnother_ReturnsItsSendOnceRight()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        using var first = ReceiveRight.Allocate();
        using var second = ReceiveRight.Allocate();
        using SendRight send = port.MakeSend();
        Assert.Null(port.RequestNoSenders(first));
        using (SendOnceRight? previous = port.RequestNoSenders(second))
        {
            Assert.NotNull(previous);
            Assert.Equal(MachPortType.SendOnce, previous.QueryType());
        }
        Received once = Rcv(first.Name); // the previous right, disposed unused
        Assert.Equal(MachNotify.SendOnce, once.Header.Id);
        Assert.True(FromKernel(once));
    }

    [Fact]
    public void DeadName_ArrivesWhenTheReceiveRightDies()
    {
        using var k = new K();
        var port = ReceiveRight.Allocate();
        using var notify = ReceiveRight.Allocate();
        using SendRight send = SendRight.Adopt(k.SendTo(port.Name));
        Assert.Null(send.RequestDeadName(notify));
        Assert.Equal(MachPortType.DnRequest, send.QueryType() & MachPortType.DnRequest);
        port.Dispose();
        Received n = Rcv(notify.Name);
        Assert.Equal(MachNotify.DeadName, n.Header.Id);
        Assert.Equal(send.Name, n.U32(32));
        Assert.True(FromKernel(n));
        Assert.Equal(MachPortType.DeadName, send.QueryType());
        Dealloc(send.Name); // the notification's own reference to the dead name
    }

    [Fact]
    public void TryRequestDeadName_OnAPortThatAlreadyDied_ReportsInvalidArgument_AndRequestDeadNameThrows()
    {
        using var k = new K();
        var port = ReceiveRight.Allocate();
        using var notify = ReceiveRight.Allocate();
        using SendRight send = SendRight.Adopt(k.SendTo(port.Name));
        port.Dispose();
        Assert.False(send.TryRequestDeadName(notify, out SendOnceRight? previous, out MachError reason));
        Assert.Null(previous);
        Assert.Equal((int)KernReturn.InvalidArgument, reason.Code);
        RcvAndDestroy(notify.Name); // the refused request's send-once right
        MachException e = Assert.Throws<MachException>(() => send.RequestDeadName(notify));
        Assert.Equal((int)KernReturn.InvalidArgument, e.Error.Code);
        RcvAndDestroy(notify.Name);
    }

    [Fact]
    public void PortDestroyed_BringsTheReceiveRightBack()
    {
        using var k = new K();
        var port = ReceiveRight.Allocate();
        using var notify = ReceiveRight.Allocate();
        Assert.Null(port.RequestPortDestroyed(notify));
        port.Dispose();
        Received n = Rcv(notify.Name);
        Assert.Equal(MachNotify.PortDestroyed, n.Header.Id);
        Assert.True(FromKernel(n));
        using ReceiveRight back = ReceiveRight.Adopt(n.PortDesc(0).Name);
        Assert.Equal(MachPortType.Receive, back.QueryType());
    }

    [Fact]
    public void AForgedNotificationFromATask_IsNotFromTheKernel()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(port.Name, MachMsgType.MakeSend, id: MachNotify.NoSenders).WithInline(8)));
        Received forged = Rcv(port.Name);
        Assert.Equal(MachNotify.NoSenders, forged.Header.Id);
        Assert.False(FromKernel(forged));
        fixed (byte* b = forged.Buffer)
        {
            Assert.False(ReceivedMessage.IsFromKernel((MachMsgHeader*)b, (int)forged.Header.Size)); // no trailer in range
        }
    }

    [Fact]
    public void MakeSendOnce_IsASeparateRight_WhoseUnusedDisposalNotifiesThePort()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        SendOnceRight once = port.MakeSendOnce();
        Assert.NotEqual(port.Name, once.Name);
        Assert.Equal(MachPortType.SendOnce, once.QueryType());
        once.Dispose();
        Assert.Equal(MachNotify.SendOnce, RcvAndDestroy(port.Name).Header.Id);
    }

    [Fact]
    public void QueryType_ReportsEveryRightUnderAName_TryQueryType_ReportsAnUnknownName()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        Assert.Equal(MachPortType.Receive, port.QueryType());
        using (port.MakeSend())
        {
            Assert.Equal(MachPortType.SendReceive, port.QueryType());
        }
        Assert.False(MachRight.TryQueryType(0x4403, out MachPortType none, out MachError reason));
        Assert.Equal(MachPortType.None, none);
        Assert.Equal((int)KernReturn.InvalidName, reason.Code);
        port.Dispose();
        Assert.Throws<ObjectDisposedException>(() => port.QueryType());
    }

    [Fact]
    public void CreatePair_WithAQueueLimit_BlocksTheSendAfterTheLimit()
    {
        using var k = new K();
        var (first, second) = MachChannel.CreatePair(queueLimit: 2);
        using (first)
        using (second)
        {
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(MachMsgReturn.Success, Send(Msg.To(first.Send.Name)));
            }
            Assert.Equal(MachMsgReturn.SendTimedOut, Send(Msg.To(first.Send.Name), MachMsgOption.SendTimeout, 0));
            RcvAndDestroy(second.Receive.Name);
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(first.Send.Name), MachMsgOption.SendTimeout, 0));
            RcvAndDestroy(second.Receive.Name);
            RcvAndDestroy(second.Receive.Name);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => MachChannel.CreatePair(queueLimit: MachPortLimits.QLimitMax + 1));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint Forget(ReceiveRight port)
    {
        SendRight send = port.MakeSend();
        return send.Name;
    }

    [Fact]
    public void ADroppedRight_IsReleasedByItsFinalizer()
    {
        using var k = new K();
        using var port = ReceiveRight.Allocate();
        using var notify = ReceiveRight.Allocate();
        Forget(port);
        port.RequestNoSenders(notify);
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(notify.Name).Result);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(MachPortType.Receive, port.QueryType()); // the forgotten send right is gone
        Assert.Equal(MachNotify.NoSenders, Rcv(notify.Name).Header.Id);
    }
}
