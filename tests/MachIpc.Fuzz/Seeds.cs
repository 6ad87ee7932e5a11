using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Fuzz.Messages;
using MachIpc.Fuzz.Targets;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;

namespace MachIpc.Fuzz;

/// <summary>
/// The seed corpus, made by the real encoders: generated <c>Prepare</c> for messages, the simulated kernel for what a
/// receiver finds in its buffer (trailer included), and <see cref="FrameWriter"/> for kernel-socket frames laid out as
/// <see cref="RemoteKernel"/> writes them (PROTOCOL.md). Names come from the same staging the targets do.
/// </summary>
public static unsafe class Seeds
{
    private static readonly SimulatedKernel Kernel = SimulatedKernel.Shared;

    public static void Write(string directory)
    {
        Emit(directory, "validators", Validators());
        Emit(directory, "copyin", CopyIn());
        Emit(directory, "wire", WireStreams());
    }

    private static void Emit(string directory, string target, IEnumerable<(string Name, byte[] Bytes)> seeds)
    {
        string dir = Path.Combine(directory, target);
        Directory.CreateDirectory(dir);
        foreach ((string name, byte[] bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
    }

    // ---- messages, as a sender lays them out -------------------------------------------------------------

    private static List<(string Name, byte[] Message)> Messages(CopyInTarget.Names n)
    {
        var seeds = new List<(string Name, byte[] Message)>();
        var simple = new FuzzSimple { Value = 7, Stamp = 42 };
        simple.Prepare(n.VictimSend);
        seeds.Add(("simple", Bytes(ref simple, FuzzSimple.SendSize)));

        var all = new FuzzCarriesAll { Tag = 3 };
        all.Prepare(n.VictimSend, n.OwnReceive);
        all.SendPort.Name = n.OwnReceive;
        all.SendOncePort.Name = n.OwnReceive;
        all.ReceivePort.Name = n.OtherReceive;
        all.Data.Address = CopyInTarget.OolAddress;
        all.Data.Size = 100;
        all.Ports.Address = CopyInTarget.OolAddress + CopyInTarget.OolNamesOffset;
        all.Ports.Count = 2;
        seeds.Add(("carries-all", Bytes(ref all, FuzzCarriesAll.SendSize)));

        var variable = new FuzzVariable { Length = 5 };
        variable.Prepare(n.VictimSend, n.OwnReceive);
        "hello"u8.CopyTo(new Span<byte>(variable.Text, 64));
        variable.Header.Size = 28 + 8;
        seeds.Add(("variable", Bytes(ref variable, 28 + 8)));

        var withPort = new FuzzVariableWithPort { Cookie = 0xfeed };
        withPort.Prepare(n.VictimSend);
        withPort.Port.Name = n.OwnReceive;
        seeds.Add(("variable-with-port", Bytes(ref withPort, FuzzVariableWithPort.SendSize)));

        var natural = new FuzzNatural { Flag = 1, Aligned = 9 };
        natural.Prepare(n.VictimSend);
        natural.Blob.Address = CopyInTarget.OolAddress;
        natural.Blob.Size = 64;
        seeds.Add(("natural", Bytes(ref natural, FuzzNatural.SendSize)));
        return seeds;
    }

    private static byte[] Bytes<T>(ref T message, int size) where T : unmanaged =>
        MemoryMarshal.AsBytes(new Span<T>(ref message))[..size].ToArray();

    // ---- copyin: u32 option, then the message ------------------------------------------------------------

    private static IEnumerable<(string, byte[])> CopyIn()
    {
        CopyInTarget.MapOolRegion();
        var seeds = new List<(string, byte[])>();
        WithStage(n =>
        {
            foreach ((string name, byte[] message) in Messages(n))
            {
                seeds.Add((name, [.. Option(MachMsgOption.SendMsg), .. message]));
                // The same message sent to the attacker's own port and received back in one call (with an audit trailer).
                byte[] own = (byte[])message.Clone();
                MemoryMarshal.Cast<byte, MachMsgHeader>(own.AsSpan())[0].RemotePort = n.OwnReceive;
                seeds.Add((name + "-rpc-self", [.. Option(MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachTrailerRequest.Option(MachTrailerElements.Audit)), .. own]));
            }
        });
        return seeds;
    }

    private static byte[] Option(MachMsgOption option) => BitConverter.GetBytes((uint)option);

    private static void WithStage(Action<CopyInTarget.Names> body)
    {
        SimulatedTask attacker = Kernel.CreateTask("seed sender", null, null);
        SimulatedTask victim = Kernel.CreateTask("seed receiver", null, null);
        try
        {
            body(CopyInTarget.Stage(attacker, victim));
        }
        finally
        {
            attacker.Terminate();
            victim.Terminate();
        }
    }

    // ---- validators: what the kernel writes into a receiver's buffer -------------------------------------

    private static IEnumerable<(string, byte[])> Validators()
    {
        CopyInTarget.MapOolRegion();
        var seeds = new List<(string, byte[])>();
        SimulatedTask attacker = Kernel.CreateTask("seed sender", null, null);
        SimulatedTask victim = Kernel.CreateTask("seed receiver", null, null);
        try
        {
            CopyInTarget.Names n = CopyInTarget.Stage(attacker, victim);
            foreach ((string name, byte[] message) in Messages(n))
            {
                MachTrailerElements trailer = name switch
                {
                    "variable-with-port" => FuzzVariableWithPort.TrailerElements,
                    "natural" => FuzzNatural.TrailerElements,
                    _ => MachTrailerElements.Audit,
                };
                fixed (byte* m = message)
                {
                    using (attacker.Enter())
                    {
                        Check(Kernel.Msg((MachMsgHeader*)m, MachMsgOption.SendMsg, (uint)message.Length, 0, 0, 0, 0));
                    }
                }
                var buffer = new byte[4096];
                fixed (byte* b = buffer)
                {
                    using (victim.Enter())
                    {
                        var option = MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | MachTrailerRequest.Option(trailer);
                        Check(Kernel.Msg((MachMsgHeader*)b, option, 0, (uint)buffer.Length, n.VictimPort, 0, 0));
                        int end = (int)MachTrailerRequest.RoundMsg(((MachMsgHeader*)b)->Size) + MachTrailerRequest.SizeOf(trailer);
                        seeds.Add((name, buffer[..end]));
                        ReceivedMessage.Destroy((MachMsgHeader*)b);
                    }
                }
            }
        }
        finally
        {
            attacker.Terminate();
            victim.Terminate();
        }
        return seeds;
    }

    private static void Check(MachMsgReturn mr)
    {
        if (mr != MachMsgReturn.Success)
        {
            throw new InvalidOperationException($"seed message: {mr}");
        }
    }

    // ---- wire: streams of request frames, as RemoteKernel writes them -------------------------------------

    private static List<(string, byte[])> WireStreams()
    {
        var seeds = new List<(string, byte[])>();
        // The names a fresh client task gets, in order (the target's task is just as fresh).
        uint self, bootstrap, first, second;
        SimulatedTask probe = Kernel.CreateTask("seed client", null, null);
        try
        {
            self = probe.SelfName;
            bootstrap = probe.BootstrapName;
            using (probe.Enter())
            {
                uint a, b;
                Kernel.PortAllocate(self, MachPortRight.Receive, &a);
                Kernel.PortAllocate(self, MachPortRight.Receive, &b);
                (first, second) = (a, b);
            }
        }
        finally
        {
            probe.Terminate();
        }
        var w = new FrameWriter();
        var stream = new List<byte>();
        void Frame(Wire.Op op, Action body)
        {
            w.BeginRequest(op);
            body();
            w.End();
            stream.AddRange(w.Buffer.AsSpan(0, w.Length).ToArray());
        }
        byte[] Take()
        {
            byte[] bytes = [.. stream];
            stream.Clear();
            return bytes;
        }
        void Allocate() => Frame(Wire.Op.PortAllocate, () => { w.U32(self); w.U32((uint)MachPortRight.Receive); });

        Allocate();
        Frame(Wire.Op.PortInsertRight, () => { w.U32(self); w.U32(first); w.U32(first); w.U32((uint)MachMsgType.MakeSend); });
        Frame(Wire.Op.PortGetRefs, () => { w.U32(self); w.U32(first); w.U32((uint)MachPortRight.Send); });
        Frame(Wire.Op.PortType, () => { w.U32(self); w.U32(first); });
        Frame(Wire.Op.PortModRefs, () => { w.U32(self); w.U32(first); w.U32((uint)MachPortRight.Send); w.I32(1); });
        Frame(Wire.Op.PortExtractRight, () => { w.U32(self); w.U32(first); w.U32((uint)MachMsgType.MakeSendOnce); });
        Frame(Wire.Op.PortDeallocate, () => { w.U32(self); w.U32(first); });
        Frame(Wire.Op.PortDestroy, () => { w.U32(self); w.U32(first); });
        seeds.Add(("port-calls", Take()));

        Allocate();
        Frame(Wire.Op.PortRequestNotification, () => { w.U32(self); w.U32(first); w.I32(MachNotify.NoSenders); w.U32(0); w.U32(first); w.U32((uint)MachMsgType.MakeSendOnce); });
        Frame(Wire.Op.PortSetAttributes, () => { w.U32(self); w.U32(first); w.I32(1); w.U32(1); w.I32(8); });
        Frame(Wire.Op.PortGetAttributes, () => { w.U32(self); w.U32(first); w.I32(1); w.U32(1); });
        Frame(Wire.Op.PortNames, () => w.U32(self));
        Frame(Wire.Op.PidForTask, () => w.U32(self));
        Frame(Wire.Op.TaskGetSpecialPort, () => { w.U32(self); w.I32(4); });
        seeds.Add(("attributes-and-notifications", Take()));

        Allocate();
        Frame(Wire.Op.PortAllocate, () => { w.U32(self); w.U32(3); }); // a port set
        Frame(Wire.Op.PortInsertMember, () => { w.U32(self); w.U32(first); w.U32(second); });
        Frame(Wire.Op.PortExtractMember, () => { w.U32(self); w.U32(first); w.U32(second); });
        Frame(Wire.Op.PortMoveMember, () => { w.U32(self); w.U32(first); w.U32(second); });
        Frame(Wire.Op.PortConstruct, () => { w.U32(self); w.U32(0); w.U32(5); w.U64(0); w.U64(0); w.U64(0x1234); });
        seeds.Add(("port-sets", Take()));

        // A message with a port and an out-of-line region to the client's own port, then its receipt.
        Allocate();
        Frame(Wire.Op.PortInsertRight, () => { w.U32(self); w.U32(first); w.U32(first); w.U32((uint)MachMsgType.MakeSend); });
        var all = new FuzzCarriesAll { Tag = 3 };
        all.Prepare(first, 0);
        all.Header.Bits = MachMsgBits.Make(MachMsgType.CopySend, 0) | MachMsgBits.Complex;
        all.SendPort.Name = first;
        all.SendOncePort.Name = first;
        all.ReceivePort.Name = 0;
        all.Data.Size = 16;
        all.Ports.Count = 0;
        byte[] message = Bytes(ref all, FuzzCarriesAll.SendSize);
        Frame(Wire.Op.Msg, () =>
        {
            w.U32((uint)MachMsgOption.SendMsg);
            w.U32((uint)message.Length);
            w.U32(0);
            w.U32(0);
            w.U32(0);
            w.U32(0);
            w.U32(0);
            w.Bytes(message);
            w.U32(2); // two out-of-line descriptors: the region's bytes, and an empty port array
            w.U8((byte)Wire.RegionKind.Data);
            w.U32(16);
            w.Bytes("0123456789abcdef"u8);
            w.U8((byte)Wire.RegionKind.Data);
            w.U32(0);
        });
        Frame(Wire.Op.Msg, () =>
        {
            w.U32((uint)(MachMsgOption.RcvMsg | MachTrailerRequest.Option(MachTrailerElements.Audit)));
            w.U32(0);
            w.U32(1024);
            w.U32(first);
            w.U32(0);
            w.U32(0);
            w.U32(0);
            w.Bytes(new byte[RemoteKernel.PrefixLength(MachMsgOption.RcvMsg, 0, 1024)]);
        });
        Frame(Wire.Op.MsgDestroyOps, () => { w.U32(1); w.U8(0); w.U32(first); w.U32((uint)MachMsgType.MoveSend); });
        seeds.Add(("message-round-trip", Take()));

        Frame(Wire.Op.BootstrapCheckIn, () => { w.U32(bootstrap); w.U32(8); w.Bytes("org.fuzz"u8); });
        Frame(Wire.Op.BootstrapLookUp, () => { w.U32(bootstrap); w.U32(8); w.Bytes("org.fuzz"u8); });
        Frame(Wire.Op.VmDeallocate, () => { w.U32(self); w.U64(0x1000); w.U64(4096); });
        Frame(Wire.Op.FileportMakeFd, () => w.U32(0));
        seeds.Add(("bootstrap-and-vm", Take()));
        return seeds;
    }
}
