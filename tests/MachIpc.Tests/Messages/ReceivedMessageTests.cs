using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Tests.Kernel;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Messages;

/// <summary>The SDK's destroy routine: the receiver owns every right and region a received message carries.</summary>
[Collection("Kernel")]
public unsafe class ReceivedMessageTests
{
    [Fact]
    public void Destroy_ReleasesEveryRightAndFreesEveryRegion_WhateverItsDeallocateFlag_AndTwiceIsOnce()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        var baseline = k.Task.Rights();
        uint carried = k.Port();
        uint moved = k.Port();
        uint reply = k.Port();
        long value = 42;
        uint* names = stackalloc uint[2] { carried, carried };
        var volatileRegion = new byte[16];
        MemoryMarshal.Write(volatileRegion, (ulong)(nint)(&value));
        MemoryMarshal.Write(volatileRegion.AsSpan(12), 8u);
        volatileRegion[11] = (byte)MachMsgDescriptorType.OolVolatile;
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce)
            .Port(carried, MachMsgType.MakeSend)
            .Port(moved, MachMsgType.MoveReceive)
            .Ool((nint)(&value), 8, copy: MachMsgCopy.Physical)
            .Raw(volatileRegion)
            .OolPorts((nint)names, 2, MachMsgType.MakeSend)));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(3, k.Task.OutstandingVmRegions);
        uint movedName = r.PortDesc(1).Name;
        Assert.Equal(3u, Refs(carried, MachPortRight.Send));
        fixed (byte* b = r.Buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b);
            Assert.Equal(0, k.Task.OutstandingVmRegions);
            Assert.Equal(KernReturn.InvalidName, TypeResult(movedName));
            Assert.Equal(MachPortType.Receive, Type(carried));
            // Every name and region it released is cleared, so a second destroy releases nothing twice.
            var h = (MachMsgHeader*)b;
            Assert.Equal(MachPortName.Null, h->RemotePort);
            Assert.Equal(MachPortName.Null, ((MachMsgPortDescriptor*)(b + 28))->Name);
            Assert.Equal(0ul, ((MachMsgOolDescriptor*)(b + 52))->Address);
            uint extra = k.SendTo(carried); // a right the buffer's stale name would now hit
            ReceivedMessage.Destroy((MachMsgHeader*)b);
            Assert.Equal(1u, Refs(extra, MachPortRight.Send));
            Dealloc(extra);
        }
        RcvAndDestroy(reply); // the reply right was destroyed: the kernel says so with a send-once notification
        DestroyReceive(carried);
        DestroyReceive(reply);
        Assert.Equal(baseline, k.Task.Rights());
    }

    [Fact]
    public void Destroy_OfASpan_ReleasesWhatTheBufferCarries_AndRefusesABufferShorterThanAHeader()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint carried = k.Port();
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(carried, MachMsgType.MakeSend)));
        Received r = Rcv(p);
        Assert.Equal(1u, Refs(carried, MachPortRight.Send)); // the send right the message brought, under our receive right's name
        ReceivedMessage.Destroy(r.Buffer.AsSpan());
        Assert.Equal(0u, Refs(carried, MachPortRight.Send));
        Assert.Throws<ArgumentException>(() => ReceivedMessage.Destroy(new byte[MachMsgHeader.SizeOf - 1].AsSpan()));
        DestroyReceive(carried);
    }

    [Fact]
    public void ScopedMachMsgDestroy_DestroysUnlessDisarmed()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        uint carried = k.Port();
        for (int disarm = 0; disarm < 2; disarm++)
        {
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Port(carried, MachMsgType.MakeSend)));
            Received r = Rcv(p);
            fixed (byte* b = r.Buffer)
            {
                using (var scope = new ScopedMachMsgDestroy((MachMsgHeader*)b))
                {
                    if (disarm == 1)
                    {
                        scope.Disarm();
                    }
                }
            }
            Assert.Equal(disarm == 1 ? MachPortType.SendReceive : MachPortType.Receive, Type(carried));
        }
        Dealloc(carried);
        DestroyReceive(carried);
    }

    [Fact]
    public void AGeneratedSendThatTimesOut_LeavesTheCallerOwningEverything_AndDestroyUnsentReleasesIt()
    {
        // The generated Send's documented contract: after a pseudo-receive (I2) the struct holds every right and
        // region again, the reply right in msgh_local_port included.
        using var k = new K();
        uint full = k.Port();
        Assert.Equal(KernReturn.Success, SetQLimit(full, 0));
        uint send = k.PortWithSend(), sendOnceTarget = k.Port(), moved = k.Port(), reply = k.Port(), arrayTarget = k.PortWithSend();
        var baseline = k.Task.Rights();
        byte[] data = [1, 2, 3];
        uint* names = stackalloc uint[1] { arrayTarget };
        var m = new MachIpc.Tests.Server.CarriesAll();
        fixed (byte* d = data)
        {
            m.Prepare(full, reply);
            m.Header.Bits = (m.Header.Bits & ~MachMsgBits.RemoteMask) | (uint)MachMsgType.MakeSend;
            m.SendPort.Name = send;
            m.SendOncePort.Name = sendOnceTarget;
            m.ReceivePort.Name = moved;
            m.Data.Address = (ulong)d;
            m.Data.Size = 3;
            m.Ports.Address = (ulong)names;
            m.Ports.Count = 1;
            MachMsgReturn mr = m.Send(MachMsgOption.SendTimeout, 0);
            Assert.Equal(MachMsgReturn.SendTimedOut, mr);
            Assert.True(mr.IsPseudoReceived());
        }
        Assert.NotEqual(reply, m.Header.LocalPort); // the reply right came back as a send-once right under a new name
        Assert.Equal(MachPortType.SendOnce, Type(m.Header.LocalPort));
        Assert.Equal(2, k.Task.OutstandingVmRegions); // the region and the name array, mapped back
        ReceivedMessage.DestroyUnsent(&m.Header);
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        // Everything the message held is gone, the moved receive right included; what the caller kept is as before.
        Assert.Equal(baseline.Where(r => r.Name != moved), k.Task.Rights());
        RcvAndDestroy(sendOnceTarget);
        RcvAndDestroy(reply);
        Dealloc(send);
        DestroyReceive(send);
        Dealloc(arrayTarget);
        DestroyReceive(arrayTarget);
        DestroyReceive(sendOnceTarget);
        DestroyReceive(reply);
        DestroyReceive(full);
    }
}
