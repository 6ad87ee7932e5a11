using System;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Benchmarks;

/// <summary>
/// Request/reply round trips (32-byte request, 32-byte reply) from N client threads to ONE server thread:
/// through the simulated Mach kernel (one service port, a send-once reply right per request, as MIG does),
/// and, as the baseline, over Unix-domain socketpairs (one per client, the single server thread poll()s them all).
/// Reported time is per round trip across all clients (OperationsPerInvoke = total round trips), so
/// 1 / time is the aggregate throughput.
/// </summary>
[MemoryDiagnoser]
public unsafe class RoundTripBenchmarks
{
    // Total round trips per invocation, split evenly over the clients (2000 / 16 = 125).
    private const int TotalRoundTrips = 2000;
    private const int MsgSize = 32;

    [Params(1, 4, 16)]
    public int Clients;

    private Workers? _workers;

    // ---- simulated Mach -------------------------------------------------------------------------

    private uint _service;
    private uint[] _replyPorts = [];
    private Thread? _machServer;

    [GlobalSetup(Target = nameof(Simulator_RoundTrip))]
    public void SetupSimulator()
    {
        if (!string.Equals(Environment.GetEnvironmentVariable(Mach.BackendVariable), "darwin", StringComparison.OrdinalIgnoreCase))
        {
            Environment.SetEnvironmentVariable(Mach.BackendVariable, "simulated");
        }
        uint s;
        Check(Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &s));
        Check(Mach.PortInsertRight(Mach.TaskSelf, s, s, MachMsgType.MakeSend));
        int q = (int)MachPortLimits.QLimitMax;
        Check(Mach.PortSetAttributes(Mach.TaskSelf, s, MachPortLimits.LimitsInfoFlavor, &q, 1));
        _service = s;
        _replyPorts = new uint[Clients];
        for (int i = 0; i < Clients; i++)
        {
            uint r;
            Check(Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &r));
            _replyPorts[i] = r;
        }
        _machServer = new Thread(MachServerLoop) { IsBackground = true, Name = "mach-server" };
        _machServer.Start();
        _workers = new Workers(Clients, MachClient);
    }

    private void MachServerLoop()
    {
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;
        while (true)
        {
            if (Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, _service, 0, 0) != MachMsgReturn.Success || h->Id < 0)
            {
                return;
            }
            h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
            h->LocalPort = MachPortName.Null;
            h->Size = MsgSize;
            h->Id += 100;
            Mach.Msg(h, MachMsgOption.SendMsg, MsgSize, 0, 0, 0, 0);
        }
    }

    private void MachClient(int index)
    {
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;
        uint reply = _replyPorts[index];
        for (int i = 0, n = TotalRoundTrips / Clients; i < n; i++)
        {
            h->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.MakeSendOnce);
            h->Size = MsgSize;
            h->RemotePort = _service;
            h->LocalPort = reply;
            h->VoucherPort = 0;
            h->Id = 500;
            MachMsgReturn mr = Mach.Msg(h, MachMsgOption.SendMsg | MachMsgOption.RcvMsg, MsgSize, 256, reply, 0, 0);
            if (mr != MachMsgReturn.Success || h->Id != 600)
            {
                throw new InvalidOperationException($"round trip failed: {mr}");
            }
        }
    }

    [Benchmark(OperationsPerInvoke = TotalRoundTrips)]
    public void Simulator_RoundTrip() => _workers!.RunOnce();

    [GlobalCleanup(Target = nameof(Simulator_RoundTrip))]
    public void CleanupSimulator()
    {
        _workers?.Dispose();
        byte* buf = stackalloc byte[64];
        var h = (MachMsgHeader*)buf;
        *h = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.CopySend, 0), Size = 24, RemotePort = _service, Id = -1 };
        Mach.Msg(h, MachMsgOption.SendMsg, 24, 0, 0, 0, 0);
        _machServer?.Join();
        Mach.PortDestroy(Mach.TaskSelf, _service);
        foreach (uint r in _replyPorts)
        {
            Mach.PortDestroy(Mach.TaskSelf, r);
        }
    }

    // ---- Unix-domain socketpair baseline ----------------------------------------------------------

    private int[] _clientFds = [];
    private int[] _serverFds = [];
    private Thread? _socketServer;

    [GlobalSetup(Target = nameof(SocketPair_RoundTrip))]
    public void SetupSockets()
    {
        _clientFds = new int[Clients];
        _serverFds = new int[Clients];
        int* pair = stackalloc int[2];
        for (int i = 0; i < Clients; i++)
        {
            if (Libc.socketpair(1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, pair) != 0)
            {
                throw new InvalidOperationException("socketpair failed: errno " + Marshal.GetLastPInvokeError());
            }
            _clientFds[i] = pair[0];
            _serverFds[i] = pair[1];
        }
        _socketServer = new Thread(SocketServerLoop) { IsBackground = true, Name = "socket-server" };
        _socketServer.Start();
        _workers = new Workers(Clients, SocketClient);
    }

    private void SocketServerLoop()
    {
        int n = _serverFds.Length;
        PollFd* fds = stackalloc PollFd[n];
        for (int i = 0; i < n; i++)
        {
            fds[i] = new PollFd { Fd = _serverFds[i], Events = 1 /* POLLIN */ };
        }
        byte* buf = stackalloc byte[MsgSize];
        int open = n;
        while (open > 0)
        {
            if (Libc.poll(fds, (nuint)n, -1) < 0)
            {
                return;
            }
            for (int i = 0; i < n; i++)
            {
                if (fds[i].Fd < 0 || fds[i].REvents == 0)
                {
                    continue;
                }
                if (!ReadExactly(fds[i].Fd, buf, MsgSize))
                {
                    Libc.close(fds[i].Fd);
                    fds[i].Fd = -1;
                    open--;
                    continue;
                }
                ((int*)buf)[5] += 100;
                Libc.write(fds[i].Fd, buf, MsgSize);
            }
        }
    }

    private void SocketClient(int index)
    {
        int fd = _clientFds[index];
        byte* buf = stackalloc byte[MsgSize];
        for (int i = 0, n = TotalRoundTrips / Clients; i < n; i++)
        {
            ((int*)buf)[5] = 500;
            Libc.write(fd, buf, MsgSize);
            if (!ReadExactly(fd, buf, MsgSize) || ((int*)buf)[5] != 600)
            {
                throw new InvalidOperationException("socket round trip failed");
            }
        }
    }

    private static bool ReadExactly(int fd, byte* buf, int count)
    {
        int got = 0;
        while (got < count)
        {
            nint r = Libc.read(fd, buf + got, (nuint)(count - got));
            if (r <= 0)
            {
                return false;
            }
            got += (int)r;
        }
        return true;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = TotalRoundTrips)]
    public void SocketPair_RoundTrip() => _workers!.RunOnce();

    [GlobalCleanup(Target = nameof(SocketPair_RoundTrip))]
    public void CleanupSockets()
    {
        _workers?.Dispose();
        foreach (int fd in _clientFds)
        {
            Libc.close(fd);
        }
        _socketServer?.Join();
    }

    private static void Check(KernReturn kr)
    {
        if (kr != KernReturn.Success)
        {
            throw new InvalidOperationException(kr.ToString());
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    private static class Libc
    {
        [DllImport("libc", SetLastError = true)] public static extern int socketpair(int domain, int type, int protocol, int* sv);
        [DllImport("libc", SetLastError = true)] public static extern nint read(int fd, byte* buf, nuint count);
        [DllImport("libc", SetLastError = true)] public static extern nint write(int fd, byte* buf, nuint count);
        [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
        [DllImport("libc", SetLastError = true)] public static extern int poll(PollFd* fds, nuint nfds, int timeout);
    }

    /// <summary>
    /// Persistent client threads: each invocation releases all of them to run their round trips and waits
    /// until every one is done (no thread creation or allocation per invocation).
    /// </summary>
    private sealed class Workers : IDisposable
    {
        private readonly Thread[] _threads;
        private readonly SemaphoreSlim _go = new(0);
        private readonly CountdownEvent _done;
        private readonly Action<int> _body;
        private volatile bool _stop;
        private Exception? _error;

        public Workers(int count, Action<int> body)
        {
            _body = body;
            _done = new CountdownEvent(count);
            _threads = new Thread[count];
            for (int i = 0; i < count; i++)
            {
                int index = i;
                _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = "client-" + i };
                _threads[i].Start();
            }
        }

        private void Loop(int index)
        {
            while (true)
            {
                _go.Wait();
                if (_stop)
                {
                    return;
                }
                try
                {
                    _body(index);
                }
                catch (Exception e)
                {
                    _error = e;
                }
                _done.Signal();
            }
        }

        public void RunOnce()
        {
            _done.Reset();
            _go.Release(_threads.Length);
            _done.Wait();
            if (_error is not null)
            {
                throw _error;
            }
        }

        public void Dispose()
        {
            _stop = true;
            _go.Release(_threads.Length);
            foreach (Thread t in _threads)
            {
                t.Join();
            }
        }
    }
}
