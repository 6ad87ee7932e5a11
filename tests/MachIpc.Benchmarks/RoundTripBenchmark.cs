using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MachIpc.Benchmarks.Harness;

namespace MachIpc.Benchmarks;

/// <summary>
/// Round trips over N independent pairs (N client threads, N server threads, nothing shared between pairs),
/// every row of a table measured side by side in the same run: each repetition runs every row once, in turn,
/// so drift and other load on the machine hit all rows alike. Figures are medians over the repetitions with
/// [min–max]; ratios are taken per repetition (row ÷ baseline measured moments apart) and then summarised.
/// Latency percentiles are over every round trip of every pair in a repetition; CPU and context switches per
/// round trip come from getrusage over the whole process (clients and servers).
/// </summary>
internal static class RoundTripBenchmark
{
    /// <summary>16 B and 1 KiB inline, 1/4/16/64 pairs: the simulator against the futex floor and socketpairs.</summary>
    public static string Small(int reps, int[] pairCounts)
    {
        var table = NewTable(baseline: null);
        foreach (int bytes in new[] { 16, 1024 })
        {
            foreach (int n in pairCounts)
            {
                Run(table, $"{bytes} B", n, reps, floor: 0, baseline: null,
                    new FutexPairs(),
                    new SimulatorPairs(bytes),
                    new SocketPairs(Wire(bytes), poll: false),
                    new SocketPairs(Wire(bytes), poll: true));
            }
        }
        return table.ToString();
    }

    /// <summary>64 KiB inline and 1 MiB out-of-line (copied, and moved with deallocate = TRUE) against socketpairs.</summary>
    public static string Large(int reps, int[] pairCounts)
    {
        var table = NewTable(baseline: "socketpair");
        foreach (int n in pairCounts)
        {
            Run(table, "64 KiB inline", n, reps, floor: 0, baseline: 2,
                new FutexPairs(),
                new SimulatorPairs(64 * 1024),
                new SocketPairs(Wire(64 * 1024), poll: false));
        }
        foreach (int n in pairCounts)
        {
            Run(table, "1 MiB OOL", n, reps, floor: 0, baseline: 3,
                new FutexPairs(),
                new SimulatorPairs(0, Payload.OolCopy, 1 << 20),
                new SimulatorPairs(0, Payload.OolMove, 1 << 20),
                new SocketPairs(1 << 20, poll: false));
        }
        return table.ToString();
    }

    /// <summary>
    /// The backends side by side, 16 B inline: the Darwin backend over the native libSystem on Linux
    /// (<c>MACHIPC_KERNEL=darwin</c>: libmachipc_system.so and the kernel host, in a child process because the backend
    /// is chosen at process start) against the in-process simulator, a socketpair and the futex floor.
    /// </summary>
    public static string Backends(int reps, int[] pairCounts)
    {
        var table = NewTable(baseline: "in-process simulator");
        foreach (int n in pairCounts)
        {
            Run(table, "16 B", n, reps, floor: 0, baseline: 1,
                new FutexPairs(),
                new SimulatorPairs(16),
                new ChildProcessPairs("darwin", 16),
                new SocketPairs(Wire(16), poll: false));
        }
        return table.ToString();
    }

    /// <summary>The bytes a socket carries for a Mach message with <paramref name="inlineBytes"/> after the header.</summary>
    private static int Wire(int inlineBytes) => 24 + inlineBytes;

    private static Table NewTable(string? baseline)
    {
        string[] columns = ["message", "pairs", "row", "p50 µs", "p99 µs", "round trips/s", "CPU µs / rt", "switches / rt", "B / rt",
            "p50 ÷ floor", "CPU ÷ floor", "p99 ÷ p50"];
        return new Table(baseline is null ? columns : [.. columns, $"p50 ÷ {baseline}"]);
    }

    private static void Run(Table table, string message, int pairs, int reps, int floor, int? baseline, params IRoundTripRow[] rows)
    {
        var perPair = new int[rows.Length];
        var samples = new List<Sample>[rows.Length];
        try
        {
            for (int r = 0; r < rows.Length; r++)
            {
                rows[r].Start(pairs);
                rows[r].Measure(Math.Max(1, 200 / pairs)); // warm-up (JIT, pools, page faults)
                perPair[r] = Calibrate.PerPair(rows[r].Seconds, Math.Max(2, 400 / pairs), 2, 200_000);
                samples[r] = new List<Sample>();
            }
            for (int rep = 0; rep < reps; rep++)
            {
                for (int r = 0; r < rows.Length; r++)
                {
                    samples[r].Add(rows[r].Measure(perPair[r]));
                }
            }
        }
        finally
        {
            foreach (IRoundTripRow p in rows)
            {
                p.Dispose();
            }
        }
        for (int r = 0; r < rows.Length; r++)
        {
            List<Sample> s = samples[r];
            string[] cells = [message, pairs.ToString(CultureInfo.InvariantCulture), rows[r].Name,
                Spread.Of(s.Select(x => x.P50Us)).Format("F2"),
                Spread.Of(s.Select(x => x.P99Us)).Format("F1"),
                Spread.Of(s.Select(x => x.PerSecond)).Format("F0"),
                Spread.Of(s.Select(x => x.CpuUsPerRoundTrip)).Format("F2"),
                Spread.Of(s.Select(x => x.SwitchesPerRoundTrip)).Format("F2"),
                Spread.Of(s.Select(x => x.BytesPerRoundTrip)).Format("F0"),
                Ratio(s, samples[floor], x => x.P50Us),
                Ratio(s, samples[floor], x => x.CpuUsPerRoundTrip),
                Spread.Of(s.Select(x => x.P99Us / x.P50Us)).Format("F1")];
            table.Row(baseline is int b ? [.. cells, Ratio(s, samples[b], x => x.P50Us)] : cells);
        }
        Console.Error.WriteLine($"  {message}, {pairs} pairs done");
    }

    private static string Ratio(List<Sample> row, List<Sample> baseline, Func<Sample, double> f) =>
        Spread.Of(row.Zip(baseline, (a, b) => f(a) / f(b))).Format("F2");
}
