using CsCheck;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.Server;

/// <summary>
/// Chromium's rendezvous server keeps a fuzzer pointed at its live port; this is ours. Random and mutated
/// messages, some carrying real rights and out-of-line memory, are thrown at a running generated server.
/// It must never stop, every message it receives must be dispatched or rejected with a reason, and when
/// the server is disposed the kernel's accounting must be back to where it started, with both tasks still alive.
/// </summary>
// The leak check is kernel-wide, so this runs alone (the Kernel collection is not run in parallel with anything).
[Collection("Kernel")]
public sealed unsafe class HostileInputTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("server under attack");
    private readonly SimulatedTask _attacker = SimulatedMach.CreateTask("attacker");

    public void Dispose()
    {
        _serverTask.Dispose();
        _attacker.Dispose();
    }

    /// <summary>One hostile message: a shape to start from and the mutations to apply to it.</summary>
    private sealed record Attack(int Shape, int Id, int SizeDelta, bool FlipComplex, int DescriptorCount, byte DescriptorType,
        byte Disposition, int OolSize, int FlipOffset, byte FlipValue, bool WithReplyPort);

    private static readonly Gen<Attack> Attacks =
        from shape in Gen.Int[0, 3]
        from id in Gen.OneOf(Gen.Const(EchoRequest.MsgId), Gen.Const(CarriesPort.MsgId), Gen.Int[64, 72], Gen.Int)
        from sizeDelta in Gen.OneOf(Gen.Const(0), Gen.Int[-4, 4].Select(d => d * 4))
        from flipComplex in Gen.Bool
        from count in Gen.Int[0, 3]
        from type in Gen.OneOf(Gen.Byte[0, 4], Gen.Byte)
        from disposition in Gen.OneOf(Gen.Byte[16, 21], Gen.Byte)
        from oolSize in Gen.Int[0, 8192]
        from flipOffset in Gen.Int[0, 127]
        from flipValue in Gen.Byte
        from reply in Gen.Bool
        select new Attack(shape, id, sizeDelta, flipComplex, count, type, disposition, oolSize, flipOffset, flipValue, reply);

    [Fact]
    public void RandomAndMutatedMessages_NeverStopTheServer_AndLeaveNoRightsBehind()
    {
        var before = SimulatedMach.Snapshot();
        var serverRights = _serverTask.Rights();
        var attackerRights = _attacker.Rights();
        string service = "org.machipc.tests.hostile." + Guid.NewGuid().ToString("N");
        var handlers = new EchoServer();
        MachServer server;
        using (_serverTask.Enter())
        {
            server = MachServer.CheckIn(service, handlers);
            server.Start();
        }

        int sent = 0;
        using (_attacker.Enter())
        using (var target = BootstrapServer.LookUp(service))
        using (var victimPort = ReceiveRight.Allocate())
        using (var replies = ReceiveRight.Allocate())
        {
            byte* ool = stackalloc byte[8192];
            Attacks.Sample(attack =>
            {
                if (Send(attack, target.Name, victimPort.Name, replies.Name, ool) == MachMsgReturn.Success)
                {
                    sent++;
                }
                Drain(replies.Name);
            }, iter: 400, threads: 1);

            // Still serving: a well-formed request gets its answer.
            using var client = new MachRpcClient(target.Copy());
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(request, out var reply, out _, out var result);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(2, reply.Value);
            Drain(replies.Name);
        }

        using (_serverTask.Enter())
        {
            server.Stop();
        }
        Assert.True(sent > 50, $"only {sent} hostile messages got past the kernel's own checks");
        Assert.Null(server.Fault);
        var m = server.Metrics;
        // Every message received was either handled or rejected with a reason (or was a genuine notification).
        Assert.Equal(m.Received, m.Dispatched + m.Rejected + m.Notifications);
        Assert.True(m.Rejected > 0);
        Assert.Equal(m.Rejected, m.RejectedByReason.Values.Sum());
        using (_serverTask.Enter())
        {
            server.Dispose();
        }
        // Both tasks are still alive: a task's death would release whatever it leaked and hide it.
        SimulatedMach.Snapshot().AssertNoLeaksSince(before);
        Assert.Equal(serverRights, _serverTask.Rights());
        Assert.Equal(attackerRights, _attacker.Rights());
    }

    private static MachMsgReturn Send(Attack a, uint target, uint victimPort, uint replies, byte* ool)
    {
        const int Capacity = 160;
        byte* buffer = stackalloc byte[Capacity];
        new Span<byte>(buffer, Capacity).Clear();
        var header = (MachMsgHeader*)buffer;
        bool complex = a.Shape != 0;
        int size = MachMsgHeader.SizeOf + 8;
        if (complex)
        {
            var body = (MachMsgBody*)(buffer + MachMsgHeader.SizeOf);
            body->DescriptorCount = (uint)a.DescriptorCount;
            byte* d = buffer + MachMsgBase.SizeOf;
            for (int i = 0; i < a.DescriptorCount; i++)
            {
                if (a.Shape == 2 && i == 0)
                {
                    var desc = (MachMsgOolDescriptor*)d;
                    desc->Address = (ulong)ool;
                    desc->Size = (uint)a.OolSize;
                    desc->Copy = MachMsgCopy.Physical;
                    desc->Type = (MachMsgDescriptorType)a.DescriptorType;
                    d += MachMsgOolDescriptor.SizeOf;
                }
                else
                {
                    var desc = (MachMsgPortDescriptor*)d;
                    desc->Name = victimPort;
                    desc->Disposition = (MachMsgType)a.Disposition;
                    desc->Type = a.Shape == 3 ? (MachMsgDescriptorType)a.DescriptorType : MachMsgDescriptorType.Port;
                    d += MachMsgPortDescriptor.SizeOf;
                }
            }
            size = (int)(d - buffer) + 8;
        }
        size = Math.Clamp(size + a.SizeDelta, MachMsgHeader.SizeOf, Capacity - 4) & ~3;
        header->Bits = MachMsgBits.Make(MachMsgType.CopySend, a.WithReplyPort ? MachMsgType.MakeSendOnce : MachMsgType.None, MachMsgType.None, complex ^ a.FlipComplex);
        header->Size = (uint)size;
        header->RemotePort = target;
        header->LocalPort = a.WithReplyPort ? replies : 0;
        header->Id = a.Id;
        if (a.FlipOffset >= MachMsgHeader.SizeOf && a.FlipOffset < size)
        {
            buffer[a.FlipOffset] ^= a.FlipValue;
        }
        var mr = Mach.Msg(header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, (uint)size, 0, 0, 100, 0);
        if (mr is MachMsgReturn.SendTimedOut or MachMsgReturn.SendInterrupted or MachMsgReturn.SendNoBuffer)
        {
            // The kernel handed the rights back (A36): release them as a sender must.
            Mach.MsgDestroy(header);
        }
        return mr;
    }

    private static void Drain(uint port)
    {
        byte* buffer = stackalloc byte[256];
        while (Mach.Msg((MachMsgHeader*)buffer, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 0, 0) == MachMsgReturn.Success)
        {
            Mach.MsgDestroy((MachMsgHeader*)buffer);
        }
    }
}
