using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Benchmarks.Harness;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;

namespace MachIpc.Benchmarks;

/// <summary>
/// Independent threads, each on its own port: every thread sends a 16-byte message to a port it holds the
/// receive right for and receives it back, with no other thread involved. Nothing is shared, so throughput
/// should grow with threads up to the cores (2 here) and not collapse beyond. Rows: the simulated kernel with a
/// task per thread, the simulated kernel with every thread in one task (their ports share one IPC space; a send that
/// only copies rights reads it without taking its lock, MsgSend.cs TryCopyinHeaderUnlocked), and a private socketpair
/// per thread (write, then read it back). Scaling = aggregate
/// throughput ÷ the same row's single-thread throughput in the same repetition.
/// </summary>
internal static unsafe class ScalingBenchmark
{
    private const int MessageBytes = MachMsgHeader.SizeOf + 16;

    public static string Run(int reps, int[] threadCounts)
    {
        var table = new Table("threads", "row", "ops/s (send + receive)", "scaling vs 1 thread", "CPU µs / op", "B / op");
        var rows = new Func<int, Loop>[]
        {
            n => new SimulatorLoop(n, taskPerThread: true),
            n => new SimulatorLoop(n, taskPerThread: false),
            n => new SimulatorLoop(n, taskPerThread: false, spin: 0),
            n => new SocketLoop(n),
        };
        var single = new List<double>[rows.Length];
        foreach (int threads in threadCounts.Prepend(1).Distinct())
        {
            var loops = rows.Select(f => f(threads)).ToArray();
            var samples = new List<Sample>[loops.Length];
            try
            {
                var per = new int[loops.Length];
                for (int r = 0; r < loops.Length; r++)
                {
                    loops[r].Start();
                    loops[r].Measure(1000);
                    per[r] = Calibrate.PerPair(loops[r].Seconds, 20_000, 1000, 5_000_000);
                    samples[r] = new List<Sample>();
                }
                for (int rep = 0; rep < reps; rep++)
                {
                    for (int r = 0; r < loops.Length; r++)
                    {
                        samples[r].Add(loops[r].Measure(per[r]));
                    }
                }
            }
            finally
            {
                foreach (Loop l in loops)
                {
                    l.Dispose();
                }
            }
            for (int r = 0; r < loops.Length; r++)
            {
                List<double> ops = samples[r].Select(s => s.PerSecond).ToList();
                if (threads == 1)
                {
                    single[r] = ops;
                }
                table.Row(threads.ToString(CultureInfo.InvariantCulture), loops[r].Name, Spread.Of(ops).Format("F0"),
                    Spread.Of(ops.Zip(single[r], (a, b) => a / b)).Format("F2"),
                    Spread.Of(samples[r].Select(s => s.CpuUsPerRoundTrip)).Format("F3"),
                    Spread.Of(samples[r].Select(s => s.BytesPerRoundTrip)).Format("F0"));
            }
            Console.Error.WriteLine($"  scaling, {threads} threads done");
        }
        KernelLock.SpinLimit = KernelLock.SpinLimitDefault;
        return table.ToString();
    }

    /// <summary>Persistent threads, each running its own loop of operations when released.</summary>
    private abstract class Loop(int threads) : IDisposable
    {
        private readonly Thread[] _threads = new Thread[threads];
        private readonly SemaphoreSlim _go = new(0);
        private readonly CountdownEvent _done = new(threads);
        private volatile bool _stop;
        private int _count;
        private Exception? _error;

        public abstract string Name { get; }

        protected abstract void Setup(int index);

        protected abstract void Op(int index);

        protected abstract void Teardown(int index);

        /// <summary>Called before each run (a row may change a kernel setting for its own runs).</summary>
        protected virtual void BeforeRun()
        {
        }

        public void Start()
        {
            using var ready = new CountdownEvent(_threads.Length);
            for (int i = 0; i < _threads.Length; i++)
            {
                int index = i;
                _threads[i] = new Thread(() =>
                {
                    Setup(index);
                    ready.Signal();
                    while (true)
                    {
                        _go.Wait();
                        if (_stop)
                        {
                            break;
                        }
                        try
                        {
                            for (int k = _count; k > 0; k--)
                            {
                                Op(index);
                            }
                        }
                        catch (Exception e)
                        {
                            _error = e;
                        }
                        _done.Signal();
                    }
                    Teardown(index);
                }) { IsBackground = true };
                _threads[i].Start();
            }
            ready.Wait();
        }

        private void RunOnce(int count)
        {
            BeforeRun();
            _count = count;
            _done.Reset();
            _go.Release(_threads.Length);
            _done.Wait();
            if (_error is not null)
            {
                throw new InvalidOperationException(Name + ": " + _error.Message, _error);
            }
        }

        public Sample Measure(int perThread) => Sample.Take((long)perThread * _threads.Length, [], () => RunOnce(perThread));

        public double Seconds(int perThread)
        {
            long t0 = Stopwatch.GetTimestamp();
            RunOnce(perThread);
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
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

    private sealed class SimulatorLoop(int threads, bool taskPerThread, int spin = 20) : Loop(threads)
    {
        private readonly SimulatedTask[] _tasks = new SimulatedTask[taskPerThread ? threads : 1];
        private readonly uint[] _ports = new uint[threads];
        private readonly nint[] _bufs = new nint[threads];
        private readonly IDisposable?[] _scopes = new IDisposable?[threads];

        public override string Name => (taskPerThread ? "simulated Mach, a task per thread" : "simulated Mach, one task")
            + (spin == KernelLock.SpinLimitDefault ? "" : ", no lock spin");

        protected override void BeforeRun() => KernelLock.SpinLimit = spin;

        protected override void Setup(int index)
        {
            SimulatedTask task;
            lock (_tasks)
            {
                task = _tasks[taskPerThread ? index : 0] ??= SimulatedMach.CreateTask("scaling-" + index);
            }
            _scopes[index] = task.Enter();
            uint p = ReceiveRight.Allocate().TakeName();
            Mach.PortInsertRight(Mach.TaskSelf, p, p, MachMsgType.MakeSend);
            _ports[index] = p;
            _bufs[index] = (nint)NativeMemory.AllocZeroed(256);
        }

        protected override void Op(int index)
        {
            var h = (MachMsgHeader*)_bufs[index];
            h->Bits = MachMsgBits.Make(MachMsgType.CopySend, 0);
            h->Size = MessageBytes;
            h->RemotePort = _ports[index];
            h->LocalPort = 0;
            h->VoucherPort = 0;
            h->Id = 7;
            if (Mach.Msg(h, MachMsgOption.SendMsg, MessageBytes, 0, 0, 0, 0) != MachMsgReturn.Success
                || Mach.Msg(h, MachMsgOption.RcvMsg, 0, 256, _ports[index], 0, 0) != MachMsgReturn.Success)
            {
                throw new InvalidOperationException("self send/receive failed");
            }
        }

        protected override void Teardown(int index)
        {
            NativeMemory.Free((void*)_bufs[index]);
            _scopes[index]?.Dispose();
            if (taskPerThread || index == 0)
            {
                _tasks[taskPerThread ? index : 0].Terminate();
            }
        }
    }

    private sealed class SocketLoop(int threads) : Loop(threads)
    {
        private readonly (int A, int B)[] _fds = new (int, int)[threads];
        private readonly nint[] _bufs = new nint[threads];

        public override string Name => "socketpair per thread";

        protected override void Setup(int index)
        {
            _fds[index] = Native.SocketPair();
            _bufs[index] = (nint)NativeMemory.AllocZeroed(256);
        }

        protected override void Op(int index)
        {
            var buf = (byte*)_bufs[index];
            if (!Native.WriteAll(_fds[index].A, buf, MessageBytes) || !Native.ReadExactly(_fds[index].B, buf, MessageBytes))
            {
                throw new InvalidOperationException("socket self write/read failed");
            }
        }

        protected override void Teardown(int index)
        {
            Native.close(_fds[index].A);
            Native.close(_fds[index].B);
            NativeMemory.Free((void*)_bufs[index]);
        }
    }
}
