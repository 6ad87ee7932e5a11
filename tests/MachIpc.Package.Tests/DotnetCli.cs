using System.Threading;
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;

namespace MachIpc.Package.Tests;

/// <summary>The outcome of one <c>dotnet</c> child process.</summary>
public sealed record CliResult(string CommandLine, string WorkingDirectory, int ExitCode, string Output, TimeSpan Elapsed)
{
    /// <summary>Everything needed to understand a failure, for an assertion message.</summary>
    public string Describe() =>
        $"`{CommandLine}` in {WorkingDirectory} exited {ExitCode} after {Elapsed.TotalSeconds:F1} s. Output:\n{Output}";
}

/// <summary>Runs the <c>dotnet</c> CLI as a user would, isolated from the test host's own MSBuild environment.</summary>
public static class DotnetCli
{
    /// <summary>Generous: a pack or a first restore on a loaded 2-core machine can take minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    public static CliResult Run(string workingDirectory, IReadOnlyList<string> arguments, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }
        // `dotnet test` runs this host under MSBuild's environment (MSBuildSDKsPath, MSBUILD_EXE_PATH, ...);
        // a child build must resolve its SDK from scratch, as in a user's shell.
        foreach (var key in new List<string>(psi.Environment.Keys))
        {
            if (key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) ||
                key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) ||
                key.Equals("DOTNET_HOST_PATH", StringComparison.OrdinalIgnoreCase))
            {
                psi.Environment.Remove(key);
            }
        }
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // No build servers: they would outlive the test and hold its output pipes open.
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["UseSharedCompilation"] = "false";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        var output = new StringBuilder();
        var gate = new object();
        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                output.AppendLine(line);
            }
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        // A null line is end-of-stream: only after both have been seen is the output complete.
        using var stdoutDone = new ManualResetEventSlim();
        using var stderrDone = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) => { if (e.Data is null) stdoutDone.Set(); else Append(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is null) stderrDone.Set(); else Append(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var limit = timeout ?? DefaultTimeout;
        bool exited = process.WaitForExit(limit);
        if (!exited)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited after all.
            }
            process.WaitForExit(TimeSpan.FromSeconds(30));
        }
        stdoutDone.Wait(TimeSpan.FromSeconds(30));
        stderrDone.Wait(TimeSpan.FromSeconds(30));
        stopwatch.Stop();

        string text;
        lock (gate)
        {
            text = output.ToString();
        }
        var commandLine = "dotnet " + string.Join(' ', arguments);
        if (!exited)
        {
            text += $"\n[timed out after {limit.TotalMinutes:F0} min and was killed]";
        }
        return new CliResult(commandLine, workingDirectory, exited ? process.ExitCode : -1, text, stopwatch.Elapsed);
    }
}
