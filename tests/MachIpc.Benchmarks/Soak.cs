using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Benchmarks.Harness;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Benchmarks;

/// <summary>
/// <c>--soak [seconds] [helpers]</c> (default 600 s, 16 helpers): a <see cref="MachServer"/> in this process, which
/// hosts the simulated kernel, and helper processes that joined it: most call it in a loop through
/// <see cref="MachRpcClient"/>, two flood it with messages larger than its MaxMessageSize, and a quarter are
/// SIGKILLed at random moments (mid-RPC, mid-send) and replaced. Every second it prints calls/s, the worst helper's p99,
/// errors, kills, the host's RSS and thread count, and the kernel's live ports. It fails (exit 1) on any RPC error, on
/// anything left in the kernel once the helpers are gone, or on growth: RSS or threads in the last third of the run
/// more than 20% (and 16 MiB / 8 threads) above the first third after warm-up.
/// </summary>
internal static unsafe class Soak
{
    private sealed class Helper
    {
        public required Process Process;
        public required string Mode;
        public long Calls, Errors;
        public double P99Us;
    }

    public static int Run(string[] args)
    {
        int seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 600;
        int count = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;
        SimulatedMach.ShareWithChildren();
        string service = $"org.machipc.soak.{Environment.ProcessId}";
        using var server = MachServer.CheckIn(service, new BenchServer(), new MachServerOptions { Name = "soak", MaxMessageSize = 1024 });
        server.Start();
        KernelSnapshot before = SimulatedMach.Snapshot();

        var helpers = new ConcurrentDictionary<int, Helper>();
        int failures = 0;
        long kills = 0;
        void Spawn(string mode)
        {
            ProcessStartInfo psi = SelfProcess.StartInfo(redirectInput: false, "--soak-child", service, mode);
            SimulatedMach.ConfigureChild(psi);
            var h = new Helper { Process = Process.Start(psi)!, Mode = mode };
            helpers[h.Process.Id] = h;
            h.Process.OutputDataReceived += (_, e) =>
            {
                // "stats <calls> <errors> <p99 µs>", cumulative calls and errors, p99 of the last second
                string[]? f = e.Data?.Split(' ');
                if (f is { Length: 4 } && f[0] == "stats")
                {
                    Volatile.Write(ref h.Calls, long.Parse(f[1], CultureInfo.InvariantCulture));
                    Volatile.Write(ref h.Errors, long.Parse(f[2], CultureInfo.InvariantCulture));
                    h.P99Us = double.Parse(f[3], CultureInfo.InvariantCulture);
                }
                else if (e.Data is not null)
                {
                    Console.Error.WriteLine($"helper {h.Process.Id} ({mode}): {e.Data}");
                }
            };
            h.Process.BeginOutputReadLine();
        }
        for (int i = 0; i < count; i++)
        {
            Spawn(i < 2 ? "flood" : i < 2 + count / 4 ? "victim" : "rpc");
        }

        Console.WriteLine($"soak: {seconds} s, {count} helpers (2 flood, {count / 4} killed and replaced at random, the rest RPC), {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"t s",5} {"calls/s",9} {"p99 µs",9} {"errors",7} {"kills",6} {"RSS MiB",8} {"threads",8} {"ports",7}");
        var rss = new List<double>();
        var threads = new List<int>();
        var rng = new Random(1);
        long doneCalls = 0, doneErrors = 0; // of helpers that were killed or ended
        long lastCalls = 0;
        var clock = Stopwatch.StartNew();
        for (int t = 1; t <= seconds; t++)
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(t))
            {
                Thread.Sleep(50);
                if (rng.Next(40) == 0)
                {
                    Helper[] victims = helpers.Values.Where(h => h.Mode == "victim").ToArray();
                    if (victims.Length > 0)
                    {
                        Helper v = victims[rng.Next(victims.Length)];
                        v.Process.Kill();
                        v.Process.WaitForExit();
                        helpers.TryRemove(v.Process.Id, out _);
                        doneCalls += Volatile.Read(ref v.Calls); // a killed helper's own errors are not counted: it died mid-call
                        kills++;
                        Spawn("victim");
                    }
                }
            }
            foreach (Helper h in helpers.Values.Where(h => h.Process.HasExited).ToArray())
            {
                Console.Error.WriteLine($"helper {h.Process.Id} ({h.Mode}) exited with {h.Process.ExitCode}");
                failures++;
                helpers.TryRemove(h.Process.Id, out _);
                doneCalls += h.Calls;
                doneErrors += h.Errors;
                Spawn(h.Mode);
            }
            long calls = doneCalls + helpers.Values.Sum(h => Volatile.Read(ref h.Calls));
            long errors = doneErrors + helpers.Values.Where(h => h.Mode != "victim").Sum(h => Volatile.Read(ref h.Errors));
            double p99 = helpers.Values.Where(h => h.Mode != "flood").Select(h => h.P99Us).DefaultIfEmpty(0).Max();
            (double mib, int threadCount) = Status();
            rss.Add(mib);
            threads.Add(threadCount);
            Console.WriteLine($"{t,5} {calls - lastCalls,9} {p99,9:F0} {errors,7} {kills,6} {mib,8:F1} {threadCount,8} {SimulatedMach.Snapshot().LivePorts,7}");
            lastCalls = calls;
            if (errors > 0)
            {
                failures++;
                break;
            }
        }

        foreach (Helper h in helpers.Values)
        {
            h.Process.Kill();
            h.Process.WaitForExit();
        }
        string? leaks = null;
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10))
        {
            KernelSnapshot now = SimulatedMach.Snapshot();
            leaks = now.DescribeLeaksSince(before);
            if (leaks is null && now.Tasks.Count <= before.Tasks.Count)
            {
                break;
            }
            leaks ??= "helper tasks still alive";
            Thread.Sleep(50);
        }
        bool grew = Grew(rss, 16) || Grew(threads.Select(x => (double)x).ToList(), 8);
        Console.WriteLine($"kernel after the helpers: {leaks ?? "nothing left"}; RSS first third {Third(rss, 0):F1} MiB, last third {Third(rss, 2):F1} MiB; threads {Third(threads.Select(x => (double)x).ToList(), 0):F0} -> {Third(threads.Select(x => (double)x).ToList(), 2):F0}");
        bool ok = failures == 0 && leaks is null && !grew && server.IsRunning;
        Console.WriteLine(ok ? "result: OK" : $"result: FAILED (errors/exits {failures}, leaks {leaks is not null}, growth {grew}, server running {server.IsRunning})");
        return ok ? 0 : 1;
    }

    /// <summary>Median of the first or last third of the samples after a 10% warm-up.</summary>
    private static double Third(List<double> samples, int which)
    {
        int skip = samples.Count / 10;
        var s = samples.Skip(skip).ToList();
        int n = Math.Max(1, s.Count / 3);
        var part = (which == 0 ? s.Take(n) : s.Skip(s.Count - n)).OrderBy(x => x).ToList();
        return part.Count == 0 ? 0 : part[part.Count / 2];
    }

    private static bool Grew(List<double> samples, double slack) =>
        samples.Count >= 30 && Third(samples, 2) > Third(samples, 0) * 1.2 + slack;

    /// <summary>This process's resident set (MiB) and thread count, from /proc/self/status.</summary>
    private static (double RssMiB, int Threads) Status()
    {
        double rss = 0;
        int threads = 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }
        return (rss, threads);
    }

    /// <summary>A helper: <c>rpc</c>/<c>victim</c> call the server in a loop, <c>flood</c> sends oversize messages.</summary>
    public static int Child(string[] args)
    {
        string service = args[1];
        string mode = args[2];
        using SendRight server = BootstrapServer.LookUp(service);
        using var client = new MachRpcClient(BootstrapServer.LookUp(service));
        long calls = 0, errors = 0;
        var latencies = new List<double>(1 << 16);
        long nextReport = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        while (true)
        {
            if (mode == "flood")
            {
                MachMsgReturn mr = StopStress.SendOversize(server.Name);
                if (mr is not (MachMsgReturn.Success or MachMsgReturn.SendTimedOut))
                {
                    errors++;
                }
                calls++;
            }
            else
            {
                var request = new BenchRequest { Value = (int)calls };
                request.Prepare(0, 0);
                long t0 = Stopwatch.GetTimestamp();
                client.TryCall<BenchRequest, BenchReply>(request, out BenchReply reply, out _, out var result, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                if (!result.IsSuccess || reply.Value != (int)calls + 1)
                {
                    errors++;
                    Console.WriteLine($"call {calls}: {result}");
                }
                calls++;
            }
            if (Stopwatch.GetTimestamp() >= nextReport)
            {
                latencies.Sort();
                double p99 = latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))];
                Console.WriteLine($"stats {calls} {errors} {p99.ToString("F0", CultureInfo.InvariantCulture)}");
                latencies.Clear();
                nextReport = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
            }
        }
    }
}
