using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using MachIpc.Abi;
using MachIpc.Generator.Tests.Messages;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>Receive buffers a hostile sender (or a confused kernel) could produce, each rejected with the right reason.</summary>
public class HostileInputTests
{
    /// <summary>A message kind under test: a well-formed receive buffer and its generated validator.</summary>
    public sealed record Kind(string Name, Func<byte[]> Valid, Func<byte[], MachValidationError> Validate, int SendSize, int[] PortDescriptors, int[] OolDescriptors, int[] OolPortsDescriptors)
    {
        public override string ToString() => Name;
    }

    private static readonly Dictionary<string, Kind> s_kinds = new()
    {
        ["TaskPortCheckIn"] = new("TaskPortCheckIn", ValidTaskPortCheckIn, b => TaskPortCheckIn.Validate(b), TaskPortCheckIn.SendSize,
            new[] { TaskPortCheckIn.Offsets.TaskPort }, Array.Empty<int>(), Array.Empty<int>()),
        ["PortPairReply"] = new("PortPairReply", ValidPortPairReply, b => PortPairReply.Validate(b), PortPairReply.SendSize,
            new[] { PortPairReply.Offsets.ReceivePort, PortPairReply.Offsets.SendPort }, Array.Empty<int>(), Array.Empty<int>()),
        ["SurfacePortsPack4"] = new("SurfacePortsPack4", ValidSurfacePack4, b => SurfacePortsPack4.Validate(b), SurfacePortsPack4.SendSize,
            new[] { SurfacePortsPack4.Offsets.Surface, SurfacePortsPack4.Offsets.Metadata }, Array.Empty<int>(), Array.Empty<int>()),
        ["SurfacePortsNatural"] = new("SurfacePortsNatural", ValidSurfaceNatural, b => SurfacePortsNatural.Validate(b), SurfacePortsNatural.SendSize,
            new[] { SurfacePortsNatural.Offsets.Surface, SurfacePortsNatural.Offsets.Metadata }, Array.Empty<int>(), Array.Empty<int>()),
        ["OolData"] = new("OolData", ValidOolData, b => OolData.Validate(b), OolData.SendSize,
            Array.Empty<int>(), new[] { OolData.Offsets.Data }, Array.Empty<int>()),
        ["OolPortArray"] = new("OolPortArray", ValidOolPortArray, b => OolPortArray.Validate(b), OolPortArray.SendSize,
            Array.Empty<int>(), Array.Empty<int>(), new[] { OolPortArray.Offsets.Ports }),
        ["Ping"] = new("Ping", ValidPing, b => Ping.Validate(b), Ping.SendSize, Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>()),
    };

    public static TheoryData<string> AllKinds => new(s_kinds.Keys);

    public static TheoryData<string> ComplexKinds => new(new[] { "TaskPortCheckIn", "PortPairReply", "SurfacePortsPack4", "SurfacePortsNatural", "OolData", "OolPortArray" });

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void WellFormedInputIsAccepted(string name)
    {
        Kind kind = s_kinds[name];
        Assert.Equal(MachValidationError.None, kind.Validate(kind.Valid()));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Truncated(string name)
    {
        Kind kind = s_kinds[name];
        byte[] valid = kind.Valid();
        Assert.Equal(MachValidationError.BufferTooSmall, kind.Validate(Array.Empty<byte>()));
        Assert.Equal(MachValidationError.BufferTooSmall, kind.Validate(valid.AsSpan(0, 20).ToArray()));
        Assert.Equal(MachValidationError.BufferTooSmall, kind.Validate(valid.AsSpan(0, kind.SendSize - 4).ToArray()));
        // The message fits but its trailer does not.
        Assert.Equal(MachValidationError.TrailerOutOfBounds, kind.Validate(valid.AsSpan(0, kind.SendSize).ToArray()));
        Assert.Equal(MachValidationError.TrailerOutOfBounds, kind.Validate(valid.AsSpan(0, valid.Length - 4).ToArray()));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void WrongMsghSize(string name)
    {
        Kind kind = s_kinds[name];
        Assert.Equal(MachValidationError.WrongSize, Mutated(kind, b => SetU32(b, 4, (uint)kind.SendSize + 4)));
        Assert.Equal(MachValidationError.WrongSize, Mutated(kind, b => SetU32(b, 4, (uint)kind.SendSize - 4)));
        Assert.Equal(MachValidationError.WrongSize, Mutated(kind, b => SetU32(b, 4, uint.MaxValue)));
        Assert.Equal(MachValidationError.WrongSize, Mutated(kind, b => SetU32(b, 4, 0)));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void WrongId(string name)
    {
        Kind kind = s_kinds[name];
        Assert.Equal(MachValidationError.WrongId, Mutated(kind, b => SetU32(b, 20, U32(b, 20) + 1)));
        Assert.Equal(MachValidationError.WrongId, Mutated(kind, b => SetU32(b, 20, 70))); // a forged no-senders id
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void WrongComplexBit(string name)
    {
        Kind kind = s_kinds[name];
        Assert.Equal(MachValidationError.ComplexBitMismatch, Mutated(kind, b => SetU32(b, 0, U32(b, 0) ^ MachMsgBits.Complex)));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void WrongHeaderDispositions(string name)
    {
        Kind kind = s_kinds[name];
        // The local nibble is the destination right; a receive right or send-once cannot be what a send/send-once declared.
        Assert.Equal(MachValidationError.WrongDestinationDisposition, Mutated(kind, b => SetU32(b, 0, (U32(b, 0) & ~MachMsgBits.LocalMask) | (16u << 8))));
        // The remote nibble is the reply right: a sender who attaches an unexpected or different right is rejected.
        Assert.Equal(MachValidationError.WrongReplyDisposition, Mutated(kind, b => SetU32(b, 0, (U32(b, 0) & ~MachMsgBits.RemoteMask) | 16u)));
    }

    [Theory]
    [MemberData(nameof(ComplexKinds))]
    public void WrongDescriptorCount(string name)
    {
        Kind kind = s_kinds[name];
        Assert.Equal(MachValidationError.WrongDescriptorCount, Mutated(kind, b => SetU32(b, 24, U32(b, 24) + 1)));
        Assert.Equal(MachValidationError.WrongDescriptorCount, Mutated(kind, b => SetU32(b, 24, 0)));
    }

    [Theory]
    [MemberData(nameof(ComplexKinds))]
    public void WrongDescriptorTypeAndDisposition(string name)
    {
        Kind kind = s_kinds[name];
        foreach (int offset in kind.PortDescriptors)
        {
            Assert.Equal(MachValidationError.WrongDescriptorType, Mutated(kind, b => b[offset + 11] = (byte)MachMsgDescriptorType.Ool));
            Assert.Equal(MachValidationError.WrongDescriptorType, Mutated(kind, b => b[offset + 11] = (byte)MachMsgDescriptorType.GuardedPort));
            Assert.Equal(MachValidationError.WrongDescriptorDisposition, Mutated(kind, b => b[offset + 10] = b[offset + 10] == 16 ? (byte)17 : (byte)16));
            Assert.Equal(MachValidationError.WrongDescriptorDisposition, Mutated(kind, b => b[offset + 10] = 0));
        }
        foreach (int offset in kind.OolDescriptors)
        {
            Assert.Equal(MachValidationError.WrongDescriptorType, Mutated(kind, b => b[offset + 11] = (byte)MachMsgDescriptorType.Port));
            Assert.Equal(MachValidationError.WrongDescriptorType, Mutated(kind, b => b[offset + 11] = (byte)MachMsgDescriptorType.OolPorts));
        }
        foreach (int offset in kind.OolPortsDescriptors)
        {
            Assert.Equal(MachValidationError.WrongDescriptorType, Mutated(kind, b => b[offset + 11] = (byte)MachMsgDescriptorType.Ool));
            Assert.Equal(MachValidationError.WrongDescriptorDisposition, Mutated(kind, b => b[offset + 10] = 16));
        }
    }

    [Fact]
    public void OolSizeOutOfBounds()
    {
        Kind kind = s_kinds["OolData"];
        int size = OolData.Offsets.Data + 12;
        Assert.Equal(MachValidationError.OolSizeOutOfRange, Mutated(kind, b => SetU32(b, size, 0))); // below MinSize = 1
        Assert.Equal(MachValidationError.OolSizeOutOfRange, Mutated(kind, b => SetU32(b, size, (1u << 20) + 1)));
        Assert.Equal(MachValidationError.OolSizeOutOfRange, Mutated(kind, b => SetU32(b, size, uint.MaxValue)));
        Assert.Equal(MachValidationError.None, Mutated(kind, b => SetU32(b, size, 1u << 20)));

        Kind ports = s_kinds["OolPortArray"];
        int count = OolPortArray.Offsets.Ports + 12;
        Assert.Equal(MachValidationError.OolPortsCountOutOfRange, Mutated(ports, b => SetU32(b, count, 9)));
        Assert.Equal(MachValidationError.None, Mutated(ports, b => SetU32(b, count, 8)));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void BadTrailer(string name)
    {
        Kind kind = s_kinds[name];
        int trailer = (kind.SendSize + 3) & ~3;
        Assert.Equal(MachValidationError.WrongTrailerFormat, Mutated(kind, b => SetU32(b, trailer, 1)));
        Assert.Equal(MachValidationError.TrailerTooSmall, Mutated(kind, b => SetU32(b, trailer + 4, 4)));
    }

    [Fact]
    public void FixedSizeMessageShortenedSoTheTrailerLandsInItsBodyIsRejected()
    {
        // The sender claims msgh_size = 28 (header + body): the kernel puts the trailer at 28, over what the struct calls
        // TaskPort. A validator reading the descriptor would read trailer bytes; the size check stops it first.
        TaskPortCheckIn msg = ReceivedTaskPortCheckIn();
        byte[] buffer = TestBuffers.Received<TaskPortCheckIn>(TestBuffers.Bytes(msg), TaskPortCheckIn.ReceiveBufferSize, msghSize: 28);
        Assert.Equal(MachValidationError.WrongSize, TaskPortCheckIn.TryRead(buffer, out MachReceived<TaskPortCheckIn> received));
        Assert.Null(received.SenderPid);
        Assert.Equal(0, received.TrailerSize);
    }

    [Fact]
    public void FixedSizeMessagePaddedWithAFakeAuditTrailerIsRejected()
    {
        // The sender appends a forged audit trailer (pid 1) after its message and grows msgh_size over it; the real
        // trailer then follows at round_msg(msgh_size).
        TaskPortCheckIn msg = ReceivedTaskPortCheckIn();
        var buffer = new byte[TaskPortCheckIn.ReceiveBufferSize + 52];
        TestBuffers.Bytes(msg).CopyTo(buffer, 0);
        TestBuffers.WriteTrailer(buffer, TaskPortCheckIn.SendSize, 52, pid: 1);
        SetU32(buffer, 4, TaskPortCheckIn.SendSize + 52);
        TestBuffers.WriteTrailer(buffer, TaskPortCheckIn.SendSize + 52, 52, pid: TestBuffers.SenderPid);
        Assert.Equal(MachValidationError.WrongSize, TaskPortCheckIn.TryRead(buffer, out _));
    }

    [Fact]
    public void VariableLengthMessageReadsTheTrailerAtRoundMsgOfTheReceivedSize()
    {
        // A short VarText: 28 bytes sent. The bytes the struct calls Text (and the struct's own TrailerOffset) hold a
        // forged audit trailer naming pid 1; the kernel's trailer is at round_msg(28) = 28 and names the real sender.
        var buffer = new byte[VarText.ReceiveBufferSize];
        VarText msg = default;
        msg.Prepare(1);
        msg.Header.Bits = TestBuffers.ReceivedBits(VarText.RemoteDisposition, VarText.LocalDisposition, complex: false);
        msg.Length = 0;
        TestBuffers.Bytes(msg).CopyTo(buffer, 0);
        TestBuffers.WriteTrailer(buffer, VarText.Offsets.Text + 8, 52, pid: 1);
        TestBuffers.WriteTrailer(buffer, VarText.TrailerOffset, 52, pid: 1);
        SetU32(buffer, 4, 28);
        TestBuffers.WriteTrailer(buffer, 28, 52, pid: TestBuffers.SenderPid);

        Assert.Equal(MachValidationError.None, VarText.TryRead(buffer, out MachReceived<VarText> received));
        Assert.Equal(28, received.MessageSize);
        Assert.Equal(28, received.TrailerOffset);
        Assert.Equal(TestBuffers.SenderPid, received.SenderPid);
    }

    [Theory]
    [InlineData(32, 4u, MachValidationError.None)]
    [InlineData(32, 5u, MachValidationError.CountOutOfRange)] // 28 + 5 does not fit in msgh_size 32
    [InlineData(28, 0u, MachValidationError.None)]
    [InlineData(28, 1u, MachValidationError.CountOutOfRange)]
    [InlineData(92, 64u, MachValidationError.None)]
    [InlineData(92, 0xffffffffu, MachValidationError.CountOutOfRange)]
    public void VariableLengthCountMayNotClaimMoreThanWasSent(int size, uint count, MachValidationError expected)
    {
        var buffer = new byte[VarText.ReceiveBufferSize];
        VarText msg = default;
        msg.Prepare(1);
        msg.Header.Bits = TestBuffers.ReceivedBits(VarText.RemoteDisposition, VarText.LocalDisposition, complex: false);
        msg.Length = count;
        TestBuffers.Bytes(msg).CopyTo(buffer, 0);
        SetU32(buffer, 4, (uint)size);
        TestBuffers.WriteTrailer(buffer, size, 52, pid: TestBuffers.SenderPid);
        Assert.Equal(expected, VarText.Validate(buffer));
    }

    [Fact]
    public void VariableLengthSizeBounds()
    {
        var buffer = new byte[VarText.ReceiveBufferSize];
        VarText msg = default;
        msg.Prepare(1);
        msg.Header.Bits = TestBuffers.ReceivedBits(VarText.RemoteDisposition, VarText.LocalDisposition, complex: false);
        TestBuffers.Bytes(msg).CopyTo(buffer, 0);

        SetU32(buffer, 4, 24);
        Assert.Equal(MachValidationError.SizeOutOfRange, VarText.Validate(buffer));
        SetU32(buffer, 4, VarText.SendSize + 4);
        Assert.Equal(MachValidationError.SizeOutOfRange, VarText.Validate(buffer));
        SetU32(buffer, 4, 30);
        Assert.Equal(MachValidationError.SizeNotAligned, VarText.Validate(buffer));
        SetU32(buffer, 4, VarText.SendSize);
        byte[] badFormat = (byte[])buffer.Clone();
        SetU32(badFormat, VarText.SendSize, 9);
        Assert.Equal(MachValidationError.WrongTrailerFormat, VarText.Validate(badFormat));
        TestBuffers.WriteTrailer(buffer, VarText.SendSize, 52, TestBuffers.SenderPid);
        Assert.Equal(MachValidationError.None, VarText.Validate(buffer));
        // A full-size message leaves no room for the trailer in a buffer of exactly SendSize bytes.
        Assert.Equal(MachValidationError.TrailerOutOfBounds, VarText.Validate(buffer.AsSpan(0, VarText.SendSize + 4).ToArray()));
    }

    private static MachValidationError Mutated(Kind kind, Action<byte[]> mutate)
    {
        byte[] buffer = kind.Valid();
        mutate(buffer);
        return kind.Validate(buffer);
    }

    private static uint U32(byte[] b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(offset));

    private static void SetU32(byte[] b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);

    private static TaskPortCheckIn ReceivedTaskPortCheckIn()
    {
        TaskPortCheckIn msg = default;
        msg.TaskPort.Name = 0x1103;
        msg.Prepare(0x0707, 0x0909);
        msg.Header.Bits = TestBuffers.ReceivedBits(TaskPortCheckIn.RemoteDisposition, TaskPortCheckIn.LocalDisposition, complex: true);
        TestBuffers.Deliver(ref msg.TaskPort);
        return msg;
    }

    private static byte[] ValidTaskPortCheckIn() =>
        TestBuffers.Received<TaskPortCheckIn>(TestBuffers.Bytes(ReceivedTaskPortCheckIn()), TaskPortCheckIn.ReceiveBufferSize);

    private static byte[] ValidPortPairReply()
    {
        PortPairReply msg = default;
        msg.ReceivePort.Name = 0x2203;
        msg.SendPort.Name = 0x2303;
        msg.Prepare(0x0505);
        msg.Header.Bits = TestBuffers.ReceivedBits(PortPairReply.RemoteDisposition, PortPairReply.LocalDisposition, complex: true);
        TestBuffers.Deliver(ref msg.ReceivePort);
        TestBuffers.Deliver(ref msg.SendPort);
        return TestBuffers.Received<PortPairReply>(TestBuffers.Bytes(msg), PortPairReply.ReceiveBufferSize, trailerSize: PortPairReply.TrailerSize);
    }

    private static byte[] ValidSurfacePack4()
    {
        SurfacePortsPack4 msg = default;
        msg.Prepare(1);
        msg.SurfaceId = 99;
        msg.Header.Bits = TestBuffers.ReceivedBits(SurfacePortsPack4.RemoteDisposition, SurfacePortsPack4.LocalDisposition, complex: true);
        TestBuffers.Deliver(ref msg.Surface);
        TestBuffers.Deliver(ref msg.Metadata);
        return TestBuffers.Received<SurfacePortsPack4>(TestBuffers.Bytes(msg), SurfacePortsPack4.ReceiveBufferSize);
    }

    private static byte[] ValidSurfaceNatural()
    {
        SurfacePortsNatural msg = default;
        msg.Prepare(1);
        msg.SurfaceId = 99;
        msg.Header.Bits = TestBuffers.ReceivedBits(SurfacePortsNatural.RemoteDisposition, SurfacePortsNatural.LocalDisposition, complex: true);
        TestBuffers.Deliver(ref msg.Surface);
        TestBuffers.Deliver(ref msg.Metadata);
        return TestBuffers.Received<SurfacePortsNatural>(TestBuffers.Bytes(msg), SurfacePortsNatural.ReceiveBufferSize);
    }

    private static byte[] ValidOolData()
    {
        OolData msg = default;
        msg.Prepare(1);
        msg.Data.Address = 0x10000;
        msg.Data.Size = 4096;
        msg.Header.Bits = TestBuffers.ReceivedBits(OolData.RemoteDisposition, OolData.LocalDisposition, complex: true);
        return TestBuffers.Received<OolData>(TestBuffers.Bytes(msg), OolData.ReceiveBufferSize, trailerSize: OolData.TrailerSize);
    }

    private static byte[] ValidOolPortArray()
    {
        OolPortArray msg = default;
        msg.Prepare(1);
        msg.Ports.Count = 2;
        msg.Ports.Disposition = MachMsgType.PortSend;
        msg.Header.Bits = TestBuffers.ReceivedBits(OolPortArray.RemoteDisposition, OolPortArray.LocalDisposition, complex: true);
        return TestBuffers.Received<OolPortArray>(TestBuffers.Bytes(msg), OolPortArray.ReceiveBufferSize, trailerSize: OolPortArray.TrailerSize);
    }

    private static byte[] ValidPing()
    {
        Ping msg = default;
        msg.Prepare(1, 2);
        msg.Header.Bits = TestBuffers.ReceivedBits(Ping.RemoteDisposition, Ping.LocalDisposition, complex: false);
        return TestBuffers.Received<Ping>(TestBuffers.Bytes(msg), Ping.ReceiveBufferSize);
    }
}
