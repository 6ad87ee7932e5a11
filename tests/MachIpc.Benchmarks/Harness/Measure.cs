using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace MachIpc.Benchmarks.Harness;

/// <summary>
/// Process-wide CPU time and context switches from <c>getrusage(RUSAGE_SELF)</c>: every thread of the
/// benchmark (clients and servers alike), so "CPU per round trip" is the whole cost of one exchange.
/// </summary>
internal static unsafe class RUsage
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Native
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [DllImport("libc", EntryPoint = "getrusage", ExactSpelling = true)]
    private static extern int getrusage(int who, Native* usage);

    /// <summary>CPU seconds (user + system) and context switches (voluntary + involuntary) so far.</summary>
    public static (double Cpu, long Switches) Self()
    {
        Native n;
        if (getrusage(0, &n) != 0)
        {
            return (0, 0);
        }
        return (n.UtimeSec + n.StimeSec + (n.UtimeUsec + n.StimeUsec) / 1e6, n.NvCsw + n.NivCsw);
    }
}

/// <summary>One repetition of one row: totals over every pair.</summary>
internal readonly record struct Sample(long RoundTrips, double Seconds, double CpuSeconds, long Switches, long Allocated, double P50Us, double P99Us)
{
    public double PerSecond => RoundTrips / Seconds;
    public double CpuUsPerRoundTrip => CpuSeconds * 1e6 / RoundTrips;
    public double SwitchesPerRoundTrip => (double)Switches / RoundTrips;
    public double BytesPerRoundTrip => (double)Allocated / RoundTrips;

    /// <summary>
    /// Runs <paramref name="body"/> (which performs <paramref name="roundTrips"/> round trips in total and records
    /// each one's latency, in Stopwatch ticks, in <paramref name="latencies"/>) and measures it.
    /// </summary>
    public static Sample Take(long roundTrips, long[] latencies, Action body)
    {
        long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        (double cpu0, long sw0) = RUsage.Self();
        long t0 = Stopwatch.GetTimestamp();
        body();
        long t1 = Stopwatch.GetTimestamp();
        (double cpu1, long sw1) = RUsage.Self();
        long alloc1 = GC.GetTotalAllocatedBytes(precise: true);
        Array.Sort(latencies);
        double tickUs = 1e6 / Stopwatch.Frequency;
        return new Sample(roundTrips, (t1 - t0) / (double)Stopwatch.Frequency, cpu1 - cpu0, sw1 - sw0, alloc1 - alloc0,
            Percentile(latencies, 0.50) * tickUs, Percentile(latencies, 0.99) * tickUs);
    }

    private static long Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}

/// <summary>Median with min and max over repetitions (never best-of-N).</summary>
internal readonly record struct Spread(double Median, double Min, double Max)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = new List<double>(values);
        v.Sort();
        if (v.Count == 0)
        {
            return new Spread(double.NaN, double.NaN, double.NaN);
        }
        double median = v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
        return new Spread(median, v[0], v[^1]);
    }

    public string Format(string f) =>
        string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(f, CultureInfo.InvariantCulture)} [{Min.ToString(f, CultureInfo.InvariantCulture)}–{Max.ToString(f, CultureInfo.InvariantCulture)}]");
}

/// <summary>A markdown table printed as rows arrive.</summary>
internal sealed class Table
{
    private readonly string[] _columns;
    private readonly StringBuilder _text = new();

    public Table(params string[] columns)
    {
        _columns = columns;
        _text.Append("| ").AppendJoin(" | ", columns).AppendLine(" |");
        _text.Append('|');
        foreach (string _ in columns)
        {
            _text.Append("---|");
        }
        _text.AppendLine();
    }

    public void Row(params string[] cells)
    {
        if (cells.Length != _columns.Length)
        {
            throw new ArgumentException("cell count");
        }
        _text.Append("| ").AppendJoin(" | ", cells).AppendLine(" |");
    }

    public override string ToString() => _text.ToString();
}

/// <summary>Sizes a repetition so each lasts about <see cref="TargetSeconds"/>.</summary>
internal static class Calibrate
{
    public const double TargetSeconds = 0.25;

    /// <summary>Round trips per pair for one repetition, from a trial of <paramref name="trial"/> per pair.</summary>
    public static int PerPair(Func<int, double> runSeconds, int trial, int min, int max)
    {
        double s = Math.Max(runSeconds(trial), 1e-6);
        return Math.Clamp((int)(trial * TargetSeconds / s), min, max);
    }
}
