using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// Pattern 1's security rules with real child processes, using only what a Mac offers (child processes, bootstrap
/// names, audit tokens, pid_for_task, process exit), so they can run on the real kernel too. The one test that
/// fakes pid reuse says so: it needs the simulated kernel.
/// </summary>
[Collection("cross-process")]
public sealed unsafe class RendezvousProcessTests : ChildProcessTests
{
    private static void Say(Process p, string line = "")
    {
        p.StandardInput.WriteLine(line);
        p.StandardInput.Flush();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AProcessHoldingTheParentsName_GetsNoTaskPort_AndTheHelperRefusesItsAnswer(bool sendTaskPort)
    {
        // The attack: another process checks in <prefix>.helper.<our pid> before we do and answers the helper.
        string name = HelperRendezvous.ServiceNameFor(_prefix, Mach.CurrentPid);
        Process squatter = Start("squat", name);
        Assert.Equal("listening", ReadLine(squatter));
        Process helper = Start(sendTaskPort ? ["connect", name, "task-port"] : ["connect", name]);

        string verdict = Finish(helper);
        Assert.StartsWith("refused ", verdict);
        Assert.Contains($"answered by pid {squatter.Id}, not by the parent (pid {Mach.CurrentPid})", verdict);
        string loot = Finish(squatter);
        Assert.StartsWith("no task port;", loot);
        AssertNoLeaks();
    }

    [Fact]
    public void AParentWhoseNameAnotherProcessHolds_FailsLoudly()
    {
        Process squatter = Start("squat", HelperRendezvous.ServiceNameFor(_prefix, Mach.CurrentPid));
        Assert.Equal("listening", ReadLine(squatter));
        var error = Assert.Throws<MachRendezvousException>(() => new HelperRendezvous(_prefix));
        Assert.Contains("already held by another task", error.Message);
        squatter.Kill();
        Assert.True(squatter.WaitForExit(ChildTimeout));
        AssertNoLeaks();
    }

    [Fact]
    public void AHelperThatChecksInBeforeExpect_IsHeldAndThenAnswered()
    {
        using (var rendezvous = new HelperRendezvous(_prefix))
        {
            Process helper = Start("connect", rendezvous.ServiceName);
            Assert.True(SpinWait.SpinUntil(() => rendezvous.HeldCheckIns == 1 || helper.HasExited, ChildTimeout), "the check-in never arrived");
            using HelperRegistration registration = rendezvous.Expect(helper.Id); // spawn has returned: now we know the pid
            Assert.Equal("connected", ReadLine(helper));
            using HelperConnection? connection = registration.WaitForConnection(ChildTimeout);
            Assert.NotNull(connection);
            Assert.Equal(helper.Id, connection.Pid);
            Assert.Null(connection.TaskPort);
            Say(helper);
            Assert.True(helper.WaitForExit(ChildTimeout));
        }
        AssertNoLeaks();
    }

    [Fact]
    public void AHelperThatSendsItsTaskPort_HasItVerifiedWithPidForTask()
    {
        using (var rendezvous = new HelperRendezvous(_prefix))
        {
            Process helper = Start("connect", rendezvous.ServiceName, "task-port");
            using HelperRegistration registration = rendezvous.Expect(helper.Id);
            Assert.Equal("connected", ReadLine(helper));
            using HelperConnection? connection = registration.WaitForConnection(ChildTimeout);
            Assert.NotNull(connection?.TaskPort);
            int pid;
            Assert.Equal(KernReturn.Success, Mach.PidForTask(connection.TaskPort.Name, &pid));
            Assert.Equal(helper.Id, pid);
            Say(helper);
            Assert.True(helper.WaitForExit(ChildTimeout));
        }
        AssertNoLeaks();
    }

    [Fact]
    public void AHeldCheckIn_IsDropped_WhenItsProcessIsKilled()
    {
        using (var rendezvous = new HelperRendezvous(_prefix))
        {
            Process helper = Start("connect", rendezvous.ServiceName);
            Assert.True(SpinWait.SpinUntil(() => rendezvous.HeldCheckIns == 1 || helper.HasExited, ChildTimeout), "the check-in never arrived");
            helper.Kill();
            Assert.True(SpinWait.SpinUntil(() => rendezvous.HeldCheckIns == 0, ChildTimeout), "the held check-in outlived its process");
            // Nothing is waiting for that pid any more: expecting it now finds a process that has exited.
            using HelperRegistration registration = rendezvous.Expect(helper.Id);
            Assert.Null(registration.WaitForConnection(ChildTimeout));
            Assert.True(registration.HasExited);
        }
        AssertNoLeaks();
    }

    /// <summary>Expects a helper that exits without checking in; returns once the registration says so.</summary>
    private HelperRegistration ExpectAHelperThatExits(HelperRendezvous rendezvous)
    {
        Process helper = Start("wait");
        HelperRegistration registration = rendezvous.Expect(helper.Id);
        Say(helper); // exits without checking in
        Assert.True(helper.WaitForExit(ChildTimeout));
        Assert.Null(registration.WaitForConnection(ChildTimeout));
        Assert.True(registration.HasExited);
        return registration;
    }

    [Fact]
    public void ARegistration_IsDropped_WhenItsProcessExitsBeforeCheckingIn()
    {
        using (var rendezvous = new HelperRendezvous(_prefix))
        {
            ExpectAHelperThatExits(rendezvous).Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void AProcessThatReusesAnExitedHelpersPid_CannotClaimItsChannel()
    {
        // Simulator-only: the process that reuses the pid is a task with that pid and the next pid version.
        using (var rendezvous = new HelperRendezvous(_prefix))
        {
            using HelperRegistration registration = ExpectAHelperThatExits(rendezvous);
            AuditToken parent = SimulatedMach.CurrentTask.AuditToken;
            var fromParent = new HelperConnectOptions { ParentPid = parent.Pid };
            using SimulatedTask reused = SimulatedKernel.Shared.CreateTask("reused pid", registration.Pid, parent.Euid, parent.Egid);
            Exception? refused = null;
            var thread = new Thread(() =>
            {
                using (reused.Enter())
                {
                    try
                    {
                        HelperRendezvous.Connect(rendezvous.ServiceName, fromParent).Dispose();
                    }
                    catch (Exception ex)
                    {
                        refused = ex;
                    }
                }
            });
            thread.Start();
            Assert.True(thread.Join(ChildTimeout));
            Assert.Contains("BOOTSTRAP_NOT_PRIVILEGED", Assert.IsType<MachException>(refused).Message);
        }
        AssertNoLeaks();
    }
}
