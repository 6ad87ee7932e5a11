using System;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;

namespace MachIpc.Benchmarks.Harness;

/// <summary>How a round trip carries its data.</summary>
internal enum Payload
{
    /// <summary>Inline bytes after the header.</summary>
    Inline,
    /// <summary>One out-of-line region, <c>deallocate = FALSE</c>: the kernel copies the bytes once per send.</summary>
    OolCopy,
    /// <summary>One out-of-line region the sender received earlier, sent with <c>deallocate = TRUE</c> (ownership moves).</summary>
    OolMove,
}

/// <summary>
/// N independent pairs through the simulated kernel, as N client tasks and N server tasks: each server task
/// checks in its own service port and runs a MIG-style loop on its own thread (one combined SEND|RCV mach_msg
/// that replies and waits for the next request); each client task sends with a MAKE_SEND_ONCE reply right and
/// receives on its own reply port in one combined SEND|RCV. No port, task or thread is shared between pairs.
/// </summary>
/// <remarks>
/// On the Darwin backend (<c>MACHIPC_KERNEL=darwin</c>, a process of its own: <see cref="ChildProcessPairs"/>) the
/// same loops run as threads of this process's one task, with the same messages and ports, since a process is
/// one task there; every call goes through libmachipc_system.so to the kernel host.
/// </remarks>
internal sealed unsafe class SimulatorPairs : Pairs
{
    private const int Trailer = 68;
    private readonly int _inline;
    private readonly Payload _payload;
    private readonly int _oolBytes;
    private readonly string _prefix = $"org.machipc.bench.{Environment.ProcessId}.{Guid.NewGuid():N}.";
    private Pair[] _pairs = [];

    private sealed class Pair
    {
        public SimulatedTask? Server, Client; // null on the Darwin backend: one task per process
        public uint Service, Reply;
        public byte* Buf;
        public byte* Own;     // OolCopy: the client's own region
        public ulong Region;  // OolMove: the region the client holds
        public Thread? Thread;
        public IDisposable? Scope;
    }

    public SimulatorPairs(int inlineBytes, Payload payload = Payload.Inline, int oolBytes = 0)
    {
        if (!string.Equals(Environment.GetEnvironmentVariable(Mach.BackendVariable), "darwin", StringComparison.OrdinalIgnoreCase))
        {
            Environment.SetEnvironmentVariable(Mach.BackendVariable, "simulated");
        }
        _inline = inlineBytes;
        _payload = payload;
        _oolBytes = oolBytes;
    }

    public override string Name => _payload switch
    {
        Payload.OolCopy => "simulated Mach, OOL deallocate=FALSE",
        Payload.OolMove => "simulated Mach, OOL deallocate=TRUE",
        _ => "simulated Mach",
    };

    private int SendSize => _payload == Payload.Inline ? MachMsgHeader.SizeOf + _inline : MachMsgBase.SizeOf + MachMsgOolDescriptor.SizeOf;
    private int BufSize => SendSize + Trailer + 64;

    protected override void StartServer(int index)
    {
        if (_pairs.Length == 0)
        {
            _pairs = new Pair[Count];
        }
        var p = _pairs[index] = Mach.IsDarwin ? new Pair() : new Pair
        {
            Server = SimulatedMach.CreateTask("bench-server-" + index),
            Client = SimulatedMach.CreateTask("bench-client-" + index),
        };
        using var ready = new ManualResetEventSlim();
        p.Thread = Server("mach-server-" + index, () => ServerLoop(p, index, ready));
        ready.Wait();
    }

    private void ServerLoop(Pair p, int index, ManualResetEventSlim ready)
    {
        using IDisposable? scope = p.Server?.Enter();
        uint service = BootstrapServer.CheckIn(_prefix + index).TakeName();
        int q = (int)MachPortLimits.QLimitMax;
        Mach.PortSetAttributes(Mach.TaskSelf, service, MachPortLimits.LimitsInfoFlavor, &q, 1);
        ready.Set();
        byte* buf = (byte*)NativeMemory.AllocZeroed((nuint)BufSize);
        var h = (MachMsgHeader*)buf;
        try
        {
            if (Mach.Msg(h, MachMsgOption.RcvMsg, 0, (uint)BufSize, service, 0, 0) != MachMsgReturn.Success)
            {
                return;
            }
            while (true)
            {
                ulong received = _payload == Payload.Inline ? 0 : ((MachMsgOolDescriptor*)(buf + MachMsgBase.SizeOf))->Address;
                h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0) | (h->Bits & MachMsgBits.Complex);
                h->LocalPort = MachPortName.Null;
                h->Size = (uint)SendSize;
                h->Id += 100;
                if (_payload != Payload.Inline)
                {
                    // Echo the region just received; with deallocate = TRUE the kernel takes it from this task.
                    var d = (MachMsgOolDescriptor*)(buf + MachMsgBase.SizeOf);
                    d->Deallocate = _payload == Payload.OolMove ? (byte)1 : (byte)0;
                    d->Copy = MachMsgCopy.Virtual;
                }
                MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, (uint)SendSize, (uint)BufSize, service, 0, 0);
                if (_payload == Payload.OolCopy && received != 0)
                {
                    Mach.VmDeallocate(Mach.TaskSelf, received, (ulong)_oolBytes);
                }
                if (mr != MachMsgReturn.Success)
                {
                    return; // the task died (benchmark over)
                }
            }
        }
        finally
        {
            NativeMemory.Free(buf);
        }
    }

    protected override void ClientSetup(int index)
    {
        Pair p = _pairs[index];
        p.Scope = p.Client?.Enter();
        p.Service = BootstrapServer.LookUp(_prefix + index).TakeName();
        p.Reply = ReceiveRight.Allocate().TakeName();
        p.Buf = (byte*)NativeMemory.AllocZeroed((nuint)BufSize);
        if (_payload != Payload.Inline)
        {
            p.Own = (byte*)NativeMemory.Alloc((nuint)_oolBytes);
            new Span<byte>(p.Own, _oolBytes).Fill(0x5a);
        }
        if (_payload == Payload.OolMove)
        {
            // The first send is a copy; from then on the client sends back the region it was handed.
            Exchange(p, (ulong)p.Own, deallocate: false);
            p.Region = Received(p);
        }
    }

    protected override void RoundTrip(int index)
    {
        Pair p = _pairs[index];
        switch (_payload)
        {
            case Payload.Inline:
                Exchange(p, 0, false);
                break;
            case Payload.OolCopy:
                Exchange(p, (ulong)p.Own, deallocate: false);
                Mach.VmDeallocate(Mach.TaskSelf, Received(p), (ulong)_oolBytes);
                break;
            case Payload.OolMove:
                Exchange(p, p.Region, deallocate: true);
                p.Region = Received(p);
                break;
        }
    }

    private void Exchange(Pair p, ulong region, bool deallocate)
    {
        var h = (MachMsgHeader*)p.Buf;
        h->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce);
        h->Size = (uint)SendSize;
        h->RemotePort = p.Service;
        h->LocalPort = p.Reply;
        h->VoucherPort = 0;
        h->Id = 500;
        if (_payload != Payload.Inline)
        {
            h->Bits |= MachMsgBits.Complex;
            *(uint*)(p.Buf + MachMsgHeader.SizeOf) = 1;
            var d = (MachMsgOolDescriptor*)(p.Buf + MachMsgBase.SizeOf);
            *d = default;
            d->Address = region;
            d->Size = (uint)_oolBytes;
            d->Deallocate = deallocate ? (byte)1 : (byte)0;
            d->Copy = MachMsgCopy.Virtual;
            d->Type = MachMsgDescriptorType.Ool;
        }
        MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, (uint)SendSize, (uint)BufSize, p.Reply, 0, 0);
        if (mr != MachMsgReturn.Success || h->Id != 600)
        {
            throw new InvalidOperationException($"round trip failed: {mr}");
        }
    }

    private ulong Received(Pair p)
    {
        var d = (MachMsgOolDescriptor*)(p.Buf + MachMsgBase.SizeOf);
        var bytes = (byte*)d->Address;
        if (bytes is null || d->Size != (uint)_oolBytes || bytes[0] != 0x5a || bytes[_oolBytes - 1] != 0x5a)
        {
            throw new InvalidOperationException("out-of-line bytes did not arrive");
        }
        return d->Address;
    }

    protected override void ClientTeardown(int index)
    {
        Pair p = _pairs[index];
        NativeMemory.Free(p.Buf);
        if (p.Own is not null)
        {
            NativeMemory.Free(p.Own);
        }
        p.Scope?.Dispose();
    }

    protected override void StopServers()
    {
        foreach (Pair p in _pairs)
        {
            if (p.Server is null)
            {
                // One task: the client's send right and the server's receive right share the service's name.
                // Destroying the port ends the server's receive (MACH_RCV_PORT_DIED) and its thread.
                Mach.PortDestroy(Mach.TaskSelf, p.Service);
                Mach.PortModRefs(Mach.TaskSelf, p.Reply, MachPortRight.Receive, -1);
            }
            else
            {
                p.Client!.Terminate();
                p.Server.Terminate(); // task death: the server's receive returns and its thread ends
            }
            p.Thread?.Join();
        }
    }
}
