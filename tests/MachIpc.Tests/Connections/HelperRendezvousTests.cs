using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Tests.Connections;

/// <summary>
/// Pattern 1 between tasks of the simulated kernel in this process (simulator-only). The same rules with real
/// child processes, as they would run on a Mac, are in CrossProcess/RendezvousProcessTests.
/// </summary>
public sealed unsafe class HelperRendezvousTests : InProcessTaskTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(10);

    // In-process tasks are not processes: there is no OS process to watch for exit.
    private static HelperRendezvousOptions InProcess(TimeSpan? hold = null, UnexpectedHelperPolicy policy = UnexpectedHelperPolicy.Refuse) =>
        new() { WatchProcessExit = false, EarlyCheckInHold = hold ?? Long, UnexpectedHelpers = policy };

    private HelperRendezvous Rendezvous(HelperRendezvousOptions options)
    {
        using (_parent.Enter())
        {
            return new HelperRendezvous(_prefix, options);
        }
    }

    private HelperRegistration Expect(HelperRendezvous rendezvous, int pid)
    {
        using (_parent.Enter())
        {
            return rendezvous.Expect(pid);
        }
    }

    private void AsParent(Action body)
    {
        using (_parent.Enter())
        {
            body();
        }
    }

    /// <summary>The helper's options: its parent is the parent task (getppid would name the test runner's parent).</summary>
    private HelperConnectOptions FromParent(bool sendTaskPort = false) => new() { ParentPid = _parent.Pid, SendTaskPort = sendTaskPort };

    /// <summary>Releases the helper's channel in the helper, then the parent's side in the parent, and checks both spaces are as they were.</summary>
    private void ReleaseAndCheck(SimulatedTask helper, MachChannel? helperChannel, params IDisposable?[] parentSide)
    {
        RunIn(helper, () => { helperChannel?.Dispose(); return 0; });
        AsParent(() =>
        {
            foreach (IDisposable? d in parentSide)
            {
                d?.Dispose();
            }
        });
        AssertNoLeaks();
    }

    private static int PidForTask(uint name)
    {
        int pid;
        Mach.PidForTask(name, &pid);
        return pid;
    }

    [Fact]
    public void ExpectedHelper_GetsItsPreCreatedChannel_IsIdentifiedByAuditToken_AndSendsNoTaskPort()
    {
        var rendezvous = Rendezvous(InProcess());
        var registration = Expect(rendezvous, _helper.Pid);
        Assert.Equal(HelperRendezvous.ServiceNameFor(_prefix, _parent.Pid), rendezvous.ServiceName);

        var helperChannel = RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent()));
        var connection = registration.WaitForConnection(Long);
        Assert.NotNull(connection);
        Assert.Equal(_helper.Pid, connection.Pid);
        Assert.Equal(_helper.AuditToken, connection.AuditToken); // pid version included
        Assert.Null(connection.TaskPort);

        RunIn(_helper, () => { SendNote(helperChannel, 11); return 0; });
        AsParent(() =>
        {
            Assert.Equal(11, ReceiveNote(connection.Channel));
            SendNote(connection.Channel, 12);
        });
        Assert.Equal(12, RunIn(_helper, () => ReceiveNote(helperChannel)));

        ReleaseAndCheck(_helper, helperChannel, connection, registration, rendezvous);
    }

    [Fact]
    public void TaskPort_IsSentOnlyWhenAsked_AndTheParentKeepsItAfterPidForTaskConfirmsIt()
    {
        var rendezvous = Rendezvous(InProcess());
        var registration = Expect(rendezvous, _helper.Pid);
        var helperChannel = RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent(sendTaskPort: true)));
        var connection = registration.WaitForConnection(Long);
        Assert.NotNull(connection);
        Assert.NotNull(connection.TaskPort);
        AsParent(() => Assert.Equal(_helper.Pid, PidForTask(connection.TaskPort.Name)));
        ReleaseAndCheck(_helper, helperChannel, connection, registration, rendezvous);
    }

    [Fact]
    public void UnexpectedPid_IsRefused_AndLeavesNothingBehind()
    {
        var rendezvous = Rendezvous(InProcess(hold: TimeSpan.Zero));
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent(sendTaskPort: true))));
        Assert.Contains("BOOTSTRAP_NOT_PRIVILEGED", Assert.IsType<MachException>(error.InnerException).Message);
        AsParent(rendezvous.Dispose);
        AssertNoLeaks();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnexpectedPid_GetsAnOnDemandChannel_WhenConfigured(bool sendTaskPort)
    {
        var rendezvous = Rendezvous(InProcess(policy: UnexpectedHelperPolicy.CreateChannel));
        var helperChannel = RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent(sendTaskPort)));
        var connection = rendezvous.AcceptUnexpected(Long);
        Assert.NotNull(connection);
        Assert.Equal(_helper.AuditToken, connection.AuditToken);
        Assert.Equal(sendTaskPort, connection.TaskPort is not null);
        RunIn(_helper, () => { SendNote(helperChannel, 5); return 0; });
        AsParent(() => Assert.Equal(5, ReceiveNote(connection.Channel)));
        ReleaseAndCheck(_helper, helperChannel, connection, rendezvous);
    }

    [Fact]
    public void HelperThatDiesBeforeAsking_LeavesNothingBehind()
    {
        var doomed = SimulatedMach.CreateTask("doomed helper");
        var rendezvous = Rendezvous(InProcess());
        var registration = Expect(rendezvous, doomed.Pid);
        doomed.Terminate();
        Assert.Null(registration.WaitForConnection(TimeSpan.FromMilliseconds(20)));
        ReleaseAndCheck(_helper, null, registration, rendezvous);
    }

    [Fact]
    public void EarlyCheckIn_IsHeldUntilExpect_SoAFastHelperIsNotRefused()
    {
        var rendezvous = Rendezvous(InProcess());
        Task<MachChannel> connecting = StartIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent()));
        Assert.True(SpinWait.SpinUntil(() => rendezvous.HeldCheckIns == 1 || connecting.IsCompleted, Long), "the check-in never arrived");
        Assert.False(connecting.IsCompleted, "the early check-in was answered before Expect");

        var registration = Expect(rendezvous, _helper.Pid); // answers the held check-in
        var connection = registration.WaitForConnection(Long);
        Assert.NotNull(connection);
        MachChannel helperChannel = Finish(connecting);
        Assert.Equal(0, rendezvous.HeldCheckIns);
        RunIn(_helper, () => { SendNote(helperChannel, 7); return 0; });
        AsParent(() => Assert.Equal(7, ReceiveNote(connection.Channel)));
        ReleaseAndCheck(_helper, helperChannel, connection, registration, rendezvous);
    }

    [Fact]
    public void EarlyCheckIn_IsRefusedWhenTheHoldEnds()
    {
        var rendezvous = Rendezvous(InProcess(hold: TimeSpan.FromMilliseconds(100)));
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent())));
        Assert.Contains("BOOTSTRAP_NOT_PRIVILEGED", Assert.IsType<MachException>(error.InnerException).Message);
        Assert.Equal(0, rendezvous.HeldCheckIns);
        AsParent(rendezvous.Dispose);
        AssertNoLeaks();
    }

    [Fact]
    public void ANewerPidVersion_ReplacesAHeldCheckIn_AndGetsTheChannel()
    {
        // Simulator-only: a second task with the same pid and the next pid version stands for a process that reused it.
        var rendezvous = Rendezvous(InProcess());
        Task<MachChannel> stale = StartIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent()));
        Assert.True(SpinWait.SpinUntil(() => rendezvous.HeldCheckIns == 1, Long));
        SimulatedTask reused = SimulatedKernel.Shared.CreateTask("helper (reused pid)", _helper.Pid, _helper.AuditToken.Euid, _helper.AuditToken.Egid);
        try
        {
            Assert.NotEqual(_helper.AuditToken.PidVersion, reused.AuditToken.PidVersion);
            Task<MachChannel> current = StartIn(reused, () => HelperRendezvous.Connect(rendezvous.ServiceName, FromParent()));
            // The older version's check-in is refused the moment the newer one arrives; the newer one is held.
            var error = Assert.Throws<AggregateException>(() => Finish(stale));
            Assert.Contains("BOOTSTRAP_NOT_PRIVILEGED", Assert.IsType<MachException>(error.InnerException).Message);
            Assert.Equal(1, rendezvous.HeldCheckIns);

            var registration = Expect(rendezvous, _helper.Pid);
            var connection = registration.WaitForConnection(Long);
            Assert.NotNull(connection);
            Assert.Equal(reused.AuditToken, connection.AuditToken);
            ReleaseAndCheck(reused, Finish(current), connection, registration, rendezvous);
        }
        finally
        {
            reused.Dispose();
        }
    }

    [Fact]
    public void ParentFailsLoudly_WhenSomeoneCheckedItsNameInFirst()
    {
        using var squatter = SimulatedMach.CreateTask("squatter");
        string name = HelperRendezvous.ServiceNameFor(_prefix, _parent.Pid);
        ReceiveRight squatted = RunIn(squatter, () => BootstrapServer.CheckIn(name));
        var error = Assert.Throws<MachRendezvousException>(() => Rendezvous(InProcess()));
        Assert.Contains("already held by another task", error.Message);
        RunIn(squatter, () => { squatted.Dispose(); return 0; });
        AssertNoLeaks();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASquatterThatAnswersTheCheckIn_IsNotTrusted_AndNeverGetsTheTaskPort(bool sendTaskPort)
    {
        using var squatter = SimulatedMach.CreateTask("squatter");
        string name = HelperRendezvous.ServiceNameFor(_prefix, _parent.Pid);
        ReceiveRight squatted = RunIn(squatter, () => BootstrapServer.CheckIn(name));
        // The squatter answers like the parent would, with a channel of its own, and looks for a port in the request.
        Task<string> squat = StartIn(squatter, () => AnswerLikeTheParent(squatted.Name));
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () => HelperRendezvous.Connect(name, FromParent(sendTaskPort))));
        var refused = Assert.IsType<MachRendezvousException>(error.InnerException);
        Assert.Contains($"answered by pid {squatter.Pid}, not by the parent (pid {_parent.Pid})", refused.Message);
        Assert.Equal("the check-in carried no port", Finish(squat));
        RunIn(squatter, () => { squatted.Dispose(); return 0; });
        AssertNoLeaks(); // the squatter's channel rights were released by the helper
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AParentsAnswerWithoutALiveChannelEnd_IsRefused_AndWhatDidArriveIsReleased(bool sendTaskPort)
    {
        // The right pid, but one end of the channel is MACH_PORT_NULL, as a right whose port died in transit is
        // MACH_PORT_DEAD (ipc_kmsg_copyout_port): neither is a right to adopt. Connect used to adopt both ends first
        // and failed with an ArgumentException, leaking the receive right that did arrive.
        string name = _prefix + ".halfchannel";
        ReceiveRight service = RunIn(_parent, () => BootstrapServer.CheckIn(name));
        Task<string> answer = StartIn(_parent, () => AnswerLikeTheParent(service.Name, liveSend: false));
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () => HelperRendezvous.Connect(name, FromParent(sendTaskPort))));
        var refused = Assert.IsType<MachRendezvousException>(error.InnerException);
        Assert.Contains("carried no live channel", refused.Message);
        Assert.Equal("the check-in carried no port", Finish(answer));
        RunIn(_parent, () => { service.Dispose(); return 0; });
        AssertNoLeaks();
    }

    private static string AnswerLikeTheParent(uint service, bool liveSend = true)
    {
        byte* buffer = stackalloc byte[1024];
        var request = (MachMsgHeader*)buffer;
        var mr = Mach.Msg(request, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 1024, service, 10_000, MachPortName.Null);
        if (mr != MachMsgReturn.Success)
        {
            return "nothing arrived: " + mr;
        }
        string found = request->IsComplex ? "the check-in carried a port" : "the check-in carried no port";
        var inbound = ReceiveRight.Allocate();
        using var outbound = ReceiveRight.Allocate();
        var reply = new HelperCheckInReply();
        reply.Prepare(request->RemotePort);
        reply.ChannelReceive.Name = inbound.TakeName();
        reply.ChannelSend.Name = liveSend ? outbound.MakeSend().TakeName() : MachPortName.Null;
        return reply.Send() == MachMsgReturn.Success ? found : "reply failed";
    }

    /// <summary>A helper doing step one by hand: check in announcing a task port, keep the client for step two.</summary>
    private static (MachRpcClient Client, MachChannel Channel) CheckInAnnouncingTaskPort(string service)
    {
        var client = new MachRpcClient(BootstrapServer.LookUp(service));
        var request = new HelperCheckInRequest { Options = HelperCheckInRequest.TaskPortFollows };
        request.Prepare(MachPortName.Null, MachPortName.Null);
        Assert.True(client.TryCall<HelperCheckInRequest, HelperCheckInReply>(request, out var reply, out _, out _));
        return (client, new MachChannel(ReceiveRight.Adopt(reply.ChannelReceive.Name), SendRight.Adopt(reply.ChannelSend.Name)));
    }

    private static MachRpcResult SendTaskPort(MachRpcClient client, uint port)
    {
        var request = new HelperTaskPortRequest();
        request.Prepare(MachPortName.Null, MachPortName.Null);
        request.TaskPort.Name = port;
        client.TryCall<HelperTaskPortRequest, HelperTaskPortReply>(request, out _, out _, out var r);
        return r;
    }

    public enum Forgery { AnotherTasksTaskPort, APlainPort, NoPort }

    [Theory]
    [InlineData(Forgery.AnotherTasksTaskPort)]
    [InlineData(Forgery.APlainPort)]
    [InlineData(Forgery.NoPort)]
    public void AForgedTaskPort_IsRefused_AndNothingTheHelperWasGivenIsKept(Forgery forgery)
    {
        using var other = SimulatedMach.CreateTask("other");
        var rendezvous = Rendezvous(InProcess());
        var registration = Expect(rendezvous, _helper.Pid);
        MachRpcResult result = RunIn(_helper, () =>
        {
            var (client, channel) = CheckInAnnouncingTaskPort(rendezvous.ServiceName);
            using (client)
            using (channel)
            using (var plain = ReceiveRight.Allocate())
            {
                uint port = forgery switch
                {
                    Forgery.AnotherTasksTaskPort => other.TaskPortNameIn(_helper),
                    Forgery.APlainPort => plain.MakeSend().TakeName(),
                    _ => MachPortName.Null,
                };
                MachRpcResult r = SendTaskPort(client, port); // COPY_SEND: our own right stays ours
                if (MachPortName.IsValid(port))
                {
                    Mach.PortDeallocate(Mach.TaskSelf, port);
                }
                return r;
            }
        });
        Assert.Equal(MachRpcStatus.RemoteError, result.Status);
        Assert.Equal((int)BootstrapReturn.NotPrivileged, result.Code);
        Assert.Null(registration.WaitForConnection(Long)); // the registration ended: nothing set up for the liar is kept
        Assert.False(registration.HasExited);
        ReleaseAndCheck(_helper, null, registration, rendezvous);
    }

    [Fact]
    public void ATaskPortFromAProcessThatDidNotCheckIn_IsRefused_AndTheHelperStillCompletes()
    {
        using var intruder = SimulatedMach.CreateTask("intruder");
        var rendezvous = Rendezvous(InProcess());
        var registration = Expect(rendezvous, _helper.Pid);
        var (client, channel) = RunIn(_helper, () => CheckInAnnouncingTaskPort(rendezvous.ServiceName));
        // Another process offers its own, genuine task port for the helper's pending registration.
        MachRpcResult intrusion = RunIn(intruder, () =>
        {
            using var toParent = new MachRpcClient(BootstrapServer.LookUp(rendezvous.ServiceName));
            return SendTaskPort(toParent, Mach.TaskSelf);
        });
        Assert.Equal((int)BootstrapReturn.NotPrivileged, intrusion.Code);
        Assert.True(RunIn(_helper, () => SendTaskPort(client, Mach.TaskSelf)).IsSuccess);
        var connection = registration.WaitForConnection(Long);
        Assert.NotNull(connection);
        AsParent(() => Assert.Equal(_helper.Pid, PidForTask(connection.TaskPort!.Name)));
        RunIn(_helper, () => { client.Dispose(); return 0; });
        ReleaseAndCheck(_helper, channel, connection, registration, rendezvous);
    }
}
