using System.Diagnostics;
using System.Text.RegularExpressions;
using MachIpc.Kernel;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>The README's main sample, run as built on this project's backend: it launches itself as its helpers.</summary>
public sealed partial class SampleTests : BehaviourTest
{
    // A helper row of the sample's table: index, audit-token pid, OS pid, 5000 requests.
    [GeneratedRegex(@"^\s+\d+\s+(\d+)\s+(\d+)\s+5000\s", RegexOptions.Multiline)]
    private static partial Regex HelperRow();

    private static string ReadToEnd(Process run)
    {
        Task<string> said = run.StandardOutput.ReadToEndAsync();
        Assert.True(said.Wait(TimeSpan.FromMinutes(2)) && run.WaitForExit(ChildTimeout), "the sample did not finish");
        return said.Result;
    }

    [Fact]
    public void TheMainSample_RunsToResultOk_WithItsHelpersAsChildProcessesIdentifiedByTheirAuditTokens()
    {
        // samples/HelperPool/bin/<configuration>/<tfm>/, beside this project's output.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string sample = Path.Combine(RepoRoot, "samples", "HelperPool", "bin", output.Parent!.Name, output.Name, "HelperPool");
        Assert.True(File.Exists(sample), "sample not built at " + sample);
        var psi = new ProcessStartInfo(sample) { RedirectStandardOutput = true, UseShellExecute = false };
        psi.Environment.Remove(Mach.KernelSocketVariable); // its own kernel (off macOS), on this project's backend
        using var run = Track(Process.Start(psi)!);
        string text = ReadToEnd(run);
        Assert.True(run.ExitCode == 0, text);
        Assert.Contains("kernel backend " + Mach.Backend, text); // the backend this project runs the suite on
        Assert.Contains("result: OK", text);
        var rows = HelperRow().Matches(text);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, row => Assert.Equal(row.Groups[2].Value, row.Groups[1].Value)); // audit-token pid = OS pid
        Assert.Equal(4, rows.Select(row => row.Groups[1].Value).Distinct().Count());
    }
}
