using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Benchmarks.Harness;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;

namespace MachIpc.Benchmarks;

/// <summary>
/// Cross-process request/reply (a 24-byte header and 16 B or 1 KiB of payload each way) from N helper processes to ONE server thread in
/// the parent, side by side in the same run: through the simulated kernel shared over its Unix socket (the
/// children are tasks of the parent's kernel; each round trip is one mach_msg SEND|RCV), and directly over a
/// Unix-domain socket per child (the server thread poll()s them all), between the same processes. The floor row
/// is a futex ping-pong between each helper and its own parent thread over a shared mapping (no data moved).
/// A Stopwatch harness, because BenchmarkDotNet cannot host child processes: every child times its own loop;
/// aggregate throughput is total round trips ÷ the slowest child's time, CPU per round trip sums the parent's
/// and every child's getrusage. Medians over repetitions with [min–max]; rows alternate within a repetition.
/// </summary>
internal static unsafe class CrossProcessBenchmark
{
    private const int TotalRoundTrips = 32_000;
    private const int MaxTrailer = 68; // room for any trailer a receive asks for (mach_msg_mac_trailer_t)
    private static readonly string[] Phases = ["futex", "mach", "direct"];

    public static string Run(int reps, int[] counts, int[] payloads)
    {
        SimulatedMach.ShareWithChildren();
        var table = new Table("payload", "helpers", "row", "round trips/s", "CPU µs / rt", "ctx switches / rt", "time ÷ direct socket", "CPU ÷ direct socket", "time ÷ floor");
        foreach (int payload in payloads)
        {
            foreach (int n in counts)
            {
                int size = MachMsgHeader.SizeOf + (payload + 3 & ~3);
                List<(double Rate, double Cpu, double Switches)>[] results = Measure(n, reps, size);
                for (int p = 0; p < Phases.Length; p++)
                {
                    string row = Phases[p] switch
                    {
                        "futex" => "futex ping-pong (floor)",
                        "mach" => "via simulated kernel",
                        _ => "direct unix socket",
                    };
                    table.Row(payload + " B", n.ToString(CultureInfo.InvariantCulture), row,
                        Spread.Of(results[p].Select(r => r.Rate)).Format("F0"),
                        Spread.Of(results[p].Select(r => r.Cpu * 1e6)).Format("F1"),
                        Spread.Of(results[p].Select(r => r.Switches)).Format("F2"),
                        Spread.Of(results[2].Zip(results[p], (d, x) => d.Rate / x.Rate)).Format("F2"),
                        Spread.Of(results[2].Zip(results[p], (d, x) => x.Cpu / d.Cpu)).Format("F2"),
                        Spread.Of(results[0].Zip(results[p], (f, x) => f.Rate / x.Rate)).Format("F2"));
                }
                Console.Error.WriteLine($"  cross-process, {payload} B, {n} helpers done");
            }
        }
        return table.ToString();
    }

    private static List<(double Rate, double Cpu, double Switches)>[] Measure(int n, int reps, int size)
    {
        string service = $"org.machipc.bench.xproc.{Environment.ProcessId}.{n}.{size}";
        using ReceiveRight port = BootstrapServer.CheckIn(service);
        int q = (int)MachPortLimits.QLimitMax;
        Mach.PortSetAttributes(Mach.TaskSelf, port.Name, MachPortLimits.LimitsInfoFlavor, &q, 1);
        uint serviceName = port.Name;
        var machServer = new Thread(() => MachServerLoop(serviceName, size)) { IsBackground = true, Name = "mach-server" };
        machServer.Start();

        string dir = Path.Combine(Path.GetTempPath(), "machipc-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string socketPath = Path.Combine(dir, "direct.sock");
        string wordsPath = Path.Combine(dir, "futex.words");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(64);
        using var words = new SharedWords(wordsPath, n);
        var floorServers = new List<Thread>();
        var children = new List<Process>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                int index = i;
                var t = new Thread(() => words.Serve(index)) { IsBackground = true, Name = "futex-server-" + i };
                t.Start();
                floorServers.Add(t);
            }
            int perChild = TotalRoundTrips / n;
            for (int i = 0; i < n; i++)
            {
                ProcessStartInfo psi = SelfProcess.StartInfo(redirectInput: true, "--xproc-child", service, socketPath,
                    perChild.ToString(CultureInfo.InvariantCulture), wordsPath, i.ToString(CultureInfo.InvariantCulture),
                    size.ToString(CultureInfo.InvariantCulture));
                SimulatedMach.ConfigureChild(psi);
                children.Add(Process.Start(psi)!);
            }
            var accepted = new List<Socket>();
            for (int i = 0; i < n; i++)
            {
                accepted.Add(listener.Accept());
            }
            var socketServer = new Thread(() => SocketServerLoop(accepted, size)) { IsBackground = true, Name = "socket-server" };
            socketServer.Start();
            foreach (Process c in children)
            {
                Expect(c, "ready");
            }
            foreach (string phase in Phases)
            {
                Phase(children, phase, perChild); // warm-up
            }
            var results = Phases.Select(_ => new List<(double, double, double)>()).ToArray();
            for (int rep = 0; rep < reps; rep++)
            {
                for (int p = 0; p < Phases.Length; p++)
                {
                    results[p].Add(Phase(children, Phases[p], perChild));
                }
            }
            foreach (Process c in children)
            {
                c.StandardInput.WriteLine("quit");
                c.StandardInput.Flush();
            }
            foreach (Process c in children)
            {
                c.WaitForExit(10_000);
            }
            foreach (Socket s in accepted)
            {
                s.Dispose();
            }
            socketServer.Join(5000);
            return results;
        }
        finally
        {
            foreach (Process c in children)
            {
                if (!c.HasExited)
                {
                    c.Kill();
                }
                c.Dispose();
            }
            words.Stop();
            foreach (Thread t in floorServers)
            {
                t.Join(5000);
            }
            var stop = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.MakeSend, 0), Size = 24, RemotePort = serviceName, Id = -1 };
            Mach.Msg(&stop, MachMsgOption.SendMsg, 24, 0, 0, 0, 0);
            machServer.Join(5000);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Expect(Process c, string what)
    {
        string? line = c.StandardOutput.ReadLine();
        if (line != what)
        {
            throw new InvalidOperationException($"child {c.Id}: expected '{what}', got '{line}'");
        }
    }

    /// <summary>
    /// Starts one phase in every child at once; returns aggregate round trips per second, CPU seconds and context
    /// switches (voluntary + involuntary, every thread of the parent, the kernel host included, and of every child) per round trip.
    /// </summary>
    private static (double Rate, double Cpu, double Switches) Phase(List<Process> children, string phase, int perChild)
    {
        (double cpu0, long sw0) = RUsage.Self();
        foreach (Process c in children)
        {
            c.StandardInput.WriteLine(phase);
            c.StandardInput.Flush();
        }
        double slowest = 0, childCpu = 0, childSwitches = 0;
        foreach (Process c in children)
        {
            string line = c.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"child {c.Id} ended");
            string[] parts = line.Split(' ');
            if (parts.Length != 4 || parts[0] != "done")
            {
                throw new InvalidOperationException($"child {c.Id}: {line}");
            }
            slowest = Math.Max(slowest, double.Parse(parts[1], CultureInfo.InvariantCulture));
            childCpu += double.Parse(parts[2], CultureInfo.InvariantCulture);
            childSwitches += double.Parse(parts[3], CultureInfo.InvariantCulture);
        }
        (double cpu1, long sw1) = RUsage.Self();
        double total = children.Count * (double)perChild;
        return (total / slowest, (cpu1 - cpu0 + childCpu) / total, (sw1 - sw0 + childSwitches) / total);
    }

    private static void MachServerLoop(uint service, int size)
    {
        byte* buf = stackalloc byte[size + MaxTrailer];
        var h = (MachMsgHeader*)buf;
        while (true)
        {
            if (Mach.Msg(h, MachMsgOption.RcvMsg, 0, (uint)(size + MaxTrailer), service, 0, 0) != MachMsgReturn.Success || h->Id < 0)
            {
                return;
            }
            h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
            h->LocalPort = MachPortName.Null;
            h->Size = (uint)size;
            h->Id += 100;
            Mach.Msg(h, MachMsgOption.SendMsg, (uint)size, 0, 0, 0, 0);
        }
    }

    private static void SocketServerLoop(List<Socket> sockets, int size)
    {
        var fds = new Native.PollFd[sockets.Count];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = new Native.PollFd { Fd = (int)sockets[i].Handle, Events = 1 };
        }
        byte* buf = stackalloc byte[size];
        int open = fds.Length;
        fixed (Native.PollFd* p = fds)
        {
            while (open > 0)
            {
                if (Native.poll(p, (nuint)fds.Length, -1) < 0)
                {
                    continue;
                }
                for (int i = 0; i < fds.Length; i++)
                {
                    if (p[i].Fd < 0 || p[i].REvents == 0)
                    {
                        continue;
                    }
                    if (!Native.ReadExactly(p[i].Fd, buf, size))
                    {
                        p[i].Fd = -1;
                        open--;
                        continue;
                    }
                    ((int*)buf)[5] += 100;
                    Native.WriteAll(p[i].Fd, buf, size);
                }
            }
        }
    }

    /// <summary>Futex words in a file mapping shared with the helpers: per helper, its word and its server thread's.</summary>
    private sealed class SharedWords : IDisposable
    {
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _base;
        private readonly int _count;
        private volatile bool _stop;

        public SharedWords(string path, int count)
        {
            _count = count;
            using (var f = new FileStream(path, FileMode.Create, FileAccess.ReadWrite))
            {
                f.SetLength(Math.Max(4096, count * 128));
            }
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open);
            _view = _file.CreateViewAccessor();
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p;
        }

        public static int* Word(byte* baseAddress, int helper, int side) => (int*)(baseAddress + helper * 128 + side * 64);

        public void Serve(int helper)
        {
            while (true)
            {
                Native.Await(Word(_base, helper, 1), shared: true);
                if (_stop)
                {
                    return;
                }
                Native.Signal(Word(_base, helper, 0), shared: true);
            }
        }

        public void Stop()
        {
            _stop = true;
            for (int i = 0; i < _count; i++)
            {
                Native.Signal(Word(_base, i, 1), shared: true);
            }
        }

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }

    /// <summary>The child: joined the parent's kernel (MACHIPC_KERNEL_SOCKET), connected to its direct socket, mapped the futex words.</summary>
    public static int Child(string[] args)
    {
        string service = args[1];
        string socketPath = args[2];
        int count = int.Parse(args[3], CultureInfo.InvariantCulture);
        string wordsPath = args[4];
        int index = int.Parse(args[5], CultureInfo.InvariantCulture);
        int size = int.Parse(args[6], CultureInfo.InvariantCulture);
        using SendRight server = BootstrapServer.LookUp(service);
        using ReceiveRight reply = ReceiveRight.Allocate();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        using var file = MemoryMappedFile.CreateFromFile(wordsPath, FileMode.Open);
        using var view = file.CreateViewAccessor();
        byte* words = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref words);
        int* mine = SharedWords.Word(words, index, 0), parent = SharedWords.Word(words, index, 1);
        int fd = (int)socket.Handle;
        Console.WriteLine("ready");
        byte* buf = stackalloc byte[size + MaxTrailer];
        var h = (MachMsgHeader*)buf;
        while (Console.ReadLine() is { } phase && phase != "quit")
        {
            (double cpu0, long sw0) = RUsage.Self();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                h->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce);
                h->Size = (uint)size;
                h->RemotePort = server.Name;
                h->LocalPort = reply.Name;
                h->VoucherPort = 0;
                h->Id = 500;
                if (phase == "mach")
                {
                    MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, (uint)size, (uint)(size + MaxTrailer), reply.Name, 0, 0);
                    if (mr != MachMsgReturn.Success || h->Id != 600)
                    {
                        Console.WriteLine($"failed {mr}");
                        return 1;
                    }
                }
                else if (phase == "futex")
                {
                    Native.Signal(parent, shared: true);
                    Native.Await(mine, shared: true);
                }
                else if (!Native.WriteAll(fd, buf, size) || !Native.ReadExactly(fd, buf, size) || h->Id != 600)
                {
                    Console.WriteLine("failed socket");
                    return 1;
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;
            (double cpu1, long sw1) = RUsage.Self();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {seconds:R} {cpu1 - cpu0:R} {sw1 - sw0}"));
        }
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        return 0;
    }
}
