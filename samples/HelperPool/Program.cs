using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.Samples.HelperPool;
using MachIpc.Server;

// The helper pool: a parent serves its helpers the way Ladybird's browser serves its WebContent processes.
// Each helper checks in through the bootstrap server with its task port (pattern 1), the parent recognises it
// by the pid in the kernel's audit token, hands it a pre-created channel, and then answers thousands of
// requests on it and receives an open file as a fileport.

const int HelperCount = 4;
const int MessagesPerHelper = 5000;
const string Prefix = "org.machipc.samples.helperpool";

if (args.Length == 3 && args[0] == "--helper")
{
    // Helper mode: this process was started by the parent below and joined its kernel through the
    // environment (MACHIPC_KERNEL_SOCKET), the way a macOS child inherits launchd's bootstrap port. It checks
    // in only once the parent says it expects this pid (one line on stdin), so the check-in cannot race Expect.
    Console.ReadLine();
    var result = Helper.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), MessagesPerHelper);
    Console.WriteLine(result.Serialize());
    return result.Error is null ? 0 : 1;
}

Console.WriteLine($"MachIpc helper pool: kernel backend {Mach.Backend}");
bool simulated = Mach.Backend == MachKernelBackend.Simulated;
// A helper is recognised by its pid, so on Darwin (one task per process) helpers are always processes; the
// simulated kernel can also run them as tasks on threads of this process (--threads).
bool processes = !(simulated && args.Contains("--threads"));
Console.WriteLine(processes
    ? "Helpers are real processes (this executable in --helper mode) that share this process's Mach kernel; each is a task whose pid comes from the kernel."
    : "Helpers run as simulated tasks on threads of this process (each with its own port name space, pid and audit token).");

KernelSnapshot? before = simulated ? SimulatedMach.Snapshot() : null;
int parentPid = Mach.CurrentPid;

using var rendezvous = new HelperRendezvous(Prefix);
Console.WriteLine($"parent pid {parentPid} serving check-ins at \"{rendezvous.ServiceName}\"");

var reports = new HelperReport[HelperCount];
var threads = new Thread[HelperCount];
var children = new Process?[HelperCount];
var helperTasks = new SimulatedTask?[HelperCount];
var registrations = new HelperRegistration[HelperCount];
for (int i = 0; i < HelperCount; i++)
{
    int index = i;
    if (processes)
    {
        // The same executable in helper mode: the apphost (dotnet run, or the published app), or `dotnet HelperPool.dll`.
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HelperPool.dll"));
        }
        psi.ArgumentList.Add("--helper");
        psi.ArgumentList.Add(rendezvous.ServiceName);
        psi.ArgumentList.Add(parentPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Mach.ConfigureChild(psi); // as a macOS child shares its parent's bootstrap server; elsewhere: join this kernel
        var child = Process.Start(psi)!;
        children[i] = child;
        registrations[i] = rendezvous.Expect(child.Id); // the OS pid: the kernel takes it from the socket
        child.StandardInput.WriteLine("go");
        child.StandardInput.Flush();
        threads[i] = new Thread(() =>
        {
            string? line = child.StandardOutput.ReadLine();
            reports[index] = HelperReport.Parse(line) ?? new HelperReport(child.Id, 0, 0, 0, TimeSpan.Zero, null, $"no report (\"{line}\")");
        })
        { Name = $"helper-{i + 1} output" };
    }
    else
    {
        helperTasks[i] = simulated ? SimulatedMach.CreateTask($"helper-{i + 1}") : null;
        registrations[i] = rendezvous.Expect(helperTasks[i]?.Pid ?? parentPid);
        threads[i] = new Thread(() =>
        {
            using var scope = helperTasks[index]?.Enter();
            reports[index] = Helper.Run(rendezvous.ServiceName, parentPid, MessagesPerHelper);
        })
        { Name = $"helper-{i + 1}" };
    }
    threads[i].Start();
}

var servers = new List<(HelperConnection Connection, MachServer Server, PoolServer Handlers)>();
foreach (var registration in registrations)
{
    var connection = registration.WaitForConnection(TimeSpan.FromSeconds(10));
    if (connection is null)
    {
        Console.WriteLine($"helper pid {registration.Pid} never checked in");
        foreach (var child in children)
        {
            child?.Kill();
        }
        Console.WriteLine("result: FAILED");
        return 1;
    }
    var handlers = new PoolServer(connection.Pid);
    var server = new MachServer(handlers, ReceiveRight.Adopt(connection.Channel.Receive.TakeName()),
        new MachServerOptions { Name = $"pool-{connection.Pid}" });
    server.Start();
    servers.Add((connection, server, handlers));
}
foreach (var thread in threads)
{
    if (!thread.Join(TimeSpan.FromSeconds(60)))
    {
        Console.WriteLine($"{thread.Name} did not finish in time");
    }
}
foreach (var child in children)
{
    if (child is not null && !child.WaitForExit(10_000))
    {
        child.Kill();
    }
}

Console.WriteLine();
Console.WriteLine("helper  pid (audit token)  OS pid  messages  median RTT  p99 RTT   fd passed");
bool ok = true;
for (int i = 0; i < HelperCount; i++)
{
    var report = reports[i];
    var (connection, server, handlers) = servers[i];
    server.Stop();
    int osPid = children[i]?.Id ?? report.Pid;
    bool verified = report.Error is null && report.Pid == connection.Pid && connection.Pid == osPid && handlers.ForeignSenders == 0
                    && server.Metrics.Rejected == 0 && handlers.FileText == report.FileText
                    && (children[i] is null || children[i]!.ExitCode == 0);
    ok &= verified;
    Console.WriteLine($"{i + 1,6}  {connection.Pid,17}  {osPid,6}  {report.Messages,8}  {report.MedianMicros,7:F1} µs  {report.P99Micros,6:F1} µs  " +
                      $"{(report.FileText is null ? "no" : $"\"{report.FileText}\"")}" + (verified ? "" : $"  FAILED: {report.Error ?? "mismatch"}"));
}

long total = reports.Sum(r => (long)r.Messages);
double seconds = reports.Max(r => r.Elapsed.TotalSeconds);
Console.WriteLine();
Console.WriteLine($"summary: {HelperCount} helper {(processes ? "processes" : "threads")}, {total} request/reply round trips in {seconds:F2} s " +
                  $"({total / seconds:F0} round trips/s across helpers), rejected {servers.Sum(s => s.Server.Metrics.Rejected)}");

foreach (var (connection, server, _) in servers)
{
    server.Dispose();
    connection.Dispose();
}
foreach (var registration in registrations)
{
    registration.Dispose();
}
rendezvous.Dispose();
foreach (var task in helperTasks)
{
    task?.Dispose();
}
foreach (var child in children)
{
    child?.Dispose();
}
if (before is not null)
{
    // A helper process's task dies when the kernel host sees its connection close; that can trail its exit.
    for (int i = 0; i < 100 && SimulatedMach.Snapshot().DescribeLeaksSince(before) is not null; i++)
    {
        Thread.Sleep(20);
    }
    string? leaks = SimulatedMach.Snapshot().DescribeLeaksSince(before);
    Console.WriteLine(leaks is null ? "kernel accounting: every port right and out-of-line region was released" : "LEAKS: " + leaks);
    ok &= leaks is null;
}
Console.WriteLine(ok ? "result: OK" : "result: FAILED");
return ok ? 0 : 1;

/// <summary>What one helper measured.</summary>
internal sealed record HelperReport(int Pid, int Messages, double MedianMicros, double P99Micros, TimeSpan Elapsed, string? FileText, string? Error)
{
    private static readonly System.Globalization.CultureInfo Inv = System.Globalization.CultureInfo.InvariantCulture;

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

/// <summary>The helper side: check in, then call the parent over the channel it was given.</summary>
internal static class Helper
{
    public static HelperReport Run(string serviceName, int parentPid, int messages)
    {
        int pid = Mach.CurrentPid;
        try
        {
            using var channel = HelperRendezvous.Connect(serviceName);
            using var client = new MachRpcClient(channel.Send.Copy());
            var latencies = new long[messages];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < messages; i++)
            {
                var request = new ComputeRequest { Operand = i, Sequence = i };
                request.Prepare(MachPortName.Null, MachPortName.Null);
                long start = Stopwatch.GetTimestamp();
                var result = client.Call<ComputeRequest, ComputeReply>(request, out var reply, out var sender);
                latencies[i] = Stopwatch.GetTimestamp() - start;
                if (!result.IsSuccess || reply.Result != (long)i * i || reply.Sequence != i || reply.SeenPid != pid || sender.Pid != parentPid)
                {
                    return Failed(pid, $"round trip {i}: {result} result={reply.Result} seenPid={reply.SeenPid} replierPid={sender.Pid}");
                }
            }
            clock.Stop();
            string text = $"helper {pid} was here";
            string? error = PassFile(client, text);
            if (error is not null)
            {
                return Failed(pid, error);
            }
            Array.Sort(latencies);
            double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
            return new HelperReport(pid, messages, Micros(latencies[messages / 2]), Micros(latencies[(int)(messages * 0.99)]), clock.Elapsed, text, null);
        }
        catch (Exception ex)
        {
            return Failed(pid, ex.Message);
        }
    }

    private static string? PassFile(MachRpcClient client, string text)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, text);
            SendRight fileport;
            using (var handle = File.OpenHandle(path))
            {
                fileport = Fileport.MakePort(handle);
            }
            // The file is closed and deleted here; the fileport keeps it open for the parent.
            File.Delete(path);
            var request = new FileRequest();
            request.Prepare(MachPortName.Null, MachPortName.Null);
            request.File.Name = fileport.TakeName();
            var result = client.Call<FileRequest, FileReply>(request, out var reply, out _);
            return result.IsSuccess && reply.BytesRead == Encoding.UTF8.GetByteCount(text) ? null : $"file passing: {result}";
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static HelperReport Failed(int pid, string error) => new(pid, 0, 0, 0, TimeSpan.Zero, null, error);
}
