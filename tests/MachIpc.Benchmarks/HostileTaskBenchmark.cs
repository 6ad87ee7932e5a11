using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Benchmarks.Harness;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Benchmarks;

/// <summary>
/// One task attacking its own IPC space while other tasks exchange messages: does the attack cost the attacker an
/// error, and the others nothing? The attacker's thread loops over the high-name insert
/// (<c>mach_port_insert_right</c> at 0xFFFFFE03), an insert at the last name the table allows (which grows its
/// table to XNU's full 305,834 entries once), allocating ports until KERN_NO_SPACE and freeing them, and flooding
/// a port of its own with out-of-line messages until MACH_SEND_NO_BUFFER. Victims are independent pairs (as in
/// the RoundTrip table); their round-trip latency is measured side by side with and without the attacker, in
/// alternating repetitions. Reports medians with [min–max]; "max" is the slowest single victim round trip.
/// </summary>
internal static unsafe class HostileTaskBenchmark
{
    public static string Run(int reps, int pairs)
    {
        var table = new Table("victims", "attacker", "victim p50 µs", "victim p99 µs", "victim max µs", "victim round trips/s",
            "attacker calls/s", "attacker results");
        using var victims = new SimulatorPairs(16);
        victims.Start(pairs);
        victims.Measure(200);
        int perPair = Calibrate.PerPair(victims.Seconds, Math.Max(2, 400 / pairs), 2, 200_000);
        var quiet = new List<(Sample S, double Max)>();
        var attacked = new List<(Sample S, double Max)>();
        var attacks = new List<double>();
        var codes = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int rep = 0; rep < reps; rep++)
        {
            quiet.Add(Measure(victims, perPair));
            using var attacker = new Attacker();
            attacker.Start();
            attacked.Add(Measure(victims, perPair));
            attacks.Add(attacker.Stop(codes));
        }
        string results = string.Join(", ", codes.Select(kv => $"{kv.Key} ×{kv.Value}"));
        table.Row(pairs.ToString(CultureInfo.InvariantCulture), "none",
            Spread.Of(quiet.Select(x => x.S.P50Us)).Format("F2"), Spread.Of(quiet.Select(x => x.S.P99Us)).Format("F1"),
            Spread.Of(quiet.Select(x => x.Max)).Format("F0"), Spread.Of(quiet.Select(x => x.S.PerSecond)).Format("F0"), "", "");
        table.Row(pairs.ToString(CultureInfo.InvariantCulture), "attacking its own space",
            Spread.Of(attacked.Select(x => x.S.P50Us)).Format("F2"), Spread.Of(attacked.Select(x => x.S.P99Us)).Format("F1"),
            Spread.Of(attacked.Select(x => x.Max)).Format("F0"), Spread.Of(attacked.Select(x => x.S.PerSecond)).Format("F0"),
            Spread.Of(attacks).Format("F0"), results);
        Console.Error.WriteLine($"  hostile task, {pairs} victim pairs done");
        return table.ToString();
    }

    private static (Sample, double) Measure(SimulatorPairs victims, int perPair)
    {
        var lat = new long[(long)perPair * victims.Count];
        Sample s = Sample.Take(lat.Length, lat, () => victims.Run(perPair, lat));
        return (s, lat[^1] * 1e6 / Stopwatch.Frequency);
    }

    /// <summary>The hostile task: its own thread, its own space, every call checked for the error XNU would give.</summary>
    private sealed class Attacker : IDisposable
    {
        private readonly SimulatedTask _task = SimulatedMach.CreateTask("attacker");
        private readonly Dictionary<string, long> _codes = new(StringComparer.Ordinal);
        private Thread? _thread;
        private volatile bool _stop;
        private long _calls;
        private readonly Stopwatch _clock = new();

        public void Start()
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "attacker" };
            _clock.Start();
            _thread.Start();
        }

        private void Count(string what, int code)
        {
            string key = what + " " + (code == 0 ? "ok" : "0x" + code.ToString("x", CultureInfo.InvariantCulture));
            _codes[key] = _codes.GetValueOrDefault(key) + 1;
            _calls++;
        }

        private void Loop()
        {
            using var scope = _task.Enter();
            uint port;
            Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &port);
            Mach.PortInsertRight(Mach.TaskSelf, port, port, MachMsgType.MakeSend);
            int q = (int)MachPortLimits.QLimitMax;
            Mach.PortSetAttributes(Mach.TaskSelf, port, MachPortLimits.LimitsInfoFlavor, &q, 1);
            _task.Vm.Quota = 64L << 20; // a smaller quota so the flood reaches it quickly
            uint last = (uint)(IpcSpace.TableCountMax - 1) << 8 | 3;
            byte* region = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(1 << 20);
            byte* msg = stackalloc byte[64];
            byte* buf = stackalloc byte[256];
            var names = new List<uint>();
            while (!_stop)
            {
                Count("insert_right 0xFFFFFE03", (int)Mach.PortInsertRight(Mach.TaskSelf, 0xFFFFFE03, port, MachMsgType.MakeSendOnce));
                KernReturn kr = Mach.PortInsertRight(Mach.TaskSelf, last, port, MachMsgType.MakeSendOnce);
                Count("insert_right at the last index", (int)kr);
                if (kr == KernReturn.Success)
                {
                    Mach.PortDeallocate(Mach.TaskSelf, last);
                }
                // Allocate until the table is full (a burst at a time, so the loop stays responsive).
                for (int i = 0; i < 5000; i++)
                {
                    uint n;
                    kr = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &n);
                    if (kr != KernReturn.Success)
                    {
                        Count("port_allocate", (int)kr);
                        foreach (uint d in names)
                        {
                            Mach.PortDeallocate(Mach.TaskSelf, d);
                        }
                        names.Clear();
                        break;
                    }
                    names.Add(n);
                }
                // Queue 1 MiB regions on its own port until the quota says no, then drain them.
                while (true)
                {
                    var h = (MachMsgHeader*)msg;
                    *h = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.CopySend, 0) | MachMsgBits.Complex, Size = 44, RemotePort = port, Id = 1 };
                    *(uint*)(msg + 24) = 1;
                    *(MachMsgOolDescriptor*)(msg + 28) = new MachMsgOolDescriptor { Address = (ulong)region, Size = 1 << 20, Copy = MachMsgCopy.Virtual, Type = MachMsgDescriptorType.Ool };
                    MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, 44, 0, 0, 0, 0);
                    if (mr != MachMsgReturn.Success)
                    {
                        Count("send 1 MiB OOL", (int)mr);
                        break;
                    }
                }
                while (Mach.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 0, 0) == MachMsgReturn.Success)
                {
                    Mach.MsgDestroy((MachMsgHeader*)buf);
                }
            }
            System.Runtime.InteropServices.NativeMemory.Free(region);
        }

        public double Stop(SortedDictionary<string, long> codes)
        {
            _stop = true;
            _thread?.Join();
            foreach (KeyValuePair<string, long> kv in _codes)
            {
                codes[kv.Key] = codes.GetValueOrDefault(kv.Key) + kv.Value;
            }
            return _calls / _clock.Elapsed.TotalSeconds;
        }

        public void Dispose()
        {
            _stop = true;
            _thread?.Join();
            _task.Terminate();
        }
    }
}
