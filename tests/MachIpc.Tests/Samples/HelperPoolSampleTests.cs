using System.Diagnostics;
using System.Text.RegularExpressions;
using MachIpc.Kernel;
using Xunit;

namespace MachIpc.Tests.Samples;

/// <summary>The README's main sample, run as built: its helpers are child processes, and --threads exists only where it means something.</summary>
[Collection("cross-process")]
public sealed partial class HelperPoolSampleTests
{
    private static string SamplePath
    {
        get
        {
            // tests/MachIpc.Tests/bin/<cfg>/net10.0/ -> samples/HelperPool/bin/<cfg>/net10.0/
            string dir = AppContext.BaseDirectory.Replace(Path.Combine("tests", "MachIpc.Tests"), Path.Combine("samples", "HelperPool"), StringComparison.Ordinal);
            string path = Path.Combine(dir, "HelperPool");
            Assert.True(File.Exists(path), "sample not built at " + path);
            return path;
        }
    }

    private static (int ExitCode, string Output) Run(string? kernel, params string[] args)
    {
        var psi = new ProcessStartInfo(SamplePath) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove(Mach.KernelSocketVariable); // its own kernel, not this test process's
        psi.Environment.Remove(Mach.BackendVariable);
        if (kernel is not null)
        {
            psi.Environment[Mach.BackendVariable] = kernel;
        }
        using var p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("the sample did not finish");
        }
        return (p.ExitCode, output.Result);
    }

    [GeneratedRegex(@"^\s+\d+\s+(\d+)\s+(\d+)\s+5000\s", RegexOptions.Multiline)]
    private static partial Regex HelperRow();

    [Fact]
    public void TheSample_RunsItsHelpersAsChildProcesses_IdentifiedByTheirAuditTokens()
    {
        var (exitCode, output) = Run(null);
        Assert.True(exitCode == 0, output);
        Assert.Contains("Helpers are child processes", output);
        Assert.Contains("result: OK", output);
        var rows = HelperRow().Matches(output);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, row => Assert.Equal(row.Groups[2].Value, row.Groups[1].Value)); // audit-token pid = OS pid
        Assert.Equal(4, rows.Select(row => row.Groups[1].Value).Distinct().Count());
    }

    [Fact]
    public void Threads_AreRefused_WhereTheyWouldBeThreadsOfOneTask()
    {
        // With the real kernel (forced here; libSystem is never loaded) helpers on threads would share one task.
        var (exitCode, output) = Run("darwin", "--threads");
        Assert.Equal(2, exitCode);
        Assert.Contains("--threads runs helpers as simulated tasks, which only the simulated kernel has", output);
    }
}
