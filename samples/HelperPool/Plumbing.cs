using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Server;

namespace MachIpc.Samples.HelperPool;

// What the sample needs around the SDK: starting helpers, timing round trips, and the report. Nothing here is
// Mach IPC; Program.cs, PoolServer.cs and PoolClient.cs are.

/// <summary>What one helper measured, and what went wrong if anything did.</summary>
public sealed record HelperReport(int Pid, int Messages, double MedianMicros, double P99Micros, TimeSpan Elapsed, string? FileText, string? Error)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static HelperReport Failed(int pid, string error) => new(pid, 0, 0, 0, TimeSpan.Zero, null, error);

    /// <summary>One line a helper process prints for its parent.</summary>
    public string Serialize() => string.Join('\t', "report", Pid.ToString(Inv), Messages.ToString(Inv), MedianMicros.ToString("R", Inv),
        P99Micros.ToString("R", Inv), Elapsed.Ticks.ToString(Inv), Convert.ToBase64String(Encoding.UTF8.GetBytes(FileText ?? "")),
        Convert.ToBase64String(Encoding.UTF8.GetBytes(Error ?? "")));

    public static HelperReport? Parse(string? line)
    {
        string[] f = line?.Split('\t') ?? [];
        if (f.Length != 8 || f[0] != "report")
        {
            return null;
        }
        string file = Encoding.UTF8.GetString(Convert.FromBase64String(f[6]));
        string error = Encoding.UTF8.GetString(Convert.FromBase64String(f[7]));
        return new HelperReport(int.Parse(f[1], Inv), int.Parse(f[2], Inv), double.Parse(f[3], Inv), double.Parse(f[4], Inv),
            TimeSpan.FromTicks(long.Parse(f[5], Inv)), file.Length == 0 ? null : file, error.Length == 0 ? null : error);
    }
}

/// <summary>Round-trip times of one helper.</summary>
public sealed class Latencies(int count)
{
    private readonly long[] _ticks = new long[count];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _count;

    public static long Now => Stopwatch.GetTimestamp();

    public void Record(long started) => _ticks[_count++] = Stopwatch.GetTimestamp() - started;

    public HelperReport Report(string fileText)
    {
        TimeSpan elapsed = _clock.Elapsed;
        Array.Sort(_ticks, 0, _count);
        double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
        return new HelperReport(Mach.CurrentPid, _count, Micros(_ticks[_count / 2]), Micros(_ticks[(int)(_count * 0.99)]), elapsed, fileText, null);
    }
}

/// <summary>
/// The parent's helpers: child processes (this executable with <c>--helper</c>) on every kernel, or, with
/// <c>--threads</c> and the simulated kernel only, simulated tasks on threads of this process. Collects their
/// reports, prints the table and releases everything.
/// </summary>
public sealed class Helpers : IDisposable
{
    private const string HelperFlag = "--helper";

    private readonly int _messagesPerHelper;
    private readonly KernelSnapshot? _before;
    private readonly List<Helper> _helpers = new();

    private sealed class Helper
    {
        public int Pid;
        public Process? Child;
        public SimulatedTask? Task;
        public Thread? Waiter;
        public HelperReport? Report;
        public HelperConnection? Connection;
        public MachServer? Server;
        public PoolServer? Handlers;
    }

    private Helpers(bool threads, int messagesPerHelper)
    {
        AreThreads = threads;
        _messagesPerHelper = messagesPerHelper;
        _before = Mach.Backend == MachKernelBackend.Simulated ? SimulatedMach.Snapshot() : null;
    }

    /// <summary>Whether the helpers are simulated tasks on threads rather than processes.</summary>
    public bool AreThreads { get; }

    /// <summary>Whether this process was started as a helper; if so, the service to check in with.</summary>
    public static bool IsHelperProcess(string[] args, [NotNullWhen(true)] out string? serviceName)
    {
        serviceName = args.Length == 2 && args[0] == HelperFlag ? args[1] : null;
        return serviceName is not null;
    }

    /// <summary>A helper process's last word: its report on one line of stdout; the exit code says whether it worked.</summary>
    public static int Report(Func<HelperReport> run)
    {
        HelperReport report;
        try
        {
            report = run();
        }
        catch (Exception ex)
        {
            report = HelperReport.Failed(Mach.CurrentPid, ex.Message);
        }
        Console.WriteLine(report.Serialize());
        return report.Error is null ? 0 : 1;
    }

    /// <summary>Reads the parent's options and says what the helpers are; null (after saying why) if they cannot run here.</summary>
    public static Helpers? ForParent(string[] args, int messagesPerHelper)
    {
        bool threads = args.Contains("--threads");
        Console.WriteLine($"MachIpc helper pool: kernel backend {Mach.Backend}");
        if (threads && Mach.Backend != MachKernelBackend.Simulated)
        {
            Console.WriteLine("--threads runs helpers as simulated tasks, which only the simulated kernel has (MACHIPC_KERNEL=simulated).");
            return null;
        }
        Console.WriteLine(threads
            ? "Helpers are simulated tasks on threads of this process (--threads), each with its own port name space, pid and audit token."
            : Mach.Backend == MachKernelBackend.Darwin
                ? "Helpers are child processes (this executable with --helper); they inherit this process's bootstrap port."
                : "Helpers are child processes (this executable with --helper) joined to this process's simulated kernel; each is a task whose pid and ids come from its socket's peer credentials.");
        return new Helpers(threads, messagesPerHelper);
    }

    /// <summary>Starts one helper running <paramref name="run"/> and returns its pid.</summary>
    public int Start(string serviceName, Func<string, HelperConnectOptions, HelperReport> run)
    {
        var helper = new Helper();
        _helpers.Add(helper);
        if (AreThreads)
        {
            // A task of the simulated kernel is not a child process: tell the helper which pid its parent has.
            var options = new HelperConnectOptions { ParentPid = Mach.CurrentPid };
            helper.Task = SimulatedMach.CreateTask($"helper-{_helpers.Count}");
            helper.Pid = helper.Task.Pid;
            helper.Waiter = new Thread(() =>
            {
                using var scope = helper.Task.Enter();
                try
                {
                    helper.Report = run(serviceName, options);
                }
                catch (Exception ex)
                {
                    helper.Report = HelperReport.Failed(helper.Pid, ex.Message);
                }
            })
            { Name = $"helper-{_helpers.Count}" };
        }
        else
        {
            // The same executable in helper mode: the apphost (dotnet run, or the published app), or `dotnet HelperPool.dll`.
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            {
                psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HelperPool.dll"));
            }
            psi.ArgumentList.Add(HelperFlag);
            psi.ArgumentList.Add(serviceName);
            Mach.ConfigureChild(psi); // nothing on macOS (children inherit the bootstrap port); joins this kernel elsewhere
            helper.Child = Process.Start(psi)!;
            helper.Pid = helper.Child.Id;
            helper.Waiter = new Thread(() =>
            {
                string? line = helper.Child.StandardOutput.ReadLine();
                helper.Report = HelperReport.Parse(line) ?? HelperReport.Failed(helper.Pid, $"no report (\"{line}\")");
            })
            { Name = $"helper-{_helpers.Count} output" };
        }
        helper.Waiter.Start();
        return helper.Pid;
    }

    /// <summary>Records the connection and server of the helper it belongs to.</summary>
    public void Served(HelperConnection connection, MachServer server, PoolServer handlers)
    {
        Helper helper = _helpers.Single(h => h.Pid == connection.Pid);
        (helper.Connection, helper.Server, helper.Handlers) = (connection, server, handlers);
    }

    /// <summary>Gives up: says why (disposing then stops the helpers).</summary>
    public int Fail(string why)
    {
        Console.WriteLine(why);
        Console.WriteLine("result: FAILED");
        return 1;
    }

    /// <summary>Waits for every report, prints the table and the summary, releases everything and checks for leaks.</summary>
    public int Finish()
    {
        foreach (Helper helper in _helpers)
        {
            if (!helper.Waiter!.Join(TimeSpan.FromSeconds(60)))
            {
                helper.Report = HelperReport.Failed(helper.Pid, "did not finish in time");
            }
            if (helper.Child is { } child && !child.WaitForExit(10_000))
            {
                child.Kill();
            }
        }
        Console.WriteLine();
        Console.WriteLine("helper  pid (audit token)  OS pid  messages  median RTT  p99 RTT   fd passed");
        bool ok = true;
        for (int i = 0; i < _helpers.Count; i++)
        {
            Helper h = _helpers[i];
            HelperReport report = h.Report!;
            (HelperConnection connection, MachServer server, PoolServer handlers) = (h.Connection!, h.Server!, h.Handlers!);
            server.Stop();
            int osPid = h.Child?.Id ?? report.Pid;
            bool verified = report.Error is null && report.Pid == connection.Pid && connection.Pid == osPid
                            && handlers.ForeignSenders == 0 && handlers.Requests == _messagesPerHelper + 1
                            && server.Metrics.Rejected == 0 && handlers.FileText == report.FileText
                            && (h.Child is null || h.Child.ExitCode == 0);
            ok &= verified;
            Console.WriteLine($"{i + 1,6}  {connection.Pid,17}  {osPid,6}  {report.Messages,8}  {report.MedianMicros,7:F1} µs  {report.P99Micros,6:F1} µs  " +
                              $"{(report.FileText is null ? "no" : $"\"{report.FileText}\"")}" + (verified ? "" : $"  FAILED: {report.Error ?? "mismatch"}"));
        }
        long total = _helpers.Sum(h => (long)h.Report!.Messages);
        double seconds = _helpers.Max(h => h.Report!.Elapsed.TotalSeconds);
        Console.WriteLine();
        Console.WriteLine($"summary: {_helpers.Count} helper {(AreThreads ? "threads" : "processes")}, {total} request/reply round trips in {seconds:F2} s " +
                          $"({total / seconds:F0} round trips/s across helpers), rejected {_helpers.Sum(h => h.Server!.Metrics.Rejected)}");
        ReleaseHelpers();
        ok &= NothingLeaked();
        Console.WriteLine(ok ? "result: OK" : "result: FAILED");
        return ok ? 0 : 1;
    }

    private void ReleaseHelpers()
    {
        foreach (Helper h in _helpers)
        {
            h.Server?.Dispose();
            h.Connection?.Dispose();
            h.Task?.Dispose();
            h.Child?.Dispose();
            h.Server = null;
            h.Connection = null;
            h.Task = null;
            h.Child = null;
        }
    }

    private bool NothingLeaked()
    {
        if (_before is null)
        {
            return true; // the real kernel keeps no accounting we can compare
        }
        // A helper process's task dies when the kernel host sees its connection close; that can trail its exit.
        for (int i = 0; i < 100 && SimulatedMach.Snapshot().DescribeLeaksSince(_before) is not null; i++)
        {
            Thread.Sleep(20);
        }
        string? leaks = SimulatedMach.Snapshot().DescribeLeaksSince(_before);
        Console.WriteLine(leaks is null ? "kernel accounting: every port right and out-of-line region was released" : "LEAKS: " + leaks);
        return leaks is null;
    }

    /// <summary>Stops whatever is still running (after a failure).</summary>
    public void Dispose()
    {
        foreach (Helper h in _helpers)
        {
            try
            {
                if (h.Child is { HasExited: false })
                {
                    h.Child.Kill();
                }
            }
            catch (InvalidOperationException)
            {
            }
        }
        ReleaseHelpers();
    }
}
