using System;
using System.Diagnostics;
using BenchmarkDotNet.Running;

namespace MachIpc.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project tests/MachIpc.Benchmarks -- --filter '*RoundTrip*' [--job short]
    // dotnet run -c Release --project tests/MachIpc.Benchmarks -- --quick   (a few seconds, Stopwatch only)
    // dotnet run -c Release --project tests/MachIpc.Benchmarks -- --xproc [1,4,16]   (helper processes, Stopwatch)
    // dotnet run -c Release --project tests/MachIpc.Benchmarks -- --stop-stress [cycles]   (Stop() latency and hangs under load)
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--stop-stress")
        {
            return StopStress.Run(args);
        }
        if (args.Length > 0 && args[0] == "--xproc")
        {
            CrossProcessBenchmark.Run(args);
            return 0;
        }
        if (args.Length > 0 && args[0] == "--xproc-child")
        {
            return CrossProcessBenchmark.Child(args);
        }
        if (args.Length > 0 && args[0] == "--quick")
        {
            Quick();
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    private static void Quick()
    {
        foreach (int clients in new[] { 1, 4, 16 })
        {
            foreach (bool sim in new[] { true, false })
            {
                var b = new RoundTripBenchmarks { Clients = clients };
                if (sim)
                {
                    b.SetupSimulator();
                }
                else
                {
                    b.SetupSockets();
                }
                Action run = sim ? b.Simulator_RoundTrip : b.SocketPair_RoundTrip;
                for (int i = 0; i < 20; i++)
                {
                    run();
                }
                double best = double.MaxValue;
                for (int round = 0; round < 5; round++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < 20; i++)
                    {
                        run();
                    }
                    best = Math.Min(best, sw.Elapsed.TotalMicroseconds / (20.0 * 2000));
                }
                Console.WriteLine($"{(sim ? "simulator" : "socketpair"),-10} clients={clients,-2} {best,8:F2} us/round trip (best of 5)");
                if (sim)
                {
                    b.CleanupSimulator();
                }
                else
                {
                    b.CleanupSockets();
                }
            }
        }
    }
}
