using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Benchmarks.Harness;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Tests.Shared;

namespace MachIpc.Benchmarks;

/// <summary>
/// What the kernel host costs under the socket attacks of the hardening issue (issue 13 item 2), as a program, not a
/// unit test: this process hosts the kernel, and child processes attack its socket in phases. Each phase reports the
/// host process's threads (all of them, and the host's own "machipc kernel" threads) and RSS before, at the peak
/// (sampled every 20 ms) and after (once every attacking connection is gone). Phases:
/// <list type="bullet">
/// <item><c>frames</c>: 1,000,000 random frames from two processes (valid-looking requests with random fields,
/// garbage, oversize lengths), reconnecting whenever the host disconnects them;</item>
/// <item><c>connections</c>: 2,000 connections from two processes, a third half-open (part of a hello), a third
/// silent, a third slowloris (a hello, then a large frame dribbled a byte at a time), held for a few seconds;</item>
/// <item><c>helpers</c>: 64 idle helpers (joined, one thread blocked in a receive) and 64 busy ones (RPCs to a
/// server thread here), for a few seconds.</item>
/// </list>
/// <c>--host-attack [frames] [connections] [helpers]</c> (defaults 1000000 2000 64).
/// </summary>
internal static class HostAttack
{
    public static int Run(string[] args)
    {
        int frames = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        int connections = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2_000;
        int helpers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
        string path = SimulatedMach.ShareWithChildren();
        KernelHost host = KernelHost.Current!;
        Settle(host);
        Usage cold = Usage.Now();
        // Warm-up: each attack at 1/100 of its size, so the baseline includes what any use costs once (the host's
        // code compiled, the runtime's pools) and "after" shows only what the attacks leave behind.
        TwoChildren(path, "frames", frames / 200);
        TwoChildren(path, "connections", connections / 200 + 3);
        Helpers(1);
        Settle(host);
        Usage baseline = Usage.Now();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RSS at start {cold.RssMiB:F0} MiB, baseline after a warm-up at 1/100 size {baseline.RssMiB:F0} MiB; 'after' is once the attackers are gone, after a full GC (GCCollectionMode.Aggressive) and malloc_trim(0)"));
        var table = new Table("phase", "threads before / peak / after", "host threads before / peak / after", "RSS MiB before / peak / after", "after ÷ baseline RSS", "GC heap / committed MiB after", "seconds");
        Phase(table, host, baseline, $"{frames:N0} random frames, 2 processes", () => TwoChildren(path, "frames", frames / 2));
        Phase(table, host, baseline, $"{connections:N0} connections, 2 processes (half-open, silent, slowloris)", () => TwoChildren(path, "connections", connections / 2));
        Phase(table, host, baseline, $"{helpers} idle + {helpers} busy helpers", () => Helpers(helpers));
        Console.WriteLine($"Machine: {Environment.ProcessorCount} cores; load: {File.ReadAllText("/proc/loadavg").Trim()}; rejected clients: {host.RejectedClients}");
        Console.WriteLine(table);
        return 0;
    }

    private readonly record struct Usage(int Threads, int HostThreads, double RssMiB)
    {
        public static Usage Now()
        {
            int threads = 0, hostThreads = 0;
            foreach (string task in Directory.GetDirectories("/proc/self/task"))
            {
                threads++;
                try
                {
                    if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("machipc kernel", StringComparison.Ordinal))
                    {
                        hostThreads++;
                    }
                }
                catch (IOException)
                {
                }
            }
            string rss = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            double kib = double.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return new Usage(threads, hostThreads, kib / 1024);
        }
    }

    /// <summary>Waits until no connection but this process's own is open, then collects garbage (what "after" means).</summary>
    private static void Settle(KernelHost host)
    {
        var clock = Stopwatch.StartNew();
        while (host.Connections > 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(20); // a program, not a test: polling a counter is fine here
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Aggressive: the GC also gives its free memory back to the system, so RSS shows what the host still holds.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        malloc_trim(0); // and glibc its free lists, so RSS is what is still in use
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim", ExactSpelling = true)]
    private static extern int malloc_trim(nuint pad);

    private static void Phase(Table table, KernelHost host, Usage baseline, string name, Action attack)
    {
        Console.Error.WriteLine($"  host attack: {name}");
        Usage before = Usage.Now();
        Usage peak = before;
        using var stop = new ManualResetEventSlim();
        var sampler = new Thread(() =>
        {
            while (!stop.Wait(20))
            {
                Usage u = Usage.Now();
                peak = new Usage(Math.Max(peak.Threads, u.Threads), Math.Max(peak.HostThreads, u.HostThreads), Math.Max(peak.RssMiB, u.RssMiB));
            }
        }) { IsBackground = true, Name = "sampler" };
        sampler.Start();
        var clock = Stopwatch.StartNew();
        attack();
        Settle(host);
        double seconds = clock.Elapsed.TotalSeconds;
        stop.Set();
        sampler.Join();
        Usage after = Usage.Now();
        table.Row(name,
            $"{before.Threads} / {peak.Threads} / {after.Threads}",
            $"{before.HostThreads} / {peak.HostThreads} / {after.HostThreads}",
            string.Create(CultureInfo.InvariantCulture, $"{before.RssMiB:F0} / {peak.RssMiB:F0} / {after.RssMiB:F0}"),
            string.Create(CultureInfo.InvariantCulture, $"{after.RssMiB / baseline.RssMiB:F2}"),
            string.Create(CultureInfo.InvariantCulture, $"{GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:F0} / {GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F0}"),
            string.Create(CultureInfo.InvariantCulture, $"{seconds:F1}"));
    }

    private static void TwoChildren(string path, string mode, int count)
    {
        var children = new List<Process>();
        for (int i = 0; i < 2; i++)
        {
            children.Add(Process.Start(SelfProcess.StartInfo(true, "--host-attack-child", mode, path, count.ToString(CultureInfo.InvariantCulture), i.ToString(CultureInfo.InvariantCulture)))!);
        }
        // Both join before either attacks (an attack on the pending-hello cap would keep the other one out for 10 s).
        foreach (Process c in children)
        {
            string? line = c.StandardOutput.ReadLine();
            if (line != "joined")
            {
                throw new InvalidOperationException($"attacker {c.Id}: {line}");
            }
        }
        foreach (Process c in children)
        {
            c.StandardInput.WriteLine("go");
            c.StandardInput.Flush();
        }
        foreach (Process c in children)
        {
            string output = c.StandardOutput.ReadToEnd();
            c.WaitForExit();
            Console.Error.WriteLine($"    child {c.Id}: {output.Trim()} (exit {c.ExitCode})");
            c.Dispose();
        }
    }

    private static unsafe void Helpers(int count)
    {
        string service = $"org.machipc.bench.attack.{Environment.ProcessId}";
        using ReceiveRight port = BootstrapServer.CheckIn(service);
        uint name = port.Name;
        var server = new Thread(() =>
        {
            byte* buf = stackalloc byte[256];
            var h = (MachMsgHeader*)buf;
            while (Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, name, 0, 0) == MachMsgReturn.Success && h->Id >= 0)
            {
                h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
                h->LocalPort = MachPortName.Null;
                h->Size = 32;
                Mach.Msg(h, MachMsgOption.SendMsg, 32, 0, 0, 0, 0);
            }
        }) { IsBackground = true, Name = "attack-server" };
        server.Start();
        var children = new List<Process>();
        try
        {
            for (int i = 0; i < 2 * count; i++)
            {
                ProcessStartInfo psi = SelfProcess.StartInfo(true, "--host-attack-helper", i < count ? "idle" : "busy", service);
                SimulatedMach.ConfigureChild(psi);
                children.Add(Process.Start(psi)!);
            }
            foreach (Process c in children)
            {
                string? line = c.StandardOutput.ReadLine();
                if (line != "ready")
                {
                    throw new InvalidOperationException($"helper {c.Id}: {line}");
                }
            }
            Thread.Sleep(5000); // all of them joined: idle ones wait in a receive, busy ones call
            foreach (Process c in children)
            {
                c.StandardInput.WriteLine("quit");
                c.StandardInput.Flush();
            }
            long calls = 0;
            foreach (Process c in children)
            {
                string? line = c.StandardOutput.ReadLine();
                if (line is not null && line.StartsWith("calls ", StringComparison.Ordinal))
                {
                    calls += long.Parse(line[6..], CultureInfo.InvariantCulture);
                }
                c.WaitForExit(30_000);
            }
            Console.Error.WriteLine($"    busy helpers made {calls:N0} calls");
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
            var stop = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.MakeSend, 0), Size = 24, RemotePort = name, Id = -1 };
            Mach.Msg(&stop, MachMsgOption.SendMsg, 24, 0, 0, 0, 0);
            server.Join(5000);
        }
    }

    /// <summary>A helper joined to the host: idle (one thread blocked in a receive) or busy (RPCs) until "quit" on stdin.</summary>
    public static unsafe int Helper(string[] args)
    {
        bool busy = args[1] == "busy";
        using SendRight server = BootstrapServer.LookUp(args[2]);
        using ReceiveRight reply = ReceiveRight.Allocate();
        uint replyName = reply.Name, serverName = server.Name;
        long calls = 0;
        var stop = new ManualResetEventSlim();
        var worker = new Thread(() =>
        {
            byte* buf = stackalloc byte[256];
            var h = (MachMsgHeader*)buf;
            if (!busy)
            {
                Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, replyName, 0, 0); // ends when the port dies with the task
                return;
            }
            while (!stop.IsSet)
            {
                *h = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce), Size = 32, RemotePort = serverName, LocalPort = replyName, Id = 1 };
                if (Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, 32, 256, replyName, 0, 0) != MachMsgReturn.Success)
                {
                    return;
                }
                calls++;
            }
        }) { IsBackground = true };
        worker.Start();
        Console.WriteLine("ready");
        Console.ReadLine();
        stop.Set();
        if (busy)
        {
            worker.Join();
        }
        Console.WriteLine($"calls {calls}");
        return 0;
    }

    /// <summary>An attacking child: raw sockets to the host, no MachIpc client.</summary>
    public static int Child(string[] args)
    {
        string mode = args[1], path = args[2];
        int count = int.Parse(args[3], CultureInfo.InvariantCulture);
        var random = new Random(int.Parse(args[4], CultureInfo.InvariantCulture) + 1);
        Socket lifeline = Connect(path);
        if (!Hello(lifeline))
        {
            Console.WriteLine("no hello");
            return 1;
        }
        Console.WriteLine("joined");
        Console.ReadLine();
        string result = mode == "frames" ? Frames(path, count, random) : Connections(path, count);
        Console.WriteLine(result);
        lifeline.Dispose();
        return 0;
    }

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        return s;
    }

    private static bool Hello(Socket s)
    {
        var hello = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, 12);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(4), (uint)Wire.Op.Hello);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(8), Wire.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(12), Wire.Version);
        try
        {
            s.Send(hello);
            var reply = new byte[16];
            SocketReads.ReceiveExactly(s, reply);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    /// <summary>Sends <paramref name="count"/> random frames, one at a time, reading each reply (or the hang-up).</summary>
    private static string Frames(string path, int count, Random random)
    {
        Socket? s = null;
        int replies = 0, hangUps = 0;
        var frame = new byte[4 + 256];
        var reply = new byte[64 * 1024];
        for (int i = 0; i < count; i++)
        {
            if (s is null)
            {
                s = Connect(path);
                if (!Hello(s))
                {
                    s.Dispose();
                    s = null;
                    hangUps++;
                    continue;
                }
            }
            int length = RandomFrame(random, frame, out int payload);
            try
            {
                s.Send(frame, 0, 4 + payload, SocketFlags.None);
                if (length != payload)
                {
                    s.Shutdown(SocketShutdown.Send); // an oversize length or a frame cut short: the host must not wait for the rest
                }
                int n = s.Receive(reply, 0, 4, SocketFlags.None);
                if (n < 4)
                {
                    throw new SocketException((int)SocketError.ConnectionReset);
                }
                int rest = (int)BinaryPrimitives.ReadUInt32LittleEndian(reply);
                while (rest > 0)
                {
                    n = s.Receive(reply, 0, Math.Min(rest, reply.Length), SocketFlags.None);
                    if (n <= 0)
                    {
                        throw new SocketException((int)SocketError.ConnectionReset);
                    }
                    rest -= n;
                }
                replies++;
                if (length != payload)
                {
                    throw new SocketException((int)SocketError.Shutdown);
                }
            }
            catch (SocketException)
            {
                hangUps++;
                s.Dispose();
                s = null;
            }
        }
        s?.Dispose();
        return $"{count} frames: {replies} replies, {hangUps} hang-ups";
    }

    /// <summary>One random frame: 70% a valid-looking request (a known op, random fields), 20% garbage, 10% an oversize or cut-short length.</summary>
    private static int RandomFrame(Random random, byte[] frame, out int payload)
    {
        int kind = random.Next(10);
        payload = 4 * random.Next(1, 9);
        random.NextBytes(frame.AsSpan(4, payload));
        uint length = (uint)payload;
        if (kind < 7)
        {
            // Ops whose random fields are harmless to the task itself (lookups, types, refs, a zero-timeout send),
            // each with its exact field count (PROTOCOL.md, Operations).
            (Wire.Op Op, int Bytes)[] ops = [(Wire.Op.PortType, 12), (Wire.Op.PortGetRefs, 16), (Wire.Op.PidForTask, 8), (Wire.Op.PortDeallocate, 12), (Wire.Op.Msg, 60)];
            (Wire.Op op, payload) = ops[random.Next(ops.Length)];
            random.NextBytes(frame.AsSpan(4, payload));
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)op);
            if (op == Wire.Op.Msg)
            {
                // option, send_size, rcv_size, rcv_name, timeout, notify, flags; a 24-byte simple header; no regions
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), (uint)(MachMsgOption.SendMsg | MachMsgOption.SendTimeout));
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), 24);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(24), 0);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(32), 0);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(36), 0);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(60), 0);
            }
            length = (uint)payload;
        }
        else if (kind == 9)
        {
            length = random.Next(2) == 0 ? (uint)random.NextInt64(Wire.MaxFrame + 1L, uint.MaxValue) : (uint)random.Next(payload + 1, Wire.MaxFrame);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(frame, length);
        return (int)Math.Min(length, (uint)int.MaxValue);
    }

    /// <summary>Opens <paramref name="count"/> connections (half-open, silent, slowloris), holds them 5 s, closes them.</summary>
    private static string Connections(string path, int count)
    {
        var open = new List<Socket>();
        int refused = 0;
        for (int i = 0; i < count; i++)
        {
            Socket? s = null;
            try
            {
                s = Connect(path);
                switch (i % 3)
                {
                    case 0:
                        s.Send(new byte[] { 12, 0 }); // half a hello's length
                        break;
                    case 2:
                        if (Hello(s))
                        {
                            var header = new byte[8];
                            BinaryPrimitives.WriteUInt32LittleEndian(header, 1024 * 1024); // then dribbled
                            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), (uint)Wire.Op.Msg);
                            s.Send(header);
                        }
                        break;
                }
                open.Add(s);
            }
            catch (SocketException)
            {
                s?.Dispose();
                refused++;
            }
        }
        var clock = Stopwatch.StartNew();
        var one = new byte[1];
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            for (int i = 2; i < open.Count; i += 3)
            {
                try
                {
                    open[i].Send(one);
                }
                catch (SocketException)
                {
                }
            }
            Thread.Sleep(100);
        }
        foreach (Socket s in open)
        {
            s.Dispose();
        }
        return $"{count} connections: {open.Count} opened, {refused} refused at connect";
    }
}
