using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Reflection;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Benchmarks;

/// <summary>Larger than the stress server's MaxMessageSize: the server must destroy it.</summary>
[MachMessage(9001)]
public unsafe partial struct StressBulk
{
    public MachMsgHeader Header;
    public fixed byte Data[4096];
}

/// <summary>
/// <c>--stop-stress [cycles] [threads]</c>: Start/Stop a <see cref="MachServer"/> with <c>threads</c> receive threads
/// (default 1) <c>cycles</c> times (default 1000) under each
/// load: idle, RPC load, clients blocked mid-send (a service queue limit of 1), a flood of messages larger than
/// MaxMessageSize, and all of them mixed. Prints p50/p99/max of Stop() and the number of hangs (a Stop that has
/// not returned after 5 s; the harness then wakes the loop itself to carry on). The target: p99 under 100 ms,
/// no hang.
/// </summary>
internal static unsafe class StopStress
{
    private static readonly TimeSpan HangAfter = TimeSpan.FromSeconds(5);

    public static int Run(string[] args)
    {
        int cycles = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000;
        int threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
        Environment.SetEnvironmentVariable(Mach.BackendVariable, "simulated");
        Console.WriteLine($"MachServer.Stop() over {cycles} start/stop cycles per scenario, {threads} receive thread(s) (simulated kernel, {Environment.ProcessorCount} cores)");
        Console.WriteLine($"{"scenario",-16} {"p50 ms",8} {"p99 ms",8} {"max ms",8} {"hangs",6}");
        int hangsTotal = 0;
        foreach (string scenario in new[] { "idle", "rpc", "blocked-senders", "oversize", "mixed" })
        {
            hangsTotal += RunScenario(scenario, cycles, threads);
        }
        return hangsTotal == 0 ? 0 : 1;
    }

    private static int RunScenario(string scenario, int cycles, int threads)
    {
        bool rpc = scenario is "rpc" or "mixed";
        bool blocked = scenario is "blocked-senders" or "mixed";
        bool oversize = scenario is "oversize" or "mixed";
        string name = "org.machipc.stopstress." + scenario + "." + Guid.NewGuid().ToString("N")[..8];
        using var serverTask = SimulatedMach.CreateTask("stress-server");
        using var clientTask = SimulatedMach.CreateTask("stress-client");
        MachServer server;
        using (serverTask.Enter())
        {
            server = MachServer.CheckIn(name, new BenchServer(), new MachServerOptions { Name = "stress-" + scenario, MaxMessageSize = 1024, ReceiveThreads = threads });
            if (blocked)
            {
                int limit = 1;
                Mach.PortSetAttributes(Mach.TaskSelf, server.ServicePort, MachPortLimits.LimitsInfoFlavor, &limit, MachPortLimits.LimitsInfoCount);
            }
        }
        using var stop = new CancellationTokenSource();
        var load = new List<Thread>();
        void Load(Action<CancellationToken> body)
        {
            var t = new Thread(() =>
            {
                using (clientTask.Enter())
                {
                    body(stop.Token);
                }
            }) { IsBackground = true };
            load.Add(t);
            t.Start();
        }
        if (rpc)
        {
            for (int i = 0; i < 2; i++)
            {
                Load(token => Calls(name, token, timeoutMs: 50));
            }
        }
        if (blocked)
        {
            for (int i = 0; i < 4; i++)
            {
                Load(token => Calls(name, token, timeoutMs: 60_000)); // a full queue blocks these in the send
            }
        }
        if (oversize)
        {
            for (int i = 0; i < 2; i++)
            {
                Load(Flood(name));
            }
        }

        var stops = new List<double>(cycles);
        int hangs = 0;
        var rng = new Random(12345);
        for (int i = 0; i < cycles; i++)
        {
            using (serverTask.Enter())
            {
                server.Start();
            }
            Thread.Sleep(rng.Next(0, 3)); // let the load reach the loop in every state: receiving, handling, destroying
            var clock = Stopwatch.StartNew();
            var stopping = new Thread(server.Stop) { IsBackground = true };
            stopping.Start();
            if (!stopping.Join(HangAfter))
            {
                hangs++;
                // Carry on: keep sending the loop the wake it lost until the Stop returns (a hand wake can be lost too).
                do
                {
                    using (serverTask.Enter())
                    {
                        WakeByHand(server);
                    }
                }
                while (!stopping.Join(100));
            }
            stops.Add(clock.Elapsed.TotalMilliseconds);
        }
        stop.Cancel();
        using (serverTask.Enter())
        {
            server.Dispose(); // destroys the service port: senders blocked on its queue fail with MACH_SEND_INVALID_DEST
        }
        foreach (Thread t in load)
        {
            t.Join();
        }
        stops.Sort();
        Console.WriteLine($"{scenario,-16} {Percentile(stops, 0.50),8:F2} {Percentile(stops, 0.99),8:F2} {stops[^1],8:F2} {hangs,6}");
        return hangs;
    }

    private static void Calls(string name, CancellationToken token, uint timeoutMs)
    {
        if (!BootstrapServer.TryLookUp(name, out SendRight? send, out _))
        {
            return;
        }
        using var client = new MachRpcClient(send!);
        while (!token.IsCancellationRequested)
        {
            var request = new BenchRequest { Value = 1 };
            request.Prepare(0, 0);
            client.TryCall<BenchRequest, BenchReply>(request, out _, out _, out var result, TimeSpan.FromMilliseconds(timeoutMs), TimeSpan.FromMilliseconds(timeoutMs));
            if (result.Status == MachRpcStatus.SendFailed && result.Code == (int)MachMsgReturn.SendInvalidDest)
            {
                return; // the server is gone
            }
        }
    }

    private static Action<CancellationToken> Flood(string name) => token =>
    {
        if (!BootstrapServer.TryLookUp(name, out SendRight? send, out _))
        {
            return;
        }
        using (send)
        {
            while (!token.IsCancellationRequested)
            {
                if (SendOversize(send!.Name) == MachMsgReturn.SendInvalidDest)
                {
                    return;
                }
            }
        }
    };

    /// <summary>Sends one <see cref="StressBulk"/> with a 10 ms send timeout; what a timed-out send handed back is destroyed.</summary>
    internal static MachMsgReturn SendOversize(uint to)
    {
        var bulk = new StressBulk();
        bulk.Prepare(to);
        MachMsgReturn mr = bulk.Send(MachMsgOption.SendTimeout, 10);
        if (mr.IsPseudoReceived())
        {
            ReceivedMessage.DestroyUnsent(&bulk.Header);
        }
        return mr;
    }

    /// <summary>Recovers from a hung Stop by sending the loops a wake (to the server's internal wake port).</summary>
    private static void WakeByHand(MachServer server)
    {
        var header = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.None), Size = MachMsgHeader.SizeOf, RemotePort = server.WakePort };
        Mach.Msg(&header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, MachMsgHeader.SizeOf, 0, 0, 100, 0);
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
