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
/// error, and the others nothing? Victims are independent pairs (as in the RoundTrip table); their round trips are
/// measured with no attacker and under each attack, in alternating repetitions, and the table gives medians with
/// [min–max], "max" being the slowest single victim round trip of a repetition. The attacks, each a thread of one
/// hostile task looping as fast as it can:
/// <list type="bullet">
/// <item>high names: <c>mach_port_insert_right</c> at 0xFFFFFE03 (the 16M-entry table) and at the last
/// index XNU's table allows (the table does grow to 305,834 entries, once);</item>
/// <item>table fill: <c>mach_port_allocate</c> until KERN_NO_SPACE, then free everything, again and again;</item>
/// <item>queue flood: 64 KiB out-of-line messages to a port of its own until its memory quota (16 MiB here) answers
/// MACH_SEND_NO_BUFFER, then drain.</item>
/// </list>
/// On two cores the attacker also takes CPU time from the victims; what must not happen is a victim's call waiting
/// on the attacker (the issue measured stalls of up to 1 s). The GC column shows the stop-the-world pauses of the
/// collector, which every task in the process shares.
/// </summary>
internal static unsafe class HostileTaskBenchmark
{
    private enum Attack
    {
        HighNames,
        TableFill,
        QueueFlood,
    }

    public static string Run(int reps, int pairs)
    {
        var table = new Table("victims", "attacker", "victim p50 µs", "victim p99 µs", "victim max µs", "victim round trips/s",
            "GC pauses ms", "attacker calls/s", "attacker results");
        using var victims = new SimulatorPairs(16);
        victims.Start(pairs);
        victims.Measure(200);
        int perPair = Calibrate.PerPair(victims.Seconds, Math.Max(2, 400 / pairs), 2, 200_000);
        Attack[] attacks = [Attack.HighNames, Attack.TableFill, Attack.QueueFlood];
        var attackers = attacks.Select(a => new Attacker(a)).ToArray();
        var quiet = new List<Rep>();
        var attacked = attacks.Select(_ => new List<Rep>()).ToArray();
        try
        {
            for (int rep = 0; rep < reps; rep++)
            {
                quiet.Add(Measure(victims, perPair, null));
                for (int a = 0; a < attacks.Length; a++)
                {
                    attacked[a].Add(Measure(victims, perPair, attackers[a]));
                }
            }
        }
        finally
        {
            foreach (Attacker a in attackers)
            {
                a.Dispose();
            }
        }
        Row(table, pairs, "none", quiet, "");
        for (int a = 0; a < attacks.Length; a++)
        {
            Row(table, pairs, attackers[a].Name, attacked[a], attackers[a].Results());
        }
        Console.Error.WriteLine($"  hostile task, {pairs} victim pairs done");
        return table.ToString();
    }

    private readonly record struct Rep(Sample Victims, double MaxUs, double GcMs, double AttackerCalls);

    private static void Row(Table table, int pairs, string attacker, List<Rep> reps, string results) =>
        table.Row(pairs.ToString(CultureInfo.InvariantCulture), attacker,
            Spread.Of(reps.Select(x => x.Victims.P50Us)).Format("F2"), Spread.Of(reps.Select(x => x.Victims.P99Us)).Format("F1"),
            Spread.Of(reps.Select(x => x.MaxUs)).Format("F0"), Spread.Of(reps.Select(x => x.Victims.PerSecond)).Format("F0"),
            Spread.Of(reps.Select(x => x.GcMs)).Format("F1"),
            results.Length == 0 ? "" : Spread.Of(reps.Select(x => x.AttackerCalls)).Format("F0"), results);

    /// <summary>One repetition, with <paramref name="attacker"/> running throughout (or none).</summary>
    private static Rep Measure(SimulatorPairs victims, int perPair, Attacker? attacker)
    {
        var lat = new long[(long)perPair * victims.Count];
        attacker?.Start();
        TimeSpan gc0 = GC.GetTotalPauseDuration();
        Sample s = Sample.Take(lat.Length, lat, () => victims.Run(perPair, lat));
        double gc = (GC.GetTotalPauseDuration() - gc0).TotalMilliseconds;
        double calls = attacker?.Stop() ?? 0;
        return new Rep(s, lat[^1] * 1e6 / Stopwatch.Frequency, gc, calls);
    }

    /// <summary>The hostile task: its own thread, its own space, every result counted by the code XNU would give.</summary>
    private sealed class Attacker : IDisposable
    {
        private const int Region = 64 * 1024;
        private readonly Attack _attack;
        private readonly SimulatedTask _task = SimulatedMach.CreateTask("attacker");
        private readonly SortedDictionary<string, long> _codes = new(StringComparer.Ordinal);
        private readonly List<uint> _names = new(IpcSpace.TableCountMax);
        private readonly byte* _region = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(Region);
        private uint _port;
        private Thread? _thread;
        private volatile bool _stop;
        private long _calls;
        private readonly Stopwatch _clock = new();

        public Attacker(Attack attack)
        {
            _attack = attack;
            _task.Vm.Quota = 16L << 20; // small, so the flood reaches it quickly
            using var scope = _task.Enter();
            uint port;
            Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &port);
            Mach.PortInsertRight(Mach.TaskSelf, port, port, MachMsgType.MakeSend);
            int q = (int)MachPortLimits.QLimitMax;
            Mach.PortSetAttributes(Mach.TaskSelf, port, MachPortLimits.LimitsInfoFlavor, &q, 1);
            _port = port;
        }

        public string Name => _attack switch
        {
            Attack.HighNames => "high names (insert_right)",
            Attack.TableFill => "table fill (port_allocate)",
            _ => "queue flood (64 KiB OOL)",
        };

        public string Results() => string.Join(", ", _codes.Select(kv => $"{kv.Key} ×{kv.Value}"));

        public void Start()
        {
            _stop = false;
            _calls = 0;
            _thread = new Thread(Loop) { IsBackground = true, Name = "attacker" };
            _clock.Restart();
            _thread.Start();
        }

        /// <summary>Stops the loop; returns its calls per second.</summary>
        public double Stop()
        {
            _stop = true;
            _thread?.Join();
            return _calls / _clock.Elapsed.TotalSeconds;
        }

        private void Count(string what, int code)
        {
            string key = what + " " + (code == 0 ? "ok" : "0x" + code.ToString("x", CultureInfo.InvariantCulture));
            _codes[key] = _codes.GetValueOrDefault(key) + 1;
        }

        private void Loop()
        {
            using var scope = _task.Enter();
            uint last = (uint)(IpcSpace.TableCountMax - 1) << 8 | 3;
            byte* msg = stackalloc byte[64];
            byte* buf = stackalloc byte[256];
            while (!_stop)
            {
                switch (_attack)
                {
                    case Attack.HighNames:
                    {
                        KernReturn high = Mach.PortInsertRight(Mach.TaskSelf, 0xFFFFFE03, _port, MachMsgType.MakeSendOnce);
                        KernReturn kr = Mach.PortInsertRight(Mach.TaskSelf, last, _port, MachMsgType.MakeSendOnce);
                        if (kr == KernReturn.Success)
                        {
                            Mach.PortDeallocate(Mach.TaskSelf, last);
                        }
                        // Each refused send-once right came back as a notification: drain them.
                        while (Mach.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, _port, 0, 0) == MachMsgReturn.Success)
                        {
                        }
                        _calls += 2;
                        if (_calls % 20_000 < 2)
                        {
                            Count("insert_right 0xFFFFFE03", (int)high);
                            Count("insert_right at the last index", (int)kr);
                        }
                        break;
                    }
                    case Attack.TableFill:
                    {
                        uint n;
                        KernReturn kr = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &n);
                        _calls++;
                        if (kr == KernReturn.Success)
                        {
                            _names.Add(n);
                            break;
                        }
                        Count("port_allocate past the table limit", (int)kr);
                        foreach (uint d in _names)
                        {
                            Mach.PortDeallocate(Mach.TaskSelf, d);
                        }
                        _names.Clear();
                        break;
                    }
                    default:
                    {
                        var h = (MachMsgHeader*)msg;
                        *h = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.CopySend, 0) | MachMsgBits.Complex, Size = 44, RemotePort = _port, Id = 1 };
                        *(uint*)(msg + 24) = 1;
                        *(MachMsgOolDescriptor*)(msg + 28) = new MachMsgOolDescriptor { Address = (ulong)_region, Size = Region, Copy = MachMsgCopy.Virtual, Type = MachMsgDescriptorType.Ool };
                        MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, 44, 0, 0, 0, 0);
                        _calls++;
                        if (mr == MachMsgReturn.Success)
                        {
                            break;
                        }
                        Count("send 64 KiB OOL past the quota", (int)mr);
                        while (Mach.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, _port, 0, 0) == MachMsgReturn.Success)
                        {
                            Mach.MsgDestroy((MachMsgHeader*)buf);
                        }
                        break;
                    }
                }
            }
        }

        public void Dispose()
        {
            _stop = true;
            _thread?.Join();
            _task.Terminate();
            System.Runtime.InteropServices.NativeMemory.Free(_region);
        }
    }
}
