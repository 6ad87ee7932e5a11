using System;
using System.Linq;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Mig;
using MachIpc.Ports;
using MigTests.MachExc;
using MigTests.Shapes;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// Hostile replies against the generated client: a hand-written server answers each request with a malformed reply,
/// and the client returns MIG's code for it (user.c WriteCheckReply: MIG_REPLY_MISMATCH, MIG_SERVER_DIED,
/// MIG_TYPE_ERROR, or the error form's RetCode), destroying whatever the reply carried.
/// </summary>
public sealed unsafe class MigReplyCheckTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("fake-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("checking-client");
    private readonly ReceiveRight _service;
    private readonly SendRight _right;

    public MigReplyCheckTests()
    {
        string name = "org.machipc.tests.migreply." + Guid.NewGuid().ToString("N");
        using (_serverTask.Enter())
        {
            _service = BootstrapServer.CheckIn(name);
        }
        using (_clientTask.Enter())
        {
            _right = BootstrapServer.LookUp(name);
        }
    }

    public void Dispose()
    {
        using (_clientTask.Enter())
        {
            _right.Dispose();
            MigReplyPort.Destroy();
        }
        using (_serverTask.Enter())
        {
            _service.Dispose();
        }
        _serverTask.Dispose();
        _clientTask.Dispose();
    }

    /// <summary>Writes the reply for a received request into the buffer; returns its size, or 0 to send none.</summary>
    private delegate uint Answer(MachMsgHeader* request, byte* reply);

    /// <summary>Runs <paramref name="call"/> in the client task while the fake server answers one request.</summary>
    private int Against(Answer answer, Func<int> call)
    {
        var server = new Thread(() =>
        {
            using (_serverTask.Enter())
            {
                byte* request = stackalloc byte[8192];
                byte* reply = stackalloc byte[8192];
                var mr = Mach.Msg((MachMsgHeader*)request, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 8192, _service.Name, 10_000, 0);
                Assert.Equal(MachMsgReturn.Success, mr);
                new Span<byte>(reply, 8192).Clear();
                uint size = answer((MachMsgHeader*)request, reply);
                if (size != 0)
                {
                    ((MachMsgHeader*)reply)->Size = size;
                    Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)reply, MachMsgOption.SendMsg, size, 0, 0, 0, 0));
                }
                // Whatever was not answered (the reply right, above all) is destroyed here.
                Mach.MsgDestroy((MachMsgHeader*)request);
            }
        });
        server.Start();
        int result;
        using (_clientTask.Enter())
        {
            result = call();
        }
        server.Join();
        return result;
    }

    private delegate void Corrupt(MachExceptionRaiseStateIdentityReply* reply);

    /// <summary>A reply header to the request's send-once reply right.</summary>
    private static void Head(MachMsgHeader* request, byte* reply, int id)
    {
        var header = (MachMsgHeader*)reply;
        header->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, MachMsgType.None);
        header->RemotePort = request->RemotePort;
        request->RemotePort = 0;
        request->Bits &= ~MachMsgBits.RemoteMask;
        header->Id = id;
    }

    private int RaiseStateIdentity(uint[] room)
    {
        int flavor = 1;
        return MachExcClient.MachExceptionRaiseStateIdentity(_right.Name, 0, 0, 1, default, ref flavor, default, room, out _, timeoutMs: 10_000);
    }

    /// <summary>A well-formed reply carrying <paramref name="words"/> words of state, or a corruption of it.</summary>
    private static uint StateReply(MachMsgHeader* request, byte* reply, int words, Corrupt? corrupt = null)
    {
        Head(request, reply, MachExceptionRaiseStateIdentityReply.MsgId);
        var out0 = (MachExceptionRaiseStateIdentityReply*)reply;
        out0->NDR = NdrRecord.Native;
        out0->flavor = 9;
        out0->new_stateCnt = (uint)words;
        out0->Head.Size = (uint)(MachExceptionRaiseStateIdentityReply.MinSize + (4 * words));
        corrupt?.Invoke(out0);
        return out0->Head.Size;
    }

    [Fact]
    public void AWellFormedReply_IsAccepted()
    {
        Assert.Equal(0, Against((request, reply) => StateReply(request, reply, 5), () => RaiseStateIdentity(new uint[8])));
    }

    [Fact]
    public void TheWrongId_IsMigReplyMismatch()
    {
        Assert.Equal((int)MigReturn.ReplyMismatch,
            Against((request, reply) => StateReply(request, reply, 5, r => r->Head.Id++), () => RaiseStateIdentity(new uint[8])));
    }

    [Fact]
    public void AReplyRightDestroyedUnanswered_IsMigServerDied()
    {
        // The server sends nothing; destroying the send-once right makes the kernel send a send-once notification.
        Assert.Equal((int)MigReturn.ServerDied, Against((request, reply) => 0, () => RaiseStateIdentity(new uint[8])));
    }

    [Theory]
    [InlineData("one word short")]
    [InlineData("error form carrying success")]
    [InlineData("complex")]
    [InlineData("more state than the type allows")]
    [InlineData("count and size disagree")]
    public void MalformedReplies_AreMigTypeError(string corruption)
    {
        Answer answer = corruption switch
        {
            "one word short" => (request, reply) => StateReply(request, reply, 5, r => r->Head.Size -= 4),
            "error form carrying success" => (request, reply) => StateReply(request, reply, 0, r => r->Head.Size = MigReplyError.SizeOf),
            "complex" => (request, reply) => StateReply(request, reply, 5, r => r->Head.Bits |= MachMsgBits.Complex),
            "more state than the type allows" => (request, reply) => StateReply(request, reply, 5, r => r->new_stateCnt = 1297),
            _ => (request, reply) => StateReply(request, reply, 5, r => r->new_stateCnt = 6),
        };
        Assert.Equal((int)MigReturn.TypeError, Against(answer, () => RaiseStateIdentity(new uint[8])));
    }

    [Fact]
    public void TheErrorForm_ReturnsItsRetCode()
    {
        Assert.Equal(1234, Against((request, reply) =>
        {
            Head(request, reply, MachExceptionRaiseStateIdentityReply.MsgId);
            ((MigReplyError*)reply)->Ndr = NdrRecord.Native;
            ((MigReplyError*)reply)->RetCode = 1234;
            return MigReplyError.SizeOf;
        }, () => RaiseStateIdentity(new uint[8])));
    }

    [Fact]
    public void AReplyCarryingItsOwnReplyRight_IsMigTypeError_AndTheRightIsDestroyed()
    {
        ReceiveRight? extra = null;
        var before = _clientTask.Rights().Select(r => r.Name).ToHashSet();
        int result = Against((request, reply) =>
        {
            uint size = StateReply(request, reply, 1);
            extra = ReceiveRight.Allocate();
            var header = (MachMsgHeader*)reply;
            header->LocalPort = extra.Name;
            header->Bits |= (uint)MachMsgType.MakeSend << 8;
            return size;
        }, () => RaiseStateIdentity(new uint[8]));
        Assert.Equal((int)MigReturn.TypeError, result);
        // The client destroyed the send right the reply brought; all it gained is its MIG reply port.
        Assert.All(_clientTask.Rights().Where(r => !before.Contains(r.Name)), r => Assert.Equal(MachPortType.Receive, r.Type));
        using (_serverTask.Enter())
        {
            extra!.Dispose();
        }
    }

    [Fact]
    public void OutOfLineReplies_AreCheckedAndFreedWhenWrong()
    {
        int regions = _clientTask.OutstandingVmRegions;
        byte[] payload = new byte[64];
        int result = Against((request, reply) =>
        {
            Head(request, reply, EchoDataReply.MsgId);
            var out0 = (EchoDataReply*)reply;
            out0->Head.Bits |= MachMsgBits.Complex;
            out0->msgh_body.DescriptorCount = 2;
            fixed (byte* data = payload)
            {
                out0->rdata.Address = (ulong)data;
                out0->rdata.Size = 64;
                out0->rdata.Copy = MachMsgCopy.Physical;
                out0->rdata.Type = MachMsgDescriptorType.Ool;
                out0->rdataCnt = 64;
                // rquad is declared ^array[4] of int64_t: 32 bytes, not 24.
                out0->rquad.Address = (ulong)data;
                out0->rquad.Size = 24;
                out0->rquad.Copy = MachMsgCopy.Physical;
                out0->rquad.Type = MachMsgDescriptorType.Ool;
                out0->NDR = NdrRecord.Native;
                ((MachMsgHeader*)reply)->Size = EchoDataReply.SendSize;
                Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)reply, MachMsgOption.SendMsg, EchoDataReply.SendSize, 0, 0, 0, 0));
            }
            return 0;
        }, () => ShapesClient.CallEchoData(_right.Name, default, new long[4], out _, out _, timeoutMs: 10_000));
        Assert.Equal((int)MigReturn.TypeError, result);
        // Both regions the reply brought were deallocated with it.
        Assert.Equal(regions, _clientTask.OutstandingVmRegions);
    }
}
