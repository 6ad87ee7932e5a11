using System.Diagnostics;
using MachIpc.Kernel;
using Xunit;

namespace MachIpc.Tests.Samples;

/// <summary>
/// The README's main sample, run as built: --threads exists only where it means something. That it runs to
/// <c>result: OK</c> on each backend is the behaviour suite's (MachIpc.Behaviour/SampleTests).
/// </summary>
[Collection("cross-process")]
public sealed class HelperPoolSampleTests
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

    [Fact]
    public void Threads_AreRefused_WhereTheyWouldBeThreadsOfOneTask()
    {
        // With the real kernel (forced here; libSystem is never loaded) helpers on threads would share one task.
        var (exitCode, output) = Run("darwin", "--threads");
        Assert.Equal(2, exitCode);
        Assert.Contains("--threads runs helpers as simulated tasks, which only the simulated kernel has", output);
    }
}
