using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Behaviour.MachExc;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Mig;
using MachIpc.Ports;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>
/// MIG's wire across languages: the C# client and dispatcher generated from mach_exc.defs against the MIG-style C
/// stubs of CPeer/mach_exc_peer.c (written from MIG's behaviour: trimmed arrays with later fields moved up, the
/// request and reply checks, the <c>mig_reply_error_t</c> form), each side in its own process. Both routines succeed
/// with every value carried intact, and a failing routine comes back to the other language as the error reply's
/// <c>RetCode</c>; the task ports the requests carry are checked with the kernel (<c>pid_for_task</c>), and nothing
/// is left behind in this task.
/// </summary>
public sealed unsafe class MigCPeerTests : BehaviourTest
{
    private const int Failing = 99, Throwing = 98;

    /// <summary>Succeeds for exception 1 (state words + 1, flavor + 100), fails with KERN_FAILURE for 99, throws for 98.</summary>
    private sealed class Handler : IMachExcHandler
    {
        public readonly List<string> Calls = new();

        private static int TaskPid(uint task)
        {
            int pid;
            return Mach.PidForTask(task, &pid) == KernReturn.Success ? pid : -1;
        }

        private static int Finish(int exception, uint thread, uint task)
        {
            if (exception == Throwing)
            {
                throw new InvalidOperationException("handler failure"); // the server answers MIG_REMOTE_ERROR
            }
            if (exception == Failing)
            {
                return (int)KernReturn.Failure; // MIG's server destroys the request's rights
            }
            // A routine that succeeds owns the rights its request carried.
            SendRight.Adopt(thread).Dispose();
            SendRight.Adopt(task).Dispose();
            return 0;
        }

        public int CatchMachExceptionRaise(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code)
        {
            Calls.Add($"raise {exception} [{string.Join(",", code.ToArray())}] task pid {TaskPid(task)}");
            return Finish(exception, thread, task);
        }

        public int CatchMachExceptionRaiseState(uint exceptionPort, int exception, ReadOnlySpan<long> code, ref int flavor,
            ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            Calls.Add($"state {exception}"); // the C peer never calls it: the assertion on Calls would catch it
            newStateCnt = 0;
            return (int)KernReturn.Failure;
        }

        public int CatchMachExceptionRaiseStateIdentity(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code,
            ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            Calls.Add($"identity {exception} [{string.Join(",", code.ToArray())}] flavor {flavor} state [{string.Join(",", oldState.ToArray())}] task pid {TaskPid(task)}");
            newStateCnt = 0;
            int kr = Finish(exception, thread, task);
            if (kr == 0)
            {
                for (int i = 0; i < oldState.Length; i++)
                {
                    newState[i] = oldState[i] + 1;
                }
                newStateCnt = oldState.Length;
                flavor += 100;
            }
            return kr;
        }
    }

    /// <summary>Whether any task still holds a send right to <paramref name="port"/> (<c>mps_srights</c>).</summary>
    private static bool HasSenders(ReceiveRight port)
    {
        int* status = stackalloc int[10]; // mach_port_status_t, MACH_PORT_RECEIVE_STATUS_COUNT words
        uint count = 10;
        Assert.Equal(KernReturn.Success, Mach.PortGetAttributes(Mach.TaskSelf, port.Name, 2 /* MACH_PORT_RECEIVE_STATUS */, status, &count));
        return status[6] != 0;
    }

    [Fact]
    public void CMigClient_CallsTheGeneratedDispatcher_ResultsAndErrorRepliesReachC()
    {
        var handler = new Handler();
        string service = UniqueName("migdispatcher");
        int pid;
        using (MachServer server = MachServer.CheckIn(service, new MachExcDispatcher(handler)))
        {
            server.Start();
            Process child = StartC("mach_exc_peer.c", "client", service);
            pid = child.Id;
            Assert.Equal("raise 0", ReadLine(child));
            // The reply's state and flavor, as the C stub unpacked them.
            Assert.Equal("identity 0 flavor 106 state [4,7,10,13]", ReadLine(child));
            // The handler's KERN_FAILURE, as the mig_reply_error_t's RetCode; the C stub leaves the flavor alone.
            Assert.Equal("raise(99) 5", ReadLine(child));
            Assert.Equal("identity(99) 5 flavor 7", ReadLine(child));
            // A handler that throws: MIG_REMOTE_ERROR in the error reply.
            Assert.Equal("raise(98) -302", ReadLine(child));
            Assert.Equal("ok", Finish(child));
            server.Stop();
            Assert.Equal(5, server.Metrics.Received);
            Assert.Equal(4, server.Metrics.Dispatched);
            Assert.Equal(1, server.Metrics.HandlerFailures); // also the one rejection: nothing else was refused
            Assert.Equal(1, server.Metrics.Rejected);
        }
        Assert.Equal(new[]
        {
            $"raise 1 [257,-2] task pid {pid}",
            // One code of two: the dispatcher found flavor and state 8 bytes earlier, where MIG's C put them.
            $"identity 1 [257] flavor 6 state [3,6,9,12] task pid {pid}",
            $"raise 99 [257] task pid {pid}",
            $"identity 99 [257,-2] flavor 7 state [3,6] task pid {pid}",
            $"raise 98 [] task pid {pid}",
        }, handler.Calls);
    }

    [Fact]
    public void GeneratedClient_CallsACMigServer_ResultsAndErrorRepliesReachCSharp()
    {
        string service = UniqueName("migserver");
        Process child = StartC("mach_exc_peer.c", "server", service, "4");
        Assert.Equal("ready", ReadLine(child));
        string self = $"task pid {Environment.ProcessId}";
        using (SendRight server = BootstrapServer.LookUp(service))
        using (ReceiveRight threadPort = ReceiveRight.Allocate())
        using (SendRight thread = threadPort.MakeSend())
        {
            // The routine succeeded: the C server keeps (here, deallocates) the thread right it was sent.
            using (ReceiveRight carried = ReceiveRight.Allocate())
            {
                using (SendRight sent = carried.MakeSend())
                {
                    Assert.Equal(0, MachExcClient.MachExceptionRaise(server.Name, sent.Name, Mach.TaskSelf, 1, new long[] { 0x101, -2 }));
                }
                Assert.False(HasSenders(carried), "the C server kept the thread right of a request it served");
            }
            Assert.Equal("raise 1 [257,-2] " + self, ReadLine(child));

            int flavor = 6;
            var newState = new uint[1296];
            // One code of two: flavor and state travel 8 bytes earlier, where the C server's checks look for them.
            Assert.Equal(0, MachExcClient.MachExceptionRaiseStateIdentity(server.Name, thread.Name, Mach.TaskSelf, 1, new long[] { 0xdead },
                ref flavor, new uint[] { 3, 6, 9, 12 }, newState, out int count));
            Assert.Equal("identity 1 [57005] flavor 6 state [3,6,9,12] " + self, ReadLine(child));
            Assert.Equal(106, flavor);
            Assert.Equal(4, count);
            Assert.Equal(new uint[] { 4, 7, 10, 13 }, newState.Take(4));
            Assert.All(newState.Skip(4), w => Assert.Equal(0u, w));

            // The C server's KERN_FAILURE comes back in the short mig_reply_error_t form: the out values stay untouched.
            // mach_msg_server_once destroyed the failed request, with the right it carried, before replying.
            using (ReceiveRight carried = ReceiveRight.Allocate())
            {
                using (SendRight sent = carried.MakeSend())
                {
                    Assert.Equal((int)KernReturn.Failure, MachExcClient.MachExceptionRaise(server.Name, sent.Name, Mach.TaskSelf, Failing, new long[] { 7 }));
                }
                Assert.False(HasSenders(carried), "the C server's mach_msg_server_once kept the rights of a failed request");
            }
            Assert.Equal("raise 99 [7] " + self, ReadLine(child));
            flavor = 8;
            Assert.Equal((int)KernReturn.Failure, MachExcClient.MachExceptionRaiseStateIdentity(server.Name, thread.Name, Mach.TaskSelf, Failing,
                ReadOnlySpan<long>.Empty, ref flavor, new uint[] { 1, 2 }, newState, out count));
            Assert.Equal("identity 99 [] flavor 8 state [1,2] " + self, ReadLine(child));
            Assert.Equal(8, flavor);
            Assert.Equal(0, count);
            MigReplyPort.Destroy();
        }
        Assert.Equal("ok", Finish(child));
    }
}
