using MachIpc.Abi;
using Xunit;

namespace MachIpc.Tests.Abi;

public class AbiConstantTests
{
    [Fact]
    public void HeaderBits()
    {
        Assert.Equal(0x1513u, MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce));
        Assert.Equal(0x1fu, MachMsgBits.RemoteMask);
        Assert.Equal(0x1f00u, MachMsgBits.LocalMask);
        Assert.Equal(0x1f0000u, MachMsgBits.VoucherMask);
        Assert.Equal(0x80000000u, MachMsgBits.Complex);
        Assert.Equal(0x801f1f1fu, MachMsgBits.User);
        uint bits = MachMsgBits.Make(MachMsgType.MoveSend, MachMsgType.MakeSendOnce, MachMsgType.CopySend, complex: true);
        Assert.Equal(0x80131511u, bits);
        Assert.Equal(MachMsgType.MoveSend, MachMsgBits.Remote(bits));
        Assert.Equal(MachMsgType.MakeSendOnce, MachMsgBits.Local(bits));
        Assert.Equal(MachMsgType.CopySend, MachMsgBits.Voucher(bits));
        Assert.True(MachMsgBits.IsComplex(bits));
        Assert.False(MachMsgBits.IsComplex(0x1513));
        var h = new MachMsgHeader { Bits = bits };
        Assert.True(h.IsComplex);
        Assert.Equal(MachMsgType.MakeSendOnce, h.LocalDisposition);
    }

    [Fact]
    public void Dispositions_AndReceivedForms()
    {
        Assert.Equal(new byte[] { 16, 17, 18, 19, 20, 21, 22, 24, 25, 26 },
            new[] { MachMsgType.MoveReceive, MachMsgType.MoveSend, MachMsgType.MoveSendOnce, MachMsgType.CopySend, MachMsgType.MakeSend,
                    MachMsgType.MakeSendOnce, MachMsgType.CopyReceive, MachMsgType.DisposeReceive, MachMsgType.DisposeSend, MachMsgType.DisposeSendOnce }
                .Select(t => (byte)t).ToArray());
        Assert.Equal((16, 17, 18), ((int)MachMsgType.PortReceive, (int)MachMsgType.PortSend, (int)MachMsgType.PortSendOnce));
        Assert.Equal(MachMsgType.PortSend, MachMsgTypes.ReceivedForm(MachMsgType.CopySend));
        Assert.Equal(MachMsgType.PortSend, MachMsgTypes.ReceivedForm(MachMsgType.MakeSend));
        Assert.Equal(MachMsgType.PortSend, MachMsgTypes.ReceivedForm(MachMsgType.MoveSend));
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgTypes.ReceivedForm(MachMsgType.MakeSendOnce));
        Assert.Equal(MachMsgType.PortSendOnce, MachMsgTypes.ReceivedForm(MachMsgType.MoveSendOnce));
        Assert.Equal(MachMsgType.PortReceive, MachMsgTypes.ReceivedForm(MachMsgType.MoveReceive));
        Assert.Equal(MachMsgType.None, MachMsgTypes.ReceivedForm(MachMsgType.CopyReceive));
    }

    [Fact]
    public void DescriptorTypes_AndCopy()
    {
        Assert.Equal((0, 1, 2, 3, 4), ((int)MachMsgDescriptorType.Port, (int)MachMsgDescriptorType.Ool, (int)MachMsgDescriptorType.OolPorts,
            (int)MachMsgDescriptorType.OolVolatile, (int)MachMsgDescriptorType.GuardedPort));
        Assert.Equal((0, 1), ((int)MachMsgCopy.Physical, (int)MachMsgCopy.Virtual));
    }

    [Fact]
    public void Options_AndTrailerRequests()
    {
        Assert.Equal(0x1, (int)MachMsgOption.SendMsg);
        Assert.Equal(0x2, (int)MachMsgOption.RcvMsg);
        Assert.Equal(0x4, (int)MachMsgOption.RcvLarge);
        Assert.Equal(0x10, (int)MachMsgOption.SendTimeout);
        Assert.Equal(0x100, (int)MachMsgOption.RcvTimeout);
        Assert.Equal(0x400, (int)MachMsgOption.RcvInterrupt);
        Assert.Equal(0u, MachMsgTimeout.None);
        Assert.Equal(0x03000000, (int)MachTrailerRequest.Option(MachTrailerElements.Audit));
        Assert.Equal(MachMsgOption.RcvTrailerAudit, MachTrailerRequest.Option(MachTrailerElements.Audit));
        Assert.Equal(unchecked((int)0xf0000000), (int)MachTrailerRequest.Type(0xff));
        Assert.Equal(0x0f000000, (int)MachTrailerRequest.Elements((MachTrailerElements)0xff));
        Assert.Equal((0, 1, 2, 3, 4, 7, 8), ((int)MachTrailerElements.Null, (int)MachTrailerElements.Seqno, (int)MachTrailerElements.Sender,
            (int)MachTrailerElements.Audit, (int)MachTrailerElements.Context, (int)MachTrailerElements.Av, (int)MachTrailerElements.Labels));
        int[] expected = [8, 12, 20, 52, 60, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68];
        for (int e = 0; e < 16; e++)
        {
            Assert.Equal(expected[e], MachTrailerRequest.SizeOf((MachTrailerElements)e));
        }
        Assert.Equal(MachTrailerElements.Audit, MachTrailerRequest.ElementsOf(MachMsgOption.RcvMsg | MachMsgOption.RcvTrailerAudit));
        Assert.Equal(52, MachTrailerRequest.SizeOf(MachMsgOption.RcvMsg | MachMsgOption.RcvTrailerAudit));
        Assert.Equal(new uint[] { 0, 4, 4, 4, 4, 8 }, new uint[] { 0, 1, 2, 3, 4, 5 }.Select(MachTrailerRequest.RoundMsg).ToArray());
    }

    [Fact]
    public void Ports()
    {
        Assert.Equal(0u, MachPortName.Null);
        Assert.Equal(0xffffffffu, MachPortName.Dead);
        Assert.False(MachPortName.IsValid(0));
        Assert.False(MachPortName.IsValid(0xffffffff));
        Assert.True(MachPortName.IsValid(0x103));
        Assert.Equal((0u, 1u, 2u, 3u, 4u), ((uint)MachPortRight.Send, (uint)MachPortRight.Receive, (uint)MachPortRight.SendOnce, (uint)MachPortRight.PortSet, (uint)MachPortRight.DeadName));
        Assert.Equal((0x10000u, 0x20000u, 0x40000u, 0x80000u, 0x100000u), ((uint)MachPortType.Send, (uint)MachPortType.Receive, (uint)MachPortType.SendOnce, (uint)MachPortType.PortSet, (uint)MachPortType.DeadName));
        foreach (MachPortRight r in new[] { MachPortRight.Send, MachPortRight.Receive, MachPortRight.SendOnce, MachPortRight.PortSet, MachPortRight.DeadName })
        {
            Assert.Equal(1u << ((int)r + 16), (uint)(r switch
            {
                MachPortRight.Send => MachPortType.Send,
                MachPortRight.Receive => MachPortType.Receive,
                MachPortRight.SendOnce => MachPortType.SendOnce,
                MachPortRight.PortSet => MachPortType.PortSet,
                _ => MachPortType.DeadName,
            }));
        }
        Assert.Equal((1, 5u, 1024u), (MachPortLimits.LimitsInfoFlavor, MachPortLimits.QLimitDefault, MachPortLimits.QLimitMax));
        Assert.Equal(4, MachPortName.TaskBootstrapPort);
        Assert.Equal(128, BootstrapLimits.MaxNameLength);
        Assert.Equal(50331580u, MachMsgLimits.MaxBodySpace);
    }

    [Theory]
    [InlineData(0x10000002, "MACH_SEND_INVALID_DATA")]
    [InlineData(0x10000003, "MACH_SEND_INVALID_DEST")]
    [InlineData(0x10000004, "MACH_SEND_TIMED_OUT")]
    [InlineData(0x10000005, "MACH_SEND_INVALID_VOUCHER")]
    [InlineData(0x10000007, "MACH_SEND_INTERRUPTED")]
    [InlineData(0x10000008, "MACH_SEND_MSG_TOO_SMALL")]
    [InlineData(0x10000009, "MACH_SEND_INVALID_REPLY")]
    [InlineData(0x1000000a, "MACH_SEND_INVALID_RIGHT")]
    [InlineData(0x1000000c, "MACH_SEND_INVALID_MEMORY")]
    [InlineData(0x1000000d, "MACH_SEND_NO_BUFFER")]
    [InlineData(0x1000000e, "MACH_SEND_TOO_LARGE")]
    [InlineData(0x1000000f, "MACH_SEND_INVALID_TYPE")]
    [InlineData(0x10000010, "MACH_SEND_INVALID_HEADER")]
    [InlineData(0x10000011, "MACH_SEND_INVALID_TRAILER")]
    [InlineData(0x10004002, "MACH_RCV_INVALID_NAME")]
    [InlineData(0x10004003, "MACH_RCV_TIMED_OUT")]
    [InlineData(0x10004004, "MACH_RCV_TOO_LARGE")]
    [InlineData(0x10004005, "MACH_RCV_INTERRUPTED")]
    [InlineData(0x10004006, "MACH_RCV_PORT_CHANGED")]
    [InlineData(0x10004008, "MACH_RCV_INVALID_DATA")]
    [InlineData(0x10004009, "MACH_RCV_PORT_DIED")]
    [InlineData(0x1000400a, "MACH_RCV_IN_SET")]
    [InlineData(0x1000400b, "MACH_RCV_HEADER_ERROR")]
    [InlineData(0x1000400c, "MACH_RCV_BODY_ERROR")]
    [InlineData(0x1000400d, "MACH_RCV_INVALID_TYPE")]
    [InlineData(0x1000400e, "MACH_RCV_SCATTER_SMALL")]
    [InlineData(0x1000400f, "MACH_RCV_INVALID_TRAILER")]
    [InlineData(0, "MACH_MSG_SUCCESS")]
    public void MachMsgReturn_ValuesAndNames(int value, string name)
    {
        Assert.Equal(name, new MachError(value).Name);
        Assert.Contains(Enum.GetValues<MachMsgReturn>(), v => (int)v == value);
    }

    [Theory]
    [InlineData(1, "KERN_INVALID_ADDRESS")]
    [InlineData(3, "KERN_NO_SPACE")]
    [InlineData(4, "KERN_INVALID_ARGUMENT")]
    [InlineData(5, "KERN_FAILURE")]
    [InlineData(6, "KERN_RESOURCE_SHORTAGE")]
    [InlineData(7, "KERN_NOT_RECEIVER")]
    [InlineData(13, "KERN_NAME_EXISTS")]
    [InlineData(14, "KERN_ABORTED")]
    [InlineData(15, "KERN_INVALID_NAME")]
    [InlineData(16, "KERN_INVALID_TASK")]
    [InlineData(17, "KERN_INVALID_RIGHT")]
    [InlineData(18, "KERN_INVALID_VALUE")]
    [InlineData(19, "KERN_UREFS_OVERFLOW")]
    [InlineData(20, "KERN_INVALID_CAPABILITY")]
    [InlineData(21, "KERN_RIGHT_EXISTS")]
    [InlineData(49, "KERN_OPERATION_TIMED_OUT")]
    [InlineData(-300, "MIG_TYPE_ERROR")]
    [InlineData(-301, "MIG_REPLY_MISMATCH")]
    [InlineData(-302, "MIG_REMOTE_ERROR")]
    [InlineData(-303, "MIG_BAD_ID")]
    [InlineData(-304, "MIG_BAD_ARGUMENTS")]
    [InlineData(-305, "MIG_NO_REPLY")]
    [InlineData(-306, "MIG_EXCEPTION")]
    [InlineData(-307, "MIG_ARRAY_TOO_LARGE")]
    [InlineData(-308, "MIG_SERVER_DIED")]
    [InlineData(-309, "MIG_TRAILER_ERROR")]
    [InlineData(1100, "BOOTSTRAP_NOT_PRIVILEGED")]
    [InlineData(1101, "BOOTSTRAP_NAME_IN_USE")]
    [InlineData(1102, "BOOTSTRAP_UNKNOWN_SERVICE")]
    [InlineData(1103, "BOOTSTRAP_SERVICE_ACTIVE")]
    [InlineData(1104, "BOOTSTRAP_BAD_COUNT")]
    [InlineData(1105, "BOOTSTRAP_NO_MEMORY")]
    [InlineData(1106, "BOOTSTRAP_NO_CHILDREN")]
    public void OtherCodes_ValuesAndNames(int value, string name)
    {
        Assert.Equal(name, new MachError(value).Name);
        bool inAnEnum = Enum.GetValues<KernReturn>().Any(v => (int)v == value)
            || Enum.GetValues<MigReturn>().Any(v => (int)v == value)
            || Enum.GetValues<BootstrapReturn>().Any(v => (int)v == value);
        Assert.True(inAnEnum);
    }

    [Fact]
    public void Errors_PrintNameCodeAndDescription()
    {
        Assert.Equal("MACH_SEND_INVALID_DEST (0x10000003): bogus destination port", new MachError((int)MachMsgReturn.SendInvalidDest).ToString());
        Assert.Equal("KERN_INVALID_NAME (15): the name does not denote a right in the task", ((MachError)KernReturn.InvalidName).ToString());
        Assert.Equal("MIG_BAD_ID (-303): bad request message id", MachError.Describe(-303));
        Assert.StartsWith("UNKNOWN (0x12345678)", MachError.Describe(0x12345678));
        Assert.StartsWith("MACH_RCV_BODY_ERROR|RESOURCE", MachError.Describe(0x1000400c | 0x2000));
        var ex = new MachException("mach_msg", MachMsgReturn.SendInvalidDest);
        Assert.Contains("MACH_SEND_INVALID_DEST (0x10000003)", ex.Message);
    }
}
