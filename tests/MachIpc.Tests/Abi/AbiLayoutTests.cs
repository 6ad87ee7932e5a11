using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using Xunit;

namespace MachIpc.Tests.Abi;

// Every number here is from the ABI fact sheet (produced by compiling XNU's own headers), not from our code.
public class AbiLayoutTests
{
    private static int Off<T>(string field) where T : struct => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Header_IsTwentyFourBytes_WithFactSheetOffsets()
    {
        Assert.Equal(24, Unsafe.SizeOf<MachMsgHeader>());
        Assert.Equal(24, MachMsgHeader.SizeOf);
        Assert.Equal(0, Off<MachMsgHeader>(nameof(MachMsgHeader.Bits)));
        Assert.Equal(4, Off<MachMsgHeader>(nameof(MachMsgHeader.Size)));
        Assert.Equal(8, Off<MachMsgHeader>(nameof(MachMsgHeader.RemotePort)));
        Assert.Equal(12, Off<MachMsgHeader>(nameof(MachMsgHeader.LocalPort)));
        Assert.Equal(16, Off<MachMsgHeader>(nameof(MachMsgHeader.VoucherPort)));
        Assert.Equal(20, Off<MachMsgHeader>(nameof(MachMsgHeader.Id)));
    }

    [Fact]
    public void BodyAndBase()
    {
        Assert.Equal(4, Unsafe.SizeOf<MachMsgBody>());
        Assert.Equal(28, Unsafe.SizeOf<MachMsgBase>());
        Assert.Equal(24, Off<MachMsgBase>(nameof(MachMsgBase.Body)));
    }

    [Fact]
    public void PortDescriptor()
    {
        Assert.Equal(12, Unsafe.SizeOf<MachMsgPortDescriptor>());
        Assert.Equal(0, Off<MachMsgPortDescriptor>(nameof(MachMsgPortDescriptor.Name)));
        Assert.Equal(4, Off<MachMsgPortDescriptor>(nameof(MachMsgPortDescriptor.Pad1)));
        Assert.Equal(8, Off<MachMsgPortDescriptor>(nameof(MachMsgPortDescriptor.Pad2)));
        Assert.Equal(10, Off<MachMsgPortDescriptor>(nameof(MachMsgPortDescriptor.Disposition)));
        Assert.Equal(11, Off<MachMsgPortDescriptor>(nameof(MachMsgPortDescriptor.Type)));
    }

    [Fact]
    public void OolDescriptor()
    {
        Assert.Equal(16, Unsafe.SizeOf<MachMsgOolDescriptor>());
        Assert.Equal(0, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Address)));
        Assert.Equal(8, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Deallocate)));
        Assert.Equal(9, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Copy)));
        Assert.Equal(10, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Pad1)));
        Assert.Equal(11, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Type)));
        Assert.Equal(12, Off<MachMsgOolDescriptor>(nameof(MachMsgOolDescriptor.Size)));
    }

    [Fact]
    public void OolPortsDescriptor()
    {
        Assert.Equal(16, Unsafe.SizeOf<MachMsgOolPortsDescriptor>());
        Assert.Equal(0, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Address)));
        Assert.Equal(8, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Deallocate)));
        Assert.Equal(9, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Copy)));
        Assert.Equal(10, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Disposition)));
        Assert.Equal(11, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Type)));
        Assert.Equal(12, Off<MachMsgOolPortsDescriptor>(nameof(MachMsgOolPortsDescriptor.Count)));
    }

    [Fact]
    public void GuardedPortAndTypeDescriptors()
    {
        Assert.Equal(16, Unsafe.SizeOf<MachMsgGuardedPortDescriptor>());
        Assert.Equal(0, Off<MachMsgGuardedPortDescriptor>(nameof(MachMsgGuardedPortDescriptor.Context)));
        Assert.Equal(8, Off<MachMsgGuardedPortDescriptor>(nameof(MachMsgGuardedPortDescriptor.Flags)));
        Assert.Equal(10, Off<MachMsgGuardedPortDescriptor>(nameof(MachMsgGuardedPortDescriptor.Disposition)));
        Assert.Equal(11, Off<MachMsgGuardedPortDescriptor>(nameof(MachMsgGuardedPortDescriptor.Type)));
        Assert.Equal(12, Off<MachMsgGuardedPortDescriptor>(nameof(MachMsgGuardedPortDescriptor.Name)));
        Assert.Equal(12, Unsafe.SizeOf<MachMsgTypeDescriptor>());
        Assert.Equal(11, Off<MachMsgTypeDescriptor>(nameof(MachMsgTypeDescriptor.Type)));
    }

    [Fact]
    public void Trailers()
    {
        Assert.Equal(8, Unsafe.SizeOf<MachMsgTrailer>());
        Assert.Equal(4, Off<MachMsgTrailer>(nameof(MachMsgTrailer.Size)));
        Assert.Equal(12, Unsafe.SizeOf<MachMsgSeqnoTrailer>());
        Assert.Equal(8, Off<MachMsgSeqnoTrailer>(nameof(MachMsgSeqnoTrailer.Seqno)));
        Assert.Equal(20, Unsafe.SizeOf<MachMsgSecurityTrailer>());
        Assert.Equal(12, Off<MachMsgSecurityTrailer>(nameof(MachMsgSecurityTrailer.Sender)));
        Assert.Equal(52, Unsafe.SizeOf<MachMsgAuditTrailer>());
        Assert.Equal(20, Off<MachMsgAuditTrailer>(nameof(MachMsgAuditTrailer.Audit)));
        Assert.Equal(60, Unsafe.SizeOf<MachMsgContextTrailer>());
        Assert.Equal(52, Off<MachMsgContextTrailer>(nameof(MachMsgContextTrailer.Context)));
        Assert.Equal(68, Unsafe.SizeOf<MachMsgMacTrailer>());
        Assert.Equal(60, Off<MachMsgMacTrailer>(nameof(MachMsgMacTrailer.Ad)));
        Assert.Equal(64, Off<MachMsgMacTrailer>(nameof(MachMsgMacTrailer.Labels)));
        Assert.Equal(68, MachTrailerRequest.MaxSize);
        Assert.Equal(8, MachTrailerRequest.MinimumSize);
    }

    [Fact]
    public void Tokens_AndPidAtTrailerOffset40()
    {
        Assert.Equal(32, Unsafe.SizeOf<AuditToken>());
        Assert.Equal(8, Unsafe.SizeOf<SecurityToken>());
        Assert.Equal(40, MachMsgAuditTrailer.AuditOffset + AuditToken.PidOffset);

        var t = AuditToken.Create(auid: 1, euid: 2, egid: 3, ruid: 4, rgid: 5, pid: 6, asid: 7, pidVersion: 8);
        Assert.Equal((1u, 2u, 3u, 4u, 5u, 6, 7u, 8u), (t.Auid, t.Euid, t.Egid, t.Ruid, t.Rgid, t.Pid, t.Asid, t.PidVersion));
        Span<byte> trailer = stackalloc byte[MachMsgAuditTrailer.SizeOf];
        var audit = new MachMsgAuditTrailer { Audit = t };
        MemoryMarshal.Write(trailer, in audit);
        Assert.Equal(6, BitConverter.ToInt32(trailer[40..44]));
        Assert.False(t.IsKernel);
        Assert.True(default(AuditToken).IsKernel);
        Assert.Equal(new SecurityToken { Euid = 0, Egid = 1 }, SecurityToken.Kernel);
    }

    [Fact]
    public void NdrMigAndNotifications()
    {
        Assert.Equal(8, Unsafe.SizeOf<NdrRecord>());
        Assert.Equal(1, Marshal.SizeOf<NdrRecord>() / 8);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 0, 0, 0 }, MemoryMarshal.AsBytes(new ReadOnlySpan<NdrRecord>(new[] { NdrRecord.Native })).ToArray());
        Assert.Equal(36, Unsafe.SizeOf<MigReplyError>());
        Assert.Equal(24, Off<MigReplyError>(nameof(MigReplyError.Ndr)));
        Assert.Equal(32, Off<MigReplyError>(nameof(MigReplyError.RetCode)));
        Assert.Equal(36, Unsafe.SizeOf<MachNoSendersNotification>());
        Assert.Equal(32, Off<MachNoSendersNotification>(nameof(MachNoSendersNotification.NotCount)));
        Assert.Equal(36, Unsafe.SizeOf<MachPortNameNotification>());
        Assert.Equal(32, Off<MachPortNameNotification>(nameof(MachPortNameNotification.NotPort)));
        Assert.Equal(24, Unsafe.SizeOf<MachSendOnceNotification>());
        Assert.Equal(40, Unsafe.SizeOf<MachPortDestroyedNotification>());
        Assert.Equal(24, Off<MachPortDestroyedNotification>(nameof(MachPortDestroyedNotification.Body)));
        Assert.Equal(28, Off<MachPortDestroyedNotification>(nameof(MachPortDestroyedNotification.NotPort)));
        Assert.Equal((65, 66, 69, 70, 71, 72), (MachNotify.PortDeleted, MachNotify.SendPossible, MachNotify.PortDestroyed, MachNotify.NoSenders, MachNotify.SendOnce, MachNotify.DeadName));
        Assert.True(MachNotify.IsReserved(64) && MachNotify.IsReserved(72) && !MachNotify.IsReserved(63) && !MachNotify.IsReserved(73));
    }

    // Not on the fact sheet: mach_port_options_t from osfmk/mach/port.h (xnu-11417.101.15) — flags u32, mpl
    // (mach_port_limits_t, one u32), then a union holding uint64_t reserved[2], so 8-aligned and 24 bytes.
    [Fact]
    public void PortOptions_MatchPortH()
    {
        Assert.Equal(24, Unsafe.SizeOf<MachPortOptions>());
        Assert.Equal(0, Off<MachPortOptions>(nameof(MachPortOptions.Flags)));
        Assert.Equal(4, Off<MachPortOptions>(nameof(MachPortOptions.QLimit)));
        Assert.Equal(8, Off<MachPortOptions>(nameof(MachPortOptions.Reserved0)));
        Assert.Equal(16, Off<MachPortOptions>(nameof(MachPortOptions.Reserved1)));
        Assert.Equal(0x02u, (uint)MachPortConstructFlags.QLimit);
        Assert.Equal(0x10u, (uint)MachPortConstructFlags.InsertSendRight);
        Assert.Equal(0x1000u, (uint)MachPortConstructFlags.ReplyPort);
        Assert.Equal(0x4000u, (uint)MachPortConstructFlags.ProvisionalReplyPort);
        Assert.Equal(0x8000u, (uint)MachPortConstructFlags.ExceptionPort);
    }
}
