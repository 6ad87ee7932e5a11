using System.Diagnostics;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>Kernel-wide leak checks need the shared kernel to themselves: this collection runs alone.</summary>
[CollectionDefinition("cross-process", DisableParallelization = true)]
public sealed class CrossProcessCollection;

/// <summary>
/// Tests with real child processes (tests/MachIpc.ProcessHelper) on the same kernel as this one: started with
/// <see cref="Mach.ConfigureChild"/>, they inherit the bootstrap port on a Mac and join this process's simulated
/// kernel elsewhere. With the simulated kernel every test also ends with a kernel-wide leak check.
/// </summary>
public abstract class ChildProcessTests : IDisposable
{
    protected static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(20);
    protected readonly string _prefix = "org.machipc.tests.xproc." + Guid.NewGuid().ToString("N")[..8];
    private readonly KernelSnapshot? _before;
    private readonly List<Process> _children = new();

    protected ChildProcessTests()
    {
        if (Mach.Backend == MachKernelBackend.Simulated)
        {
            SimulatedMach.ShareWithChildren();
            _before = SimulatedMach.Snapshot();
        }
    }

    public void Dispose()
    {
        foreach (Process p in _children)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                }
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    internal static string HelperPath
    {
        get
        {
            // tests/MachIpc.Tests/bin/<cfg>/net10.0/ -> tests/MachIpc.ProcessHelper/bin/<cfg>/net10.0/
            string dir = AppContext.BaseDirectory.Replace("MachIpc.Tests", "MachIpc.ProcessHelper", StringComparison.Ordinal);
            string path = Path.Combine(dir, "MachIpc.ProcessHelper");
            Assert.True(File.Exists(path), "helper not built at " + path);
            return path;
        }
    }

    /// <summary>Starts the helper; <paramref name="join"/> puts it on this process's kernel, otherwise on the kernel socket <paramref name="socket"/> if given.</summary>
    protected Process Start(bool join, string? socket, params string[] args)
    {
        var psi = new ProcessStartInfo(HelperPath) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove(Mach.KernelSocketVariable);
        if (join)
        {
            Mach.ConfigureChild(psi); // as a macOS child inherits the bootstrap port: here, join this kernel
        }
        else if (socket is not null)
        {
            psi.Environment[Mach.KernelSocketVariable] = socket;
        }
        var p = Process.Start(psi)!;
        _children.Add(p);
        return p;
    }

    /// <summary>Starts a helper on this process's kernel.</summary>
    protected Process Start(params string[] args) => Start(true, null, args);

    protected static string ReadLine(Process p)
    {
        Task<string?> line = p.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(ChildTimeout), $"helper {p.Id} said nothing in time");
        return line.Result ?? "(end of output)";
    }

    protected static string Finish(Process p)
    {
        string line = ReadLine(p);
        Assert.True(p.WaitForExit(ChildTimeout), $"helper {p.Id} did not exit");
        return line;
    }

    /// <summary>With the simulated kernel: nothing this test created is left in any task (children's tasks included).</summary>
    protected void AssertNoLeaks()
    {
        if (_before is null)
        {
            return; // the real kernel has no kernel-wide accounting to compare
        }
        // Children's tasks die when the host sees their lifeline close: give it a moment.
        string? leaks = null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            KernelSnapshot now = SimulatedMach.Snapshot();
            leaks = now.DescribeLeaksSince(_before);
            if (leaks is null && now.Tasks.Count <= _before.Tasks.Count)
            {
                return;
            }
            Thread.Sleep(20);
        }
        Assert.Fail("leaked: " + (leaks ?? "tasks still alive"));
    }
}
