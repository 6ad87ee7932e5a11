using System;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Mig;
using MachIpc.Ports;
using MachIpc.Server;
using MigTests.MachExc;
using MigTests.Notify;
using MigTests.Shapes;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// Hostile input for every check MIG's <c>__MIG_check__Request</c> makes (server.c WriteCheckRequest), against the
/// generated dispatchers: each malformed request is rejected with MIG's code before its handler runs, and a valid
/// request of the same shape is handled (so each test fails if the check it aims at is missing).
/// </summary>
public sealed unsafe class MigRequestCheckTests
{
    private const int Trailer = MachMsgAuditTrailer.SizeOf;

    private sealed class Counting : IMachExcHandler
    {
        public int Calls;

        // MIG_NO_REPLY: the dispatcher neither replies nor destroys, so crafted names never reach the kernel.
        private int Called()
        {
            Calls++;
            return (int)MigReturn.NoReply;
        }

        public int CatchMachExceptionRaise(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code) => Called();

        public int CatchMachExceptionRaiseState(uint exceptionPort, int exception, ReadOnlySpan<long> code, ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            newStateCnt = 0;
            return Called();
        }

        public int CatchMachExceptionRaiseStateIdentity(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code, ref int flavor,
            ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            newStateCnt = 0;
            return Called();
        }
    }

    /// <summary>A received raise_state_identity request: <paramref name="codes"/> codes and <paramref name="words"/> state words, MIG-packed.</summary>
    private static byte[] Identity(int codes, int words)
    {
        var buffer = new byte[MachExceptionRaiseStateIdentityRequest.SendSize + Trailer];
        fixed (byte* p = buffer)
        {
            var in0 = (MachExceptionRaiseStateIdentityRequest*)p;
            in0->Head.Bits = MachMsgBits.Complex | MachMsgBits.Make(MachMsgType.PortSendOnce, MachMsgType.PortSend);
            in0->Head.Id = MachExceptionRaiseStateIdentityRequest.MsgId;
            in0->msgh_body.DescriptorCount = 2;
            Received(&in0->thread);
            Received(&in0->task);
            in0->NDR = NdrRecord.Native;
            in0->exception = 1;
            in0->codeCnt = (uint)codes;
            var in1 = (MachExceptionRaiseStateIdentityRequest*)(p + (8 * codes) - 16);
            in1->flavor = 7;
            in1->old_stateCnt = (uint)words;
            in0->Head.Size = (uint)(MachExceptionRaiseStateIdentityRequest.MinSize + (8 * codes) + (4 * words));
            WriteTrailer(p, in0->Head.Size, Trailer);
        }
        return buffer;
    }

    private static void Received(MachMsgPortDescriptor* descriptor)
    {
        descriptor->Name = 0x1234;
        descriptor->Type = MachMsgDescriptorType.Port;
        descriptor->Disposition = MachMsgType.PortSend;
    }

    private static void WriteTrailer(byte* message, uint size, int trailerSize)
    {
        var trailer = (MachMsgAuditTrailer*)(message + ((size + 3) & ~3u));
        trailer->Type = 0;
        trailer->Size = (uint)trailerSize;
    }

    private static MachDispatchResult Dispatch(IMachDispatcher dispatcher, byte[] message, int? length = null)
    {
        fixed (byte* p = message)
        {
            var header = (MachMsgHeader*)p;
            return dispatcher.Dispatch(header, length ?? (int)(((header->Size + 3) & ~3u) + Trailer));
        }
    }

    private static void AssertRejected(Counting handler, MachDispatchResult result, MigReturn code)
    {
        Assert.Equal(MachDispatchStatus.Rejected, result.Status);
        Assert.Equal(MigRequest.Describe((int)code), result.Reason);
        Assert.Equal(0, handler.Calls);
    }

    private static T Edit<T>(byte[] message, Func<nint, T> edit)
    {
        fixed (byte* p = message)
        {
            return edit((nint)p);
        }
    }

    [Theory]
    [InlineData(2, 1296)]
    [InlineData(1, 3)]
    [InlineData(0, 0)]
    public void WellFormedRequests_ReachTheHandler(int codes, int words)
    {
        var handler = new Counting();
        Assert.Equal(MachDispatchStatus.Handled, Dispatch(new MachExcDispatcher(handler), Identity(codes, words)).Status);
        Assert.Equal(1, handler.Calls);
    }

    public static TheoryData<string> HeaderAndSizeCorruptions => new()
    {
        "complex bit cleared", "one descriptor", "three descriptors", "larger than the struct", "smaller than the smallest",
        "more codes than the type allows", "size short of the codes", "more state than the type allows",
        "size does not match the state count", "size one word too long",
    };

    [Theory]
    [MemberData(nameof(HeaderAndSizeCorruptions))]
    public void HeaderCountsAndSizes_AreMigBadArguments(string corruption)
    {
        var handler = new Counting();
        byte[] message = Identity(1, 3);
        Edit(message, p =>
        {
            var in0 = (MachExceptionRaiseStateIdentityRequest*)p;
            var in1 = (MachExceptionRaiseStateIdentityRequest*)(p + 8 - 16);
            switch (corruption)
            {
                case "complex bit cleared": in0->Head.Bits &= ~MachMsgBits.Complex; break;
                case "one descriptor": in0->msgh_body.DescriptorCount = 1; break;
                case "three descriptors": in0->msgh_body.DescriptorCount = 3; break;
                case "larger than the struct": in0->Head.Size = MachExceptionRaiseStateIdentityRequest.SendSize + 4; break;
                case "smaller than the smallest": in0->Head.Size = MachExceptionRaiseStateIdentityRequest.MinSize - 4; break;
                case "more codes than the type allows": in0->codeCnt = 3; break;
                case "size short of the codes": in0->codeCnt = 2; in0->Head.Size = (uint)MachExceptionRaiseStateIdentityRequest.MinSize + 12; break;
                case "more state than the type allows": in1->old_stateCnt = 1297; break;
                case "size does not match the state count": in1->old_stateCnt = 4; break;
                case "size one word too long": in0->Head.Size += 4; break;
            }
            return 0;
        });
        AssertRejected(handler, Dispatch(new MachExcDispatcher(handler), message, message.Length), MigReturn.BadArguments);
    }

    [Fact]
    public void AMessageLongerThanItsBuffer_IsMigBadArguments()
    {
        var handler = new Counting();
        byte[] message = Identity(2, 100);
        AssertRejected(handler, Dispatch(new MachExcDispatcher(handler), message, length: MachExceptionRaiseStateIdentityRequest.MinSize), MigReturn.BadArguments);
    }

    [Theory]
    [InlineData("thread is not a port descriptor")]
    [InlineData("task arrived as a send-once right")]
    [InlineData("thread arrived as a receive right")]
    public void Descriptors_AreMigTypeError(string corruption)
    {
        var handler = new Counting();
        byte[] message = Identity(2, 8);
        Edit(message, p =>
        {
            var in0 = (MachExceptionRaiseStateIdentityRequest*)p;
            switch (corruption)
            {
                case "thread is not a port descriptor": in0->thread.Type = MachMsgDescriptorType.Ool; break;
                case "task arrived as a send-once right": in0->task.Disposition = MachMsgType.PortSendOnce; break;
                case "thread arrived as a receive right": in0->thread.Disposition = MachMsgType.PortReceive; break;
            }
            return 0;
        });
        AssertRejected(handler, Dispatch(new MachExcDispatcher(handler), message), MigReturn.TypeError);
    }

    [Fact]
    public void UnknownIds_AreLeftToTheServer()
    {
        byte[] message = Identity(2, 8);
        Edit(message, p => ((MachMsgHeader*)p)->Id = 2408);
        Assert.Equal(MachDispatchStatus.UnknownId, Dispatch(new MachExcDispatcher(new Counting()), message).Status);
    }

    private sealed class ShapesSpy : IShapesHandler
    {
        public int Calls;

        private int Called()
        {
            Calls++;
            return (int)MigReturn.NoReply;
        }

        public int HandleEchoScalars(uint server, byte a, short b, int c, ulong d, out long sum, ref uint counter) { sum = 0; return Called(); }

        public int HandleEchoArrays(uint server, ReadOnlySpan<uint> words, ReadOnlySpan<int> pairs, int tail, ReadOnlySpan<short> halves, Span<uint> rwords, out int rwordsCnt, Span<int> rpairs, out int rpairsCnt, out int rtail)
        {
            rwordsCnt = rpairsCnt = rtail = 0;
            return Called();
        }

        public int HandleEchoStrings(uint server, ReadOnlySpan<byte> name, ReadOnlySpan<byte> label, int after, Span<byte> rname, Span<byte> rlabel, out int rafter) { rafter = 0; return Called(); }

        public int HandleSwapPorts(uint server, uint give, out uint take, ref uint keep) { take = 0; return Called(); }

        public int HandleEchoData(uint server, ReadOnlySpan<byte> data, ReadOnlySpan<long> quad, out byte[]? rdata, out long[]? rquad) { rdata = null; rquad = null; return Called(); }

        public int HandleWhoAmI(uint server, uint reply, uint seqno, SecurityToken sender, AuditToken audit, out int pid) { pid = 0; return Called(); }

        public int HandleSlowEcho(uint server, int value, out int result) { result = 0; return Called(); }

        public int HandlePost(uint server, int value, ReadOnlySpan<byte> label) => Called();
    }

    private static byte[] Simple<T>(int id, int size) where T : unmanaged
    {
        var buffer = new byte[size + Trailer];
        fixed (byte* p = buffer)
        {
            var header = (MachMsgHeader*)p;
            header->Bits = MachMsgBits.Make(MachMsgType.PortSendOnce, MachMsgType.PortSend);
            header->Id = id;
            header->Size = (uint)size;
            WriteTrailer(p, (uint)size, Trailer);
        }
        return buffer;
    }

    [Fact]
    public void SimpleRequests_MustBeSimpleAndExactlySized()
    {
        var spy = new ShapesSpy();
        var dispatcher = new ShapesDispatcher(spy);
        Assert.Equal(MachDispatchStatus.Handled, Dispatch(dispatcher, Simple<EchoScalarsRequest>(EchoScalarsRequest.MsgId, EchoScalarsRequest.SendSize)).Status);
        Assert.Equal(1, spy.Calls);
        spy.Calls = 0;

        byte[] complex = Simple<EchoScalarsRequest>(EchoScalarsRequest.MsgId, EchoScalarsRequest.SendSize);
        Edit(complex, p => ((MachMsgHeader*)p)->Bits |= MachMsgBits.Complex);
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, complex).Reason);
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, Simple<EchoScalarsRequest>(EchoScalarsRequest.MsgId, EchoScalarsRequest.SendSize + 4)).Reason);
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, Simple<EchoScalarsRequest>(EchoScalarsRequest.MsgId, EchoScalarsRequest.SendSize - 4)).Reason);
        Assert.Equal(0, spy.Calls);
    }

    /// <summary>An echo_strings request: a fixed string, a variable one, then a field moved up behind it.</summary>
    private static byte[] Strings(string name, string label, bool terminateName = true, bool terminateLabel = true)
    {
        int labelBytes = (label.Length + 1 + 3) & ~3;
        byte[] message = Simple<EchoStringsRequest>(EchoStringsRequest.MsgId, EchoStringsRequest.MinSize + labelBytes);
        Edit(message, p =>
        {
            var in0 = (EchoStringsRequest*)p;
            in0->NDR = NdrRecord.Native;
            for (int i = 0; i < 32; i++)
            {
                in0->name[i] = i < name.Length ? (byte)name[i] : terminateName ? (byte)0 : (byte)'x';
            }
            in0->labelCnt = (uint)label.Length + 1;
            for (int i = 0; i < 16; i++)
            {
                in0->label[i] = i < label.Length ? (byte)label[i] : terminateLabel ? (byte)0 : (byte)'y';
            }
            return 0;
        });
        return message;
    }

    [Fact]
    public void Strings_MustEndInsideTheMessage()
    {
        var spy = new ShapesSpy();
        var dispatcher = new ShapesDispatcher(spy);
        Assert.Equal(MachDispatchStatus.Handled, Dispatch(dispatcher, Strings("name", "abc")).Status);
        Assert.Equal(1, spy.Calls);
        spy.Calls = 0;
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, Strings("name", "abc", terminateName: false)).Reason);
        // The variable string's count says 16 bytes (the whole buffer) but none of them is a NUL.
        byte[] unterminated = Strings(new string('l', 15), new string('l', 15), terminateLabel: false);
        Edit(unterminated, p => ((EchoStringsRequest*)p)->label[15] = (byte)'z');
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, unterminated).Reason);
        // A count beyond the buffer.
        byte[] overlong = Strings("n", "abc");
        Edit(overlong, p => ((EchoStringsRequest*)p)->labelCnt = 17);
        Assert.Equal("MIG_BAD_ARGUMENTS", Dispatch(dispatcher, overlong).Reason);
        Assert.Equal(0, spy.Calls);
    }

    private static byte[] Data(uint dataSize, uint dataCnt, uint quadSize)
    {
        byte[] message = Simple<EchoDataRequest>(EchoDataRequest.MsgId, EchoDataRequest.SendSize);
        Edit(message, p =>
        {
            var in0 = (EchoDataRequest*)p;
            in0->Head.Bits |= MachMsgBits.Complex;
            in0->msgh_body.DescriptorCount = 2;
            in0->data.Type = MachMsgDescriptorType.Ool;
            in0->data.Size = dataSize;
            in0->quad.Type = MachMsgDescriptorType.Ool;
            in0->quad.Size = quadSize;
            in0->dataCnt = dataCnt;
            return 0;
        });
        return message;
    }

    [Theory]
    [InlineData("data is a port descriptor")]
    [InlineData("quad is not 32 bytes")]
    [InlineData("data size and count disagree")]
    public void OutOfLineDescriptors_AreMigTypeError(string corruption)
    {
        var spy = new ShapesSpy();
        byte[] message = corruption switch
        {
            "quad is not 32 bytes" => Data(0, 0, 24),
            "data size and count disagree" => Data(10, 9, 32),
            _ => Data(0, 0, 32),
        };
        if (corruption == "data is a port descriptor")
        {
            Edit(message, p => ((EchoDataRequest*)p)->data.Type = MachMsgDescriptorType.Port);
        }
        MachDispatchResult result = Dispatch(new ShapesDispatcher(spy), message);
        Assert.Equal(MachDispatchStatus.Rejected, result.Status);
        Assert.Equal("MIG_TYPE_ERROR", result.Reason);
        Assert.Equal(0, spy.Calls);
    }

    [Fact]
    public void TrailerArguments_NeedTheKernelsTrailer()
    {
        var spy = new ShapesSpy();
        var dispatcher = new ShapesDispatcher(spy);
        Assert.Equal(MachDispatchStatus.Handled, Dispatch(dispatcher, Simple<WhoAmIRequest>(WhoAmIRequest.MsgId, WhoAmIRequest.SendSize)).Status);
        spy.Calls = 0;

        byte[] format = Simple<WhoAmIRequest>(WhoAmIRequest.MsgId, WhoAmIRequest.SendSize);
        Edit(format, p => ((MachMsgTrailer*)(p + WhoAmIRequest.SendSize))->Type = 1);
        Assert.Equal("MIG_TRAILER_ERROR", Dispatch(dispatcher, format).Reason);

        byte[] small = Simple<WhoAmIRequest>(WhoAmIRequest.MsgId, WhoAmIRequest.SendSize);
        Edit(small, p => ((MachMsgTrailer*)(p + WhoAmIRequest.SendSize))->Size = MachMsgSecurityTrailer.SizeOf);
        Assert.Equal("MIG_TRAILER_ERROR", Dispatch(dispatcher, small).Reason);

        // A trailer claiming its full size that the buffer does not hold.
        Assert.Equal("MIG_TRAILER_ERROR", Dispatch(dispatcher, Simple<WhoAmIRequest>(WhoAmIRequest.MsgId, WhoAmIRequest.SendSize), WhoAmIRequest.SendSize + 20).Reason);
        Assert.Equal(0, spy.Calls);
    }

    private sealed class NotifySpy : INotifyHandler
    {
        public int Calls;

        private int Called()
        {
            Calls++;
            return (int)MigReturn.NoReply;
        }

        public int DoSeqnosMachNotifyPortDeleted(uint notify, uint seqno, uint name) => Called();

        public int DoSeqnosMachNotifyPortDestroyed(uint notify, uint seqno, uint rights) => Called();

        public int DoSeqnosMachNotifyNoSenders(uint notify, uint seqno, uint mscount) => Called();

        public int DoSeqnosMachNotifySendOnce(uint notify, uint seqno) => Called();

        public int DoSeqnosMachNotifyDeadName(uint notify, uint seqno, uint name) => Called();
    }

    [Fact]
    public void PortDestroyed_MustCarryAReceiveRight()
    {
        var spy = new NotifySpy();
        var dispatcher = new NotifyDispatcher(spy);
        byte[] message = Simple<MachNotifyPortDestroyedRequest>(MachNotifyPortDestroyedRequest.MsgId, MachNotifyPortDestroyedRequest.SendSize);
        Edit(message, p =>
        {
            var in0 = (MachNotifyPortDestroyedRequest*)p;
            in0->Head.Bits |= MachMsgBits.Complex;
            in0->msgh_body.DescriptorCount = 1;
            in0->rights.Type = MachMsgDescriptorType.Port;
            in0->rights.Disposition = MachMsgType.PortReceive;
            return 0;
        });
        Assert.Equal(MachDispatchStatus.Handled, Dispatch(dispatcher, message).Status);
        Assert.Equal(1, spy.Calls);
        Edit(message, p => ((MachNotifyPortDestroyedRequest*)p)->rights.Disposition = MachMsgType.PortSend);
        Assert.Equal("MIG_TYPE_ERROR", Dispatch(dispatcher, message).Reason);
        Assert.Equal(1, spy.Calls);
    }

    [Fact]
    public void ARejectedRequest_IsAnsweredWithTheChecksCode_AndItsRightsDestroyed()
    {
        using var serverTask = SimulatedMach.CreateTask("check-server");
        using var clientTask = SimulatedMach.CreateTask("check-client");
        var handler = new Counting();
        string service = "org.machipc.tests.migcheck." + Guid.NewGuid().ToString("N");
        var baseline = serverTask.Rights().Count;
        MachServer server;
        using (serverTask.Enter())
        {
            server = MachServer.CheckIn(service, new MachExcDispatcher(handler));
            server.Start();
        }
        using (clientTask.Enter())
        {
            using SendRight right = BootstrapServer.LookUp(service);
            using var port = ReceiveRight.Allocate();
            var request = default(MachExceptionRaiseRequest);
            request.Prepare(right.Name, MigReplyPort.Get());
            request.thread.Name = port.Name;
            request.task.Name = port.Name;
            // A send-once right where a send right belongs: the server sees disposition 18 and answers MIG_TYPE_ERROR.
            request.thread.Disposition = MachMsgType.MakeSendOnce;
            request.task.Disposition = MachMsgType.MakeSend;
            request.Head.Size = (uint)MachExceptionRaiseRequest.MinSize;
            byte* buffer = stackalloc byte[128];
            *(MachExceptionRaiseRequest*)buffer = request;
            Assert.Equal(MachMsgReturn.Success, MigClient.Call((MachMsgHeader*)buffer, request.Head.Size, 128, migReplyPort: true, 0, 5000));
            Assert.Equal((int)MigReturn.TypeError, ((MigReplyError*)buffer)->RetCode);
            Assert.Equal(MachExceptionRaiseReply.MsgId, ((MigReplyError*)buffer)->Header.Id);
            MigReplyPort.Destroy();
        }
        using (serverTask.Enter())
        {
            server.Dispose();
        }
        Assert.Equal(0, handler.Calls);
        Assert.Equal(1, server.Metrics.Rejected);
        // The rights the rejected request carried were destroyed with it.
        Assert.Equal(baseline, serverTask.Rights().Count);
    }
}
