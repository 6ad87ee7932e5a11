using System;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Running;
using MachIpc.Benchmarks.Harness;

namespace MachIpc.Benchmarks;

public static class Program
{
    // Stopwatch/getrusage harnesses (tables in markdown on stdout, progress on stderr):
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --roundtrip [--reps 5] [--pairs 1,4,16,64]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --large     [--reps 5] [--pairs 1,4,16,64]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --backends  [--reps 5] [--pairs 1,4,16]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --scaling   [--reps 5] [--threads 2,4,16]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --xproc     [--reps 5] [--helpers 1,4,16,64] [--bytes 16,1024]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --hostile   [--reps 5] [--pairs 4]
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --stop-stress [cycles] [threads]   (Stop() latency and hangs under load, with 1 or N receive threads)
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --host-attack [frames] [connections] [helpers]   (host threads and RSS under socket attacks)
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --soak [seconds] [helpers]   (helpers, kills, floods; fails on errors, leaks, growth)
    // BenchmarkDotNet (the SDK's server stack against the raw seam):
    //   dotnet run -c Release --project tests/MachIpc.Benchmarks -- --filter '*ServerBenchmarks*'
    // build/run-benchmarks.sh runs them all and rewrites RESULTS.md.
    public static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "";
        int reps = Option(args, "--reps", [5])[0];
        switch (mode)
        {
            case "--roundtrip":
                Console.WriteLine(RoundTripBenchmark.Small(reps, Option(args, "--pairs", [1, 4, 16, 64])));
                return 0;
            case "--large":
                Console.WriteLine(RoundTripBenchmark.Large(reps, Option(args, "--pairs", [1, 4, 16, 64])));
                return 0;
            case "--backends":
                Console.WriteLine(RoundTripBenchmark.Backends(reps, Option(args, "--pairs", [1, 4, 16])));
                return 0;
            case "--pairs-child":
                return ChildProcessPairs.Child(args);
            case "--scaling":
                Console.WriteLine(ScalingBenchmark.Run(reps, Option(args, "--threads", [2, 4, 16])));
                return 0;
            case "--xproc":
                Console.WriteLine(CrossProcessBenchmark.Run(reps, Option(args, "--helpers", [1, 4, 16, 64]), Option(args, "--bytes", [16, 1024])));
                return 0;
            case "--hostile":
                Console.WriteLine(HostileTaskBenchmark.Run(reps, Option(args, "--pairs", [4])[0]));
                return 0;
            case "--stop-stress":
                return StopStress.Run(args);
            case "--soak":
                return Soak.Run(args);
            case "--soak-child":
                return Soak.Child(args);
            case "--host-attack":
                return HostAttack.Run(args);
            case "--host-attack-child":
                return HostAttack.Child(args);
            case "--host-attack-helper":
                return HostAttack.Helper(args);
            case "--xproc-child":
                return CrossProcessBenchmark.Child(args);
            default:
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
                return 0;
        }
    }

    private static int[] Option(string[] args, string name, int[] fallback)
    {
        int i = Array.IndexOf(args, name);
        return i < 0 || i + 1 >= args.Length ? fallback : args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }
}
