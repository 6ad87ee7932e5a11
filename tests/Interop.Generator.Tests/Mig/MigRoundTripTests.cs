using System;
using System.Collections.Generic;
using System.Linq;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel.Simulated;
using MachIpc.Mig;
using MachIpc.Ports;
using MachIpc.Server;
using MigTests.MachExc;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// A generated MIG client calling a generated MIG dispatcher over the simulated kernel, two tasks apart: arguments of
/// every shape arrive intact (variable arrays short of their maximum move later fields up on the wire), results come
/// back, and the error paths — a failing routine, a throwing handler, MIG_NO_REPLY, an unknown id — end as MIG's
/// do, with nothing leaked in either task.
/// </summary>
public sealed unsafe class MigRoundTripTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("mig-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("mig-client");

    public void Dispose()
    {
        using (_clientTask.Enter())
        {
            MigReplyPort.Destroy();
        }
        _serverTask.Dispose();
        _clientTask.Dispose();
    }

    /// <summary>Serves <paramref name="dispatcher"/> in the server task; returns the client task's send right.</summary>
    private (MachServer Server, SendRight Right) Serve(IMachDispatcher dispatcher)
    {
        string service = "org.machipc.tests.mig." + Guid.NewGuid().ToString("N");
        MachServer server;
        using (_serverTask.Enter())
        {
            server = MachServer.CheckIn(service, dispatcher);
            server.Start();
        }
        using (_clientTask.Enter())
        {
            return (server, BootstrapServer.LookUp(service));
        }
    }

    private void Stop(MachServer server, SendRight right)
    {
        using (_clientTask.Enter())
        {
            right.Dispose();
            MigReplyPort.Destroy();
        }
        using (_serverTask.Enter())
        {
            server.Dispose();
        }
    }

    private sealed class ExceptionHandler : IMachExcHandler
    {
        public readonly List<string> Calls = new();
        public int Result;
        public bool Throw;

        public int CatchMachExceptionRaise(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code)
        {
            Calls.Add($"raise {exception} [{string.Join(",", code.ToArray())}] thread={thread != 0} task={task != 0}");
            if (Throw)
            {
                throw new InvalidOperationException("handler failure");
            }
            if (Result == 0)
            {
                // Success: the handler owns the rights the request carried.
                SendRight.Adopt(thread).Dispose();
                SendRight.Adopt(task).Dispose();
            }
            return Result;
        }

        public int CatchMachExceptionRaiseState(uint exceptionPort, int exception, ReadOnlySpan<long> code, ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            Calls.Add($"state {exception} [{string.Join(",", code.ToArray())}] flavor={flavor} old={oldState.Length}");
            newStateCnt = 0;
            return Result;
        }

        public int CatchMachExceptionRaiseStateIdentity(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code,
            ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            Calls.Add($"identity {exception} [{string.Join(",", code.ToArray())}] flavor={flavor} old=[{string.Join(",", oldState.ToArray())}]");
            newStateCnt = 0;
            if (Result != 0)
            {
                return Result;
            }
            SendRight.Adopt(thread).Dispose();
            SendRight.Adopt(task).Dispose();
            // Answer with the old state, each word plus one, and a new flavor.
            for (int i = 0; i < oldState.Length; i++)
            {
                newState[i] = oldState[i] + 1;
            }
            newStateCnt = oldState.Length;
            flavor += 100;
            return 0;
        }
    }

    [Fact]
    public void MachExceptionRaise_ArrivesAndSucceeds()
    {
        var handler = new ExceptionHandler();
        var serverBaseline = Baseline(_serverTask);
        (MachServer server, SendRight right) = Serve(new MachExcDispatcher(handler));
        using (_clientTask.Enter())
        {
            using var threadPort = ReceiveRight.Allocate();
            using var thread = threadPort.MakeSend();
            using var taskPort = ReceiveRight.Allocate();
            using var task = taskPort.MakeSend();
            int kr = MachExcClient.MachExceptionRaise(right.Name, thread.Name, task.Name, 1, new long[] { 0x101, -2 });
            Assert.Equal(0, kr);
            // A short code array: the message is trimmed, as MIG sends it.
            Assert.Equal(0, MachExcClient.MachExceptionRaise(right.Name, thread.Name, task.Name, 2, new long[] { 7 }));
            Assert.Equal(0, MachExcClient.MachExceptionRaise(right.Name, thread.Name, task.Name, 3, ReadOnlySpan<long>.Empty));
        }
        Stop(server, right);
        Assert.Equal(new[]
        {
            "raise 1 [257,-2] thread=True task=True",
            "raise 2 [7] thread=True task=True",
            "raise 3 [] thread=True task=True",
        }, handler.Calls);
        Assert.Equal(3, server.Metrics.Dispatched);
        Assert.Equal(serverBaseline, Baseline(_serverTask));
    }

    [Fact]
    public void MachExceptionRaiseStateIdentity_CarriesStateBothWays()
    {
        var handler = new ExceptionHandler();
        (MachServer server, SendRight right) = Serve(new MachExcDispatcher(handler));
        using (_clientTask.Enter())
        {
            using var threadPort = ReceiveRight.Allocate();
            using var thread = threadPort.MakeSend();
            using var taskPort = ReceiveRight.Allocate();
            using var task = taskPort.MakeSend();
            int flavor = 6;
            uint[] oldState = Enumerable.Range(1, 68).Select(i => (uint)i * 3).ToArray();
            var newState = new uint[1296];
            // One code instead of two: every field after it (flavor, the state) moves up by 8 bytes on the wire.
            int kr = MachExcClient.MachExceptionRaiseStateIdentity(right.Name, thread.Name, task.Name, 1, new long[] { 0xdead },
                ref flavor, oldState, newState, out int newStateCnt);
            Assert.Equal(0, kr);
            Assert.Equal(106, flavor);
            Assert.Equal(68, newStateCnt);
            Assert.Equal(oldState.Select(w => w + 1), newState.Take(68));

            // The caller's room is too small: MIG fills it, reports the count, and fails with MIG_ARRAY_TOO_LARGE.
            flavor = 1;
            var small = new uint[10];
            kr = MachExcClient.MachExceptionRaiseStateIdentity(right.Name, thread.Name, task.Name, 1, new long[] { 1, 2 },
                ref flavor, oldState, small, out newStateCnt);
            Assert.Equal((int)MigReturn.ArrayTooLarge, kr);
            Assert.Equal(68, newStateCnt);
            Assert.Equal(oldState.Take(10).Select(w => w + 1), small);

            // Longer than the interface allows: refused before anything is sent.
            Assert.Equal((int)MigReturn.ArrayTooLarge, MachExcClient.MachExceptionRaiseStateIdentity(right.Name, thread.Name, task.Name, 1,
                new long[3], ref flavor, oldState, newState, out _));
        }
        Stop(server, right);
        Assert.Equal(2, handler.Calls.Count);
        Assert.StartsWith("identity 1 [57005] flavor=6 old=[3,6,9,", handler.Calls[0], StringComparison.Ordinal);
    }

    [Fact]
    public void FailingRoutine_IsAnsweredWithMigReplyError_AndTheRequestDestroyed()
    {
        var handler = new ExceptionHandler { Result = (int)KernReturn.Failure };
        var serverBaseline = Baseline(_serverTask);
        (MachServer server, SendRight right) = Serve(new MachExcDispatcher(handler));
        using (_clientTask.Enter())
        {
            using var threadPort = ReceiveRight.Allocate();
            using var thread = threadPort.MakeSend();
            using var taskPort = ReceiveRight.Allocate();
            using var task = taskPort.MakeSend();
            Assert.Equal((int)KernReturn.Failure, MachExcClient.MachExceptionRaise(right.Name, thread.Name, task.Name, 1, new long[] { 1 }));
            int flavor = 1;
            Assert.Equal((int)KernReturn.Failure, MachExcClient.MachExceptionRaiseStateIdentity(right.Name, thread.Name, task.Name, 1, new long[] { 1 },
                ref flavor, new uint[] { 1, 2 }, new uint[4], out int count));
            Assert.Equal(0, count);
            Assert.Equal(1, flavor);
        }
        Stop(server, right);
        Assert.Equal(2, handler.Calls.Count);
        // The rights the failed requests carried were destroyed with them, not left to the handler.
        Assert.Equal(serverBaseline, Baseline(_serverTask));
    }

    [Fact]
    public void ThrowingHandler_IsMigRemoteError_AndUnknownIdIsMigBadId()
    {
        var handler = new ExceptionHandler { Throw = true };
        var serverBaseline = Baseline(_serverTask);
        (MachServer server, SendRight right) = Serve(new MachExcDispatcher(handler));
        using (_clientTask.Enter())
        {
            using var threadPort = ReceiveRight.Allocate();
            using var thread = threadPort.MakeSend();
            Assert.Equal((int)MigReturn.RemoteError, MachExcClient.MachExceptionRaise(right.Name, thread.Name, thread.Name, 1, default));

            // 2408 is a skipped id: the dispatcher does not know it, and the server answers MIG_BAD_ID.
            var request = default(MachExceptionRaiseRequest);
            request.Prepare(right.Name, MigReplyPort.Get());
            request.Head.Id = 2408;
            request.thread.Name = thread.Name;
            request.task.Name = thread.Name;
            request.Head.Size = (uint)MachExceptionRaiseRequest.MinSize;
            byte* buffer = stackalloc byte[256];
            *(MachExceptionRaiseRequest*)buffer = request;
            var mr = MigClient.Call((MachMsgHeader*)buffer, (uint)MachExceptionRaiseRequest.MinSize, 256, migReplyPort: true, 0, 5000);
            Assert.Equal(MachMsgReturn.Success, mr);
            Assert.Equal(2408 + 100, ((MigReplyError*)buffer)->Header.Id);
            Assert.Equal((int)MigReturn.BadId, ((MigReplyError*)buffer)->RetCode);
        }
        Stop(server, right);
        Assert.Equal(1, server.Metrics.HandlerFailures);
        Assert.Equal(serverBaseline, Baseline(_serverTask));
    }

    private sealed class NoReplyHandler : IMachExcHandler
    {
        public uint Kept;

        public int CatchMachExceptionRaise(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code) => 0;

        public int CatchMachExceptionRaiseState(uint exceptionPort, int exception, ReadOnlySpan<long> code, ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            newStateCnt = 0;
            return 0;
        }

        public int CatchMachExceptionRaiseStateIdentity(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code, ref int flavor,
            ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt)
        {
            newStateCnt = 0;
            Kept = thread;
            return (int)MigReturn.NoReply;
        }
    }

    [Fact]
    public void MigNoReply_LeavesTheRightsWithTheHandler_AndTheClientTimesOut()
    {
        var handler = new NoReplyHandler();
        (MachServer server, SendRight right) = Serve(new MachExcDispatcher(handler));
        using (_clientTask.Enter())
        {
            using var threadPort = ReceiveRight.Allocate();
            using var thread = threadPort.MakeSend();
            int flavor = 0;
            uint replyPort = MigReplyPort.Get();
            int kr = MachExcClient.MachExceptionRaiseStateIdentity(right.Name, thread.Name, thread.Name, 1, default, ref flavor, default, new uint[1], out _, timeoutMs: 50);
            Assert.Equal((int)MachMsgReturn.RcvTimedOut, kr);
            // MIG's __MachMsgErrorWithTimeout: a reply may still come, so the thread's reply port was destroyed.
            Assert.NotEqual(replyPort, MigReplyPort.Get());
        }
        Stop(server, right);
        // The handler kept the rights: two send rights (thread, task) and the reply right are still in the server task.
        // The server destroyed none of them: the thread and task rights (one name, two urefs) are still in the server
        // task (a dead name by now: the client has destroyed the port they named).
        Assert.NotEqual(0u, handler.Kept);
        PortRightInfo kept = Assert.Single(_serverTask.Rights(), r => r.Name == handler.Kept);
        Assert.NotEqual(MachPortType.None, kept.Type & (MachPortType.Send | MachPortType.DeadName));
        Assert.Equal(2u, kept.Urefs);
        Assert.Equal(1, server.Metrics.Dispatched);
    }

    private static IReadOnlyList<PortRightInfo> Baseline(SimulatedTask task) => task.Rights().OrderBy(r => r.Name).ToArray();
}
