using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Generator.Tests.Messages;
using MachIpc.Messages;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>Messages generated into this assembly: their CLR layout, the bytes Prepare writes, and validation of good input.</summary>
public class CompiledMessageTests
{
    public static TheoryData<Type> Corpus => MessageCorpus.Theory;

    [Theory]
    [MemberData(nameof(Corpus))]
    public void ClrLayoutEqualsGeneratedConstants(Type type)
    {
        int sendSize = MessageCorpus.Constant(type, "SendSize");
        Assert.Equal(sendSize, Marshal.SizeOf(type));
        Assert.Equal(sendSize, MessageCorpus.SizeOf(type));
        Type offsets = type.GetNestedType("Offsets")!;
        FieldInfo[] instanceFields = MessageCorpus.Fields(type);
        Assert.Equal(instanceFields.Length, offsets.GetFields().Length);
        foreach (FieldInfo field in instanceFields)
        {
            int expected = (int)offsets.GetField(field.Name)!.GetRawConstantValue()!;
            Assert.True(expected == (int)Marshal.OffsetOf(type, field.Name), $"{type.Name}.{field.Name}: generated {expected}, Marshal.OffsetOf {Marshal.OffsetOf(type, field.Name)}");
            Assert.True(expected == ByteOffset(type, field), $"{type.Name}.{field.Name}: generated {expected}, Unsafe.ByteOffset {ByteOffset(type, field)}");
        }
    }

    /// <summary>
    /// <c>Unsafe.ByteOffset(ref message, ref message.Field)</c> for a field known only by reflection: the managed layout,
    /// which Marshal.OffsetOf (the marshalled layout) matches only while the struct is blittable.
    /// </summary>
    private static unsafe int ByteOffset(Type type, FieldInfo field)
    {
        var method = new System.Reflection.Emit.DynamicMethod("ByteOffset", typeof(int), new[] { typeof(nint) }, typeof(CompiledMessageTests).Module, skipVisibility: true);
        System.Reflection.Emit.ILGenerator il = method.GetILGenerator();
        il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
        il.Emit(System.Reflection.Emit.OpCodes.Ldflda, field);
        il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
        il.Emit(System.Reflection.Emit.OpCodes.Sub);
        il.Emit(System.Reflection.Emit.OpCodes.Conv_I4);
        il.Emit(System.Reflection.Emit.OpCodes.Ret);
        // Only addresses are computed, but the JIT may probe the base address: give it the message's worth of memory.
        byte[] storage = new byte[MessageCorpus.SizeOf(type)];
        fixed (byte* p = storage)
        {
            return (int)method.Invoke(null, new object[] { (nint)p })!;
        }
    }

    /// <summary>
    /// For every message in the corpus: fill each inline field with its own byte pattern, call Prepare, and find every
    /// header word, descriptor byte and pattern at the offset the C compiler gives it (not the generated constants).
    /// </summary>
    [Theory]
    [MemberData(nameof(Corpus))]
    public void EveryFieldLandsAtItsCOffset(Type type)
    {
        Dictionary<string, int> c = COracle.Layouts[type.Name];
        MachMessageAttribute declared = type.GetCustomAttribute<MachMessageAttribute>()!;
        object message = Activator.CreateInstance(type)!;
        var patterns = new List<(string Name, byte[] Bytes)>();
        var descriptors = new List<FieldInfo>();
        foreach (FieldInfo field in MessageCorpus.Fields(type))
        {
            if (field.FieldType.Namespace == "MachIpc.Abi")
            {
                if (field.FieldType.Name.EndsWith("Descriptor", StringComparison.Ordinal))
                {
                    descriptors.Add(field);
                }
                continue; // header, body and descriptors: Prepare writes them
            }
            int n = patterns.Count + 1;
            byte[] pattern = new byte[MessageCorpus.SizeOf(field.FieldType)];
            for (int k = 0; k < pattern.Length; k++)
            {
                pattern[k] = (byte)((n << 4) | (k % 15 + 1)); // never 0, different for neighbouring fields
            }
            field.SetValue(message, MessageCorpus.FromBytes(field.FieldType, pattern));
            patterns.Add((field.Name, pattern));
        }
        MethodInfo prepare = type.GetMethods().Single(m => m.Name == "Prepare" && m.GetParameters().All(p => p.ParameterType == typeof(uint)));
        object[] ports = prepare.GetParameters().Length == 2 ? new object[] { 0x1103u, 0x2203u } : new object[] { 0x1103u };
        prepare.Invoke(message, ports); // on the boxed message, which it updates in place
        byte[] b = MessageCorpus.Bytes(message);

        Assert.Equal(c["sizeof"], b.Length);
        uint bits = (uint)declared.Remote | (uint)declared.Local << 8 | (c.ContainsKey("Body") ? 0x80000000u : 0);
        Assert.Equal(bits, U32(b, c["Header"] + 0));
        Assert.Equal((uint)c["sizeof"], U32(b, c["Header"] + 4));
        Assert.Equal(0x1103u, U32(b, c["Header"] + 8));
        Assert.Equal(ports.Length == 2 ? 0x2203u : 0u, U32(b, c["Header"] + 12));
        Assert.Equal((uint)declared.Id, U32(b, c["Header"] + 20));
        if (c.TryGetValue("Body", out int body))
        {
            Assert.Equal((uint)descriptors.Count, U32(b, body));
        }
        foreach (FieldInfo descriptor in descriptors)
        {
            int at = c[descriptor.Name];
            (MachMsgDescriptorType kind, MachMsgType? disposition) = descriptor.FieldType.Name switch
            {
                nameof(MachMsgPortDescriptor) => (MachMsgDescriptorType.Port, descriptor.GetCustomAttribute<MachPortAttribute>()!.Disposition),
                nameof(MachMsgOolPortsDescriptor) => (MachMsgDescriptorType.OolPorts, descriptor.GetCustomAttribute<MachOolPortsAttribute>()!.Disposition),
                _ => (MachMsgDescriptorType.Ool, (MachMsgType?)null),
            };
            Assert.True((byte)kind == b[at + 11], $"{type.Name}.{descriptor.Name}: type byte {b[at + 11]} at C offset {at}+11");
            if (disposition is { } d)
            {
                Assert.True((byte)d == b[at + 10], $"{type.Name}.{descriptor.Name}: disposition byte {b[at + 10]} at C offset {at}+10");
            }
        }
        foreach ((string name, byte[] pattern) in patterns)
        {
            Assert.True(b.AsSpan(c[name], pattern.Length).SequenceEqual(pattern),
                $"{type.Name}.{name}: its bytes are not at C offset {c[name]}: {Convert.ToHexString(b)}");
        }
    }

    [Fact]
    public void ConstantsOfTheRepresentativeMessages()
    {
        Assert.Equal((1000, 40, 1, true, 52, 92, 40), (TaskPortCheckIn.MsgId, TaskPortCheckIn.SendSize, TaskPortCheckIn.DescriptorCount,
            TaskPortCheckIn.IsComplex, TaskPortCheckIn.TrailerSize, TaskPortCheckIn.ReceiveBufferSize, TaskPortCheckIn.TrailerOffset));
        Assert.Equal(28, TaskPortCheckIn.Offsets.TaskPort);
        Assert.Equal((52, 28, 40, 12), (PortPairReply.SendSize, PortPairReply.Offsets.ReceivePort, PortPairReply.Offsets.SendPort, PortPairReply.TrailerSize));
        Assert.Equal((68, 52, 60, 64), (SurfacePortsPack4.SendSize, SurfacePortsPack4.Offsets.SurfaceId, SurfacePortsPack4.Offsets.Width, SurfacePortsPack4.Offsets.Height));
        Assert.Equal((72, 56, 64, 68), (SurfacePortsNatural.SendSize, SurfacePortsNatural.Offsets.SurfaceId, SurfacePortsNatural.Offsets.Width, SurfacePortsNatural.Offsets.Height));
        Assert.Equal((48, 28, 44, 20), (OolData.SendSize, OolData.Offsets.Data, OolData.Offsets.Flags, OolData.TrailerSize));
        Assert.Equal((44, 8), (OolPortArray.SendSize, OolPortArray.TrailerSize));
        Assert.Equal((24, 0, false, 76), (Ping.SendSize, Ping.DescriptorCount, Ping.IsComplex, Ping.ReceiveBufferSize));
        Assert.Equal((92, 28, 24, 28), (VarText.SendSize, VarText.MinSize, VarText.Offsets.Length, VarText.Offsets.Text));
        Assert.Equal((MachMsgOption)0x03000000, TaskPortCheckIn.TrailerOption);
        Assert.Equal(PortPairReply.TrailerOption, MachTrailerRequest.Option(MachTrailerElements.Seqno));
    }

    [Fact]
    public void PrepareWritesEveryHeaderAndDescriptorByte_TaskPortCheckIn()
    {
        TaskPortCheckIn msg = default;
        msg.TaskPort.Name = 0x1103;
        msg.Prepare(remotePort: 0x0707, localPort: 0x0909);
        byte[] b = TestBuffers.Bytes(msg);

        Assert.Equal(40, b.Length);
        Assert.Equal(0x80001513u, U32(b, 0)); // COPY_SEND | MAKE_SEND_ONCE << 8 | COMPLEX
        Assert.Equal(40u, U32(b, 4));
        Assert.Equal(0x0707u, U32(b, 8));
        Assert.Equal(0x0909u, U32(b, 12));
        Assert.Equal(0u, U32(b, 16));
        Assert.Equal(1000u, U32(b, 20));
        Assert.Equal(1u, U32(b, 24)); // descriptor count
        Assert.Equal(0x1103u, U32(b, 28)); // name
        Assert.Equal(0u, U32(b, 32)); // pad1
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(36))); // pad2
        Assert.Equal(19, b[38]); // COPY_SEND
        Assert.Equal(0, b[39]); // MACH_MSG_PORT_DESCRIPTOR
    }

    [Fact]
    public void PrepareWritesEveryByte_PortPairReply()
    {
        PortPairReply msg = default;
        msg.ReceivePort.Name = 0x2203;
        msg.SendPort.Name = 0x2303;
        msg.Prepare(remotePort: 0x0505);
        byte[] b = TestBuffers.Bytes(msg);
        Assert.Equal(0x80000012u, U32(b, 0)); // MOVE_SEND_ONCE, no local, complex
        Assert.Equal(52u, U32(b, 4));
        Assert.Equal(0x0505u, U32(b, 8));
        Assert.Equal(0u, U32(b, 12));
        Assert.Equal(1100u, U32(b, 20));
        Assert.Equal(2u, U32(b, 24));
        Assert.Equal(0x2203u, U32(b, 28));
        Assert.Equal(16, b[38]); // MOVE_RECEIVE
        Assert.Equal(0, b[39]);
        Assert.Equal(0x2303u, U32(b, 40));
        Assert.Equal(20, b[50]); // MAKE_SEND
        Assert.Equal(0, b[51]);
    }

    [Fact]
    public void InlineDataLandsAtTheCOffsets_BothPackings()
    {
        SurfacePortsPack4 p4 = default;
        p4.Prepare(1);
        p4.SurfaceId = 0x1122334455667788;
        p4.Width = 640;
        p4.Height = 480;
        byte[] a = TestBuffers.Bytes(p4);
        Assert.Equal(68, a.Length);
        Assert.Equal(0x80000013u, U32(a, 0));
        Assert.Equal(68u, U32(a, 4));
        Assert.Equal(2u, U32(a, 24));
        Assert.Equal(19, a[38]);
        Assert.Equal(19, a[50]);
        Assert.Equal(0x1122334455667788ul, BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(52)));
        Assert.Equal(640u, U32(a, 60));
        Assert.Equal(480u, U32(a, 64));

        SurfacePortsNatural n = default;
        n.Prepare(1);
        n.SurfaceId = 0x1122334455667788;
        n.Width = 640;
        n.Height = 480;
        byte[] c = TestBuffers.Bytes(n);
        Assert.Equal(72, c.Length);
        Assert.Equal(72u, U32(c, 4));
        Assert.Equal(0u, U32(c, 52)); // padding before the naturally aligned u64
        Assert.Equal(0x1122334455667788ul, BinaryPrimitives.ReadUInt64LittleEndian(c.AsSpan(56)));
        Assert.Equal(640u, U32(c, 64));
        Assert.Equal(480u, U32(c, 68));
    }

    [Fact]
    public void PrepareWritesOolFlags()
    {
        OolData msg = default;
        msg.Data.Address = 0xdead0000;
        msg.Data.Size = 4096;
        msg.Flags = 5;
        msg.Prepare(3);
        byte[] b = TestBuffers.Bytes(msg);
        Assert.Equal(0x80000013u, U32(b, 0));
        Assert.Equal(48u, U32(b, 4));
        Assert.Equal(3000u, U32(b, 20));
        Assert.Equal(0xdead0000ul, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(28)));
        Assert.Equal(1, b[36]); // deallocate
        Assert.Equal(1, b[37]); // MACH_MSG_VIRTUAL_COPY
        Assert.Equal(0, b[38]);
        Assert.Equal(1, b[39]); // MACH_MSG_OOL_DESCRIPTOR
        Assert.Equal(4096u, U32(b, 40));
        Assert.Equal(5u, U32(b, 44));

        OolPortArray ports = default;
        ports.Ports.Count = 3;
        ports.Prepare(3);
        byte[] p = TestBuffers.Bytes(ports);
        Assert.Equal(0, p[36]); // no deallocate
        Assert.Equal(0, p[37]); // physical copy
        Assert.Equal(19, p[38]); // COPY_SEND
        Assert.Equal(2, p[39]); // MACH_MSG_OOL_PORTS_DESCRIPTOR
        Assert.Equal(3u, U32(p, 40));
    }

    [Fact]
    public void PrepareHeaderOnly()
    {
        Ping msg = default;
        msg.Prepare(0x10, 0x20);
        byte[] b = TestBuffers.Bytes(msg);
        Assert.Equal(24, b.Length);
        Assert.Equal(0x00001513u, U32(b, 0)); // not complex
        Assert.Equal(24u, U32(b, 4));
        Assert.Equal(0x10u, U32(b, 8));
        Assert.Equal(0x20u, U32(b, 12));
        Assert.Equal(4000u, U32(b, 20));
    }

    [Fact]
    public void ValidationAcceptsGoodInputAndExposesTheTrailer()
    {
        TaskPortCheckIn msg = default;
        msg.TaskPort.Name = 0x1103;
        msg.Prepare(0x0707, 0x0909);
        msg.Header.Bits = TestBuffers.ReceivedBits(MachMsgType.CopySend, MachMsgType.MakeSendOnce, complex: true);
        TestBuffers.Deliver(ref msg.TaskPort);
        byte[] buffer = TestBuffers.Received<TaskPortCheckIn>(TestBuffers.Bytes(msg), TaskPortCheckIn.ReceiveBufferSize);

        Assert.Equal(MachValidationError.None, TaskPortCheckIn.TryRead(buffer, out MachReceived<TaskPortCheckIn> received));
        Assert.Equal(0x1103u, received.Message.TaskPort.Name);
        Assert.Equal(0x0707u, received.ReplyPort);
        Assert.Equal(MachMsgType.PortSendOnce, received.ReplyDisposition);
        Assert.Equal(40, received.TrailerOffset);
        Assert.Equal(52, received.TrailerSize);
        Assert.Equal(7u, received.Seqno);
        Assert.Equal(501u, received.Sender!.Value.Euid);
        Assert.Equal(TestBuffers.SenderPid, received.SenderPid);
        Assert.Equal(TestBuffers.SenderPid, received.AuditToken!.Value.Pid);
    }

    [Fact]
    public void TrailerAccessorsNeedABigEnoughTrailer()
    {
        PortPairReply msg = default;
        msg.Prepare(1);
        msg.Header.Bits = TestBuffers.ReceivedBits(MachMsgType.MoveSendOnce, MachMsgType.None, complex: true);
        TestBuffers.Deliver(ref msg.ReceivePort);
        TestBuffers.Deliver(ref msg.SendPort);
        byte[] buffer = TestBuffers.Received<PortPairReply>(TestBuffers.Bytes(msg), PortPairReply.ReceiveBufferSize, trailerSize: 12);
        Assert.Equal(MachValidationError.None, PortPairReply.TryRead(buffer, out MachReceived<PortPairReply> received));
        Assert.Equal(7u, received.Seqno);
        Assert.Null(received.Sender);
        Assert.Null(received.AuditToken);
        Assert.Null(received.SenderPid);
    }

    [Fact]
    public void GenericCodeSeesTheStaticInterface()
    {
        Assert.Equal(92, ReceiveBufferSize<TaskPortCheckIn>());
        Assert.Equal(2001, Id<SurfacePortsNatural>());
        Assert.Equal(MachValidationError.BufferTooSmall, Validate<Ping>(new byte[4]));

        static int ReceiveBufferSize<T>() where T : unmanaged, IMachMessage<T> => T.ReceiveBufferSize;
        static int Id<T>() where T : unmanaged, IMachMessage<T> => T.MsgId;
        static MachValidationError Validate<T>(byte[] b) where T : unmanaged, IMachMessage<T> => T.Validate(b);
    }

    [Fact]
    public void DescribeGivesTextForEveryError()
    {
        foreach (MachValidationError e in Enum.GetValues<MachValidationError>())
        {
            Assert.NotEqual("unknown validation error", MachValidation.Describe(e));
        }
    }

    [Fact]
    public void VariableLengthSendRejectsOutOfRangeSizesLocally()
    {
        VarText msg = default;
        msg.Prepare(1);
        msg.Header.Size = 200;
        Assert.Equal(MachMsgReturn.SendTooLarge, msg.Send());
        msg.Header.Size = 20;
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, msg.Send());
        msg.Header.Size = 30;
        Assert.Equal(MachMsgReturn.SendMsgTooSmall, msg.Send());
    }

    [Theory]
    [InlineData(0, 28)] // the count word alone: MinSize
    [InlineData(1, 32)]
    [InlineData(5, 36)] // 28 + 5, rounded up to 4
    [InlineData(8, 36)]
    [InlineData(64, 92)] // full: SendSize
    public unsafe void SetPayload_CopiesTheBytes_SetsTheCount_AndSendsOnlyWhatCarriesThem(int length, int size)
    {
        byte[] payload = Enumerable.Range(1, length).Select(i => (byte)i).ToArray();
        VarText msg = default;
        msg.Prepare(1);
        for (int i = 0; i < 64; i++)
        {
            msg.Text[i] = 0xee; // stale bytes from an earlier, longer payload
        }
        msg.SetPayload(payload);
        Assert.Equal((uint)length, msg.Length);
        Assert.Equal((uint)size, msg.Header.Size);
        byte[] text = new byte[64];
        for (int i = 0; i < 64; i++)
        {
            text[i] = msg.Text[i];
        }
        Assert.Equal(payload, text[..length]);
        Assert.All(text[length..], b => Assert.Equal(0, b)); // nothing stale goes out in the rounded size
    }

    [Theory]
    [InlineData(0, 28)] // 26 rounds up to 28, MinSize
    [InlineData(1, 28)]
    [InlineData(3, 32)]
    [InlineData(10, 48)]
    public unsafe void SetPayload_OfTwoByteElements_SizesByElement(int length, int size)
    {
        short[] payload = Enumerable.Range(1, length).Select(i => (short)-i).ToArray();
        VarSamples msg = default;
        msg.Prepare(1);
        msg.SetPayload(payload);
        Assert.Equal((ushort)length, msg.Count);
        Assert.Equal((uint)size, msg.Header.Size);
        for (int i = 0; i < length; i++)
        {
            Assert.Equal(payload[i], msg.Samples[i]);
        }
    }

    [Fact]
    public void SetPayload_RefusesMoreThanTheBufferHolds_AndLeavesTheMessageAlone()
    {
        VarText msg = default;
        msg.Prepare(1);
        Assert.Throws<ArgumentException>(() => msg.SetPayload(new byte[65]));
        Assert.Equal((uint)VarText.SendSize, msg.Header.Size);
        Assert.Equal(0u, msg.Length);
    }

    private static uint U32(byte[] b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(offset));
}
