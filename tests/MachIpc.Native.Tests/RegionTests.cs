using System.Diagnostics;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Native.Tests;

/// <summary>
/// The library's bookkeeping of out-of-line memory against a real host's VM accounting: what this test process's
/// simulated kernel says the probe's task holds after each step.
/// </summary>
public sealed class RegionTests
{
    private static int RegionsOf(int pid) => SimulatedMach.Snapshot().Tasks.Single(t => t.Pid == pid).VmRegions;

    [Fact]
    public void ReceivedRegions_AreFreedInTheHost_WhenForwardedWithDeallocate_WhenDeallocated_AndWhenNamesArraysAreFreed()
    {
        var psi = new ProcessStartInfo(Shim.Probe) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add("regions");
        psi.Environment["MACHIPC_KERNEL_SOCKET"] = SimulatedMach.ShareWithChildren();
        using var probe = Process.Start(psi)!;
        try
        {
            string Next()
            {
                Task<string?> line = probe.StandardOutput.ReadLineAsync();
                Assert.True(line.Wait(TimeSpan.FromSeconds(30)), "the probe said nothing in time");
                return line.Result ?? "(end of output)";
            }
            void Go()
            {
                probe.StandardInput.WriteLine("go");
                probe.StandardInput.Flush();
            }

            Assert.Equal("received", Next());
            Assert.Equal(1, RegionsOf(probe.Id));
            Go();
            Assert.Equal("forwarded", Next());
            Assert.Equal(1, RegionsOf(probe.Id)); // the first region went at copyin (DataFromRegion), the second arrived
            Go();
            Assert.Equal("deallocate 0", Next());
            Assert.Equal("deallocated", Next());
            Assert.Equal(0, RegionsOf(probe.Id)); // mach_vm_deallocate of the local copy freed the host's region
            Go();
            Assert.Equal("listed", Next());
            Assert.Equal(2, RegionsOf(probe.Id)); // mach_port_names' two arrays
            Go();
            Assert.Equal("names freed", Next());
            Assert.Equal(0, RegionsOf(probe.Id));
            Go();
            Assert.True(probe.WaitForExit(30_000));
            Assert.Equal(0, probe.ExitCode);
        }
        finally
        {
            if (!probe.HasExited)
            {
                probe.Kill();
            }
        }
    }
}
