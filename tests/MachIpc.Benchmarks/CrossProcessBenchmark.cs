using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;

namespace MachIpc.Benchmarks;

/// <summary>
/// Cross-process request/reply (32-byte request, 32-byte reply) from N helper processes to ONE server thread in
/// the parent, side by side in the same run: through the simulated kernel shared over its Unix socket (the
/// children are tasks of the parent's kernel; each round trip is one mach_msg SEND|RCV), and directly over a
/// Unix-domain socket per child (the server thread poll()s them all), between the same processes.
/// A Stopwatch harness, because BenchmarkDotNet cannot host child processes: every child times its own loop and
/// the aggregate throughput is total round trips / slowest child's time; best of 3 alternating rounds.
/// <c>dotnet run -c Release --project tests/MachIpc.Benchmarks -- --xproc</c>
/// </summary>
internal static unsafe class CrossProcessBenchmark
{
    private const int MsgSize = 32;
    private const int TotalRoundTrips = 32_000;
    private const int Rounds = 3;

    public static void Run(string[] args)
    {
        int[] counts = args.Length > 1 ? args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [1, 4, 16];
        SimulatedMach.ShareWithChildren();
        Console.WriteLine("cross-process round trips, 32-byte request/reply, one server thread in the parent; aggregate throughput (best of 3)");
        Console.WriteLine($"{"helpers",7}  {"via simulated kernel",22}  {"direct unix socket",20}  {"mach/direct time ratio",22}");
        foreach (int n in counts)
        {
            (double mach, double direct) = Measure(n);
            Console.WriteLine($"{n,7}  {mach,14:F0} rt/s  {direct,14:F0} rt/s  {direct / mach,18:F2}x");
        }
    }

    private static (double Mach, double Direct) Measure(int n)
    {
        string service = $"org.machipc.bench.xproc.{Environment.ProcessId}.{n}";
        using ReceiveRight port = BootstrapServer.CheckIn(service);
        int q = (int)MachPortLimits.QLimitMax;
        Mach.PortSetAttributes(Mach.TaskSelf, port.Name, MachPortLimits.LimitsInfoFlavor, &q, 1);
        uint serviceName = port.Name;
        var machServer = new Thread(() => MachServerLoop(serviceName)) { IsBackground = true, Name = "mach-server" };
        machServer.Start();

        string dir = Path.Combine(Path.GetTempPath(), "machipc-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string socketPath = Path.Combine(dir, "direct.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(64);

        var children = new List<Process>();
        try
        {
            int perChild = TotalRoundTrips / n;
            for (int i = 0; i < n; i++)
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
                if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
                {
                    psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "MachIpc.Benchmarks.dll"));
                }
                psi.ArgumentList.Add("--xproc-child");
                psi.ArgumentList.Add(service);
                psi.ArgumentList.Add(socketPath);
                psi.ArgumentList.Add(perChild.ToString(CultureInfo.InvariantCulture));
                SimulatedMach.ConfigureChild(psi);
                children.Add(Process.Start(psi)!);
            }
            var accepted = new List<Socket>();
            for (int i = 0; i < n; i++)
            {
                accepted.Add(listener.Accept());
            }
            var socketServer = new Thread(() => SocketServerLoop(accepted)) { IsBackground = true, Name = "socket-server" };
            socketServer.Start();
            foreach (Process c in children)
            {
                Expect(c, "ready");
            }
            double bestMach = 0, bestDirect = 0;
            for (int round = 0; round < Rounds; round++)
            {
                bestMach = Math.Max(bestMach, Phase(children, "mach", perChild));
                bestDirect = Math.Max(bestDirect, Phase(children, "direct", perChild));
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
            return (bestMach, bestDirect);
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

    /// <summary>Starts one phase in every child at once; returns aggregate round trips per second.</summary>
    private static double Phase(List<Process> children, string phase, int perChild)
    {
        foreach (Process c in children)
        {
            c.StandardInput.WriteLine(phase);
            c.StandardInput.Flush();
        }
        double slowest = 0;
        foreach (Process c in children)
        {
            string line = c.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"child {c.Id} ended");
            if (!line.StartsWith("done ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"child {c.Id}: {line}");
            }
            slowest = Math.Max(slowest, double.Parse(line[5..], CultureInfo.InvariantCulture));
        }
        return children.Count * perChild / slowest;
    }

    private static void MachServerLoop(uint service)
    {
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;
        while (true)
        {
            if (Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, service, 0, 0) != MachMsgReturn.Success || h->Id < 0)
            {
                return;
            }
            h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
            h->LocalPort = MachPortName.Null;
            h->Size = MsgSize;
            h->Id += 100;
            Mach.Msg(h, MachMsgOption.SendMsg, MsgSize, 0, 0, 0, 0);
        }
    }

    private static void SocketServerLoop(List<Socket> sockets)
    {
        var fds = new PollFd[sockets.Count];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = new PollFd { Fd = (int)sockets[i].Handle, Events = 1 };
        }
        byte* buf = stackalloc byte[MsgSize];
        int open = fds.Length;
        fixed (PollFd* p = fds)
        {
            while (open > 0)
            {
                if (poll(p, (nuint)fds.Length, -1) < 0)
                {
                    continue;
                }
                for (int i = 0; i < fds.Length; i++)
                {
                    if (p[i].Fd < 0 || p[i].Revents == 0)
                    {
                        continue;
                    }
                    if (!Exactly(p[i].Fd, buf, read: true))
                    {
                        p[i].Fd = -1;
                        open--;
                        continue;
                    }
                    ((int*)buf)[5] += 100;
                    Exactly(p[i].Fd, buf, read: false);
                }
            }
        }
    }

    private static bool Exactly(int fd, byte* buf, bool read)
    {
        int done = 0;
        while (done < MsgSize)
        {
            nint r = read ? Read(fd, buf + done, (nuint)(MsgSize - done)) : Write(fd, buf + done, (nuint)(MsgSize - done));
            if (r <= 0)
            {
                return false;
            }
            done += (int)r;
        }
        return true;
    }

    /// <summary>The child: joined the parent's kernel (MACHIPC_KERNEL_SOCKET) and connected to its direct socket.</summary>
    public static int Child(string[] args)
    {
        string service = args[1];
        string socketPath = args[2];
        int count = int.Parse(args[3], CultureInfo.InvariantCulture);
        using SendRight server = BootstrapServer.LookUp(service);
        using ReceiveRight reply = ReceiveRight.Allocate();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        int fd = (int)socket.Handle;
        Console.WriteLine("ready");
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;
        while (Console.ReadLine() is { } phase && phase != "quit")
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                h->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce);
                h->Size = MsgSize;
                h->RemotePort = server.Name;
                h->LocalPort = reply.Name;
                h->VoucherPort = 0;
                h->Id = 500;
                if (phase == "mach")
                {
                    MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, MsgSize, 256, reply.Name, 0, 0);
                    if (mr != MachMsgReturn.Success || h->Id != 600)
                    {
                        Console.WriteLine($"failed {mr}");
                        return 1;
                    }
                }
                else if (!Exactly(fd, buf, read: false) || !Exactly(fd, buf, read: true) || h->Id != 600)
                {
                    Console.WriteLine("failed socket");
                    return 1;
                }
            }
            Console.WriteLine("done " + clock.Elapsed.TotalSeconds.ToString("R", CultureInfo.InvariantCulture));
        }
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", EntryPoint = "poll", ExactSpelling = true, SetLastError = true)]
    private static extern int poll(PollFd* fds, nuint count, int timeout);

    [DllImport("libc", EntryPoint = "read", ExactSpelling = true, SetLastError = true)]
    private static extern nint Read(int fd, byte* buf, nuint count);

    [DllImport("libc", EntryPoint = "write", ExactSpelling = true, SetLastError = true)]
    private static extern nint Write(int fd, byte* buf, nuint count);
}
