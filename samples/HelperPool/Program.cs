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

Console.WriteLine($"MachIpc helper pool: kernel backend {Mach.Backend}");
bool simulated = Mach.Backend == MachKernelBackend.Simulated;
Console.WriteLine(simulated
    ? "Helpers run as simulated tasks on threads of this process (each with its own port name space, pid and audit token)."
    : "Helpers run as threads of this process (one task on the real kernel).");

KernelSnapshot? before = simulated ? SimulatedMach.Snapshot() : null;
var helperTasks = Enumerable.Range(1, HelperCount)
    .Select(i => simulated ? SimulatedMach.CreateTask($"helper-{i}") : null)
    .ToArray();
int parentPid = Mach.CurrentPid;

using var rendezvous = new HelperRendezvous(Prefix);
Console.WriteLine($"parent pid {parentPid} serving check-ins at \"{rendezvous.ServiceName}\"");

var registrations = helperTasks.Select(t => rendezvous.Expect(t?.Pid ?? parentPid)).ToArray();
var reports = new HelperReport[HelperCount];
var threads = new Thread[HelperCount];
for (int i = 0; i < HelperCount; i++)
{
    int index = i;
    threads[i] = new Thread(() =>
    {
        using var scope = helperTasks[index]?.Enter();
        reports[index] = Helper.Run(rendezvous.ServiceName, parentPid, MessagesPerHelper);
    })
    { Name = $"helper-{i + 1}" };
    threads[i].Start();
}

var servers = new List<(HelperConnection Connection, MachServer Server, PoolServer Handlers)>();
foreach (var registration in registrations)
{
    var connection = registration.WaitForConnection(TimeSpan.FromSeconds(10))
                     ?? throw new TimeoutException($"helper pid {registration.Pid} never checked in");
    var handlers = new PoolServer(connection.Pid);
    var server = new MachServer(handlers, ReceiveRight.Adopt(connection.Channel.Receive.TakeName()),
        new MachServerOptions { Name = $"pool-{connection.Pid}" });
    server.Start();
    servers.Add((connection, server, handlers));
}
foreach (var thread in threads)
{
    thread.Join();
}

Console.WriteLine();
Console.WriteLine("helper  pid (audit token)  messages  median RTT  p99 RTT   fd passed");
bool ok = true;
for (int i = 0; i < HelperCount; i++)
{
    var report = reports[i];
    var (connection, server, handlers) = servers[i];
    server.Stop();
    bool verified = report.Error is null && report.Pid == connection.Pid && handlers.ForeignSenders == 0
                    && server.Metrics.Rejected == 0 && handlers.FileText == report.FileText;
    ok &= verified;
    Console.WriteLine($"{i + 1,6}  {connection.Pid,17}  {report.Messages,8}  {report.MedianMicros,7:F1} µs  {report.P99Micros,6:F1} µs  " +
                      $"{(report.FileText is null ? "no" : $"\"{report.FileText}\"")}" + (verified ? "" : $"  FAILED: {report.Error ?? "mismatch"}"));
}

long total = reports.Sum(r => (long)r.Messages);
double seconds = reports.Max(r => r.Elapsed.TotalSeconds);
Console.WriteLine();
Console.WriteLine($"summary: {HelperCount} helpers, {total} request/reply round trips in {seconds:F2} s " +
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
if (before is not null)
{
    string? leaks = SimulatedMach.Snapshot().DescribeLeaksSince(before);
    Console.WriteLine(leaks is null ? "kernel accounting: every port right and out-of-line region was released" : "LEAKS: " + leaks);
    ok &= leaks is null;
}
Console.WriteLine(ok ? "result: OK" : "result: FAILED");
return ok ? 0 : 1;

/// <summary>What one helper measured.</summary>
internal sealed record HelperReport(int Pid, int Messages, double MedianMicros, double P99Micros, TimeSpan Elapsed, string? FileText, string? Error);

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
                fileport = Fileport.MakePort((int)handle.DangerousGetHandle());
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
