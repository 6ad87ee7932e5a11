using System;
using System.Diagnostics;
using System.IO;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.Samples.ConnectionPatterns;

/// <summary>Process plumbing, not Mach IPC: this executable started again as a child, and a caller's pings.</summary>
internal static class Children
{
    public static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!);
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") // `dotnet ConnectionPatterns.dll`
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ConnectionPatterns.dll"));
        foreach (string arg in args) psi.ArgumentList.Add(arg);
        Mach.ConfigureChild(psi); // macOS: children inherit the bootstrap port; Linux: joins this process's kernel
        return Process.Start(psi)!;
    }

    public static bool Succeeded(Process child, string what)
    {
        bool exited = child.WaitForExit(TimeSpan.FromSeconds(30));
        if (!exited) child.Kill();
        bool ok = exited && child.ExitCode == 0;
        Console.WriteLine($"{what} (pid {child.Id}): {(ok ? "ok" : exited ? $"exit code {child.ExitCode}" : "timed out")}");
        return ok;
    }

    /// <summary>Calls <paramref name="server"/> <paramref name="count"/> times; true when every answer is right.</summary>
    public static bool Pings(SendRight server, int count)
    {
        using var client = new MachRpcClient(server);
        for (int i = 0; i < count; i++)
        {
            var ping = new Ping { Value = i };
            ping.Prepare(0, 0);
            client.TryCall<Ping, Pong>(ping, out Pong pong, out _, out var result);
            if (!result.IsSuccess || pong.Value != i + 1)
            {
                Console.Error.WriteLine($"ping {i}: {result}, answer {pong.Value}");
                return false;
            }
        }
        return true;
    }

    public const int PingCount = 100;
}
