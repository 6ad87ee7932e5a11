using System;
using MachIpc.Abi;
using MachIpc.Generator.Tests.Messages;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// The generated mach_msg stubs reach the kernel seam (libSystem on Darwin, MachIpc.Kernel.Mach elsewhere) with the
/// right direction: on every backend an unallocated name fails with the send or receive error Mach defines for it.
/// </summary>
public class StubTests
{
    private const uint UnallocatedName = 0x7ffff003;

    [Fact]
    public void SendToAnUnallocatedNameFailsAsASend()
    {
        TaskPortCheckIn msg = default;
        msg.Prepare(UnallocatedName, 0);
        Assert.Equal(MachMsgReturn.SendInvalidDest, msg.Send(MachMsgOption.SendTimeout, timeout: 0));
    }

    [Fact]
    public void ReceiveOnAnUnallocatedNameFailsAsAReceive()
    {
        Span<byte> buffer = stackalloc byte[Ping.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.RcvInvalidName, Ping.Receive(UnallocatedName, buffer, MachMsgOption.RcvTimeout, timeout: 0));
    }

    [Fact]
    public void SendReceiveFailsOnItsSendHalf()
    {
        Ping msg = default;
        msg.Prepare(UnallocatedName, UnallocatedName + 0x100);
        Span<byte> buffer = stackalloc byte[Math.Max(Ping.SendSize, PortPairReply.ReceiveBufferSize)];
        Assert.Equal(MachMsgReturn.SendInvalidDest, msg.SendReceive<PortPairReply>(buffer, MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout, timeout: 0));
    }

    [Fact]
    public void ReceiveBuffersTooSmallForTheTrailerAreAProgrammingError()
    {
        Assert.Throws<ArgumentException>(() => Ping.Receive(UnallocatedName, new byte[Ping.ReceiveBufferSize - 1]));
        Ping msg = default;
        msg.Prepare(UnallocatedName, 1);
        Assert.Throws<ArgumentException>(() => msg.SendReceive<PortPairReply>(new byte[PortPairReply.ReceiveBufferSize - 1]));
    }
}
