using System;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;
using MachIpc.Benchmarks.Harness;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Benchmarks;

[MachMessage(9000, Local = MachMsgType.MakeSendOnce)]
public partial struct BenchRequest
{
    public MachMsgHeader Header;
    public long Value;
}

[MachMessage(9100, Remote = MachMsgType.MoveSendOnce)]
public partial struct BenchReply
{
    public MachMsgHeader Header;
    public long Value;
}

[MachServer]
public sealed partial class BenchServer
{
    private void OnRequest(MachReceived<BenchRequest> request)
    {
        var reply = new BenchReply { Value = request.Message.Value + 1 };
        reply.Prepare(MachPortName.Null);
        request.Reply(ref reply);
    }
}

/// <summary>
/// The SDK's own layers on one request/reply: <see cref="MachRpcClient"/> (combined send+receive, reply
/// validation) to a <see cref="MachServer"/> (audit trailer, generated dispatch and validation, handler),
/// against the baseline of the same exchange written by hand on the raw seam (one mach_msg each way). Both
/// run through the simulated kernel between two simulated tasks. Also the latency of stopping an idle server
/// (the target: well under 100 ms; it is one wake-up message and a thread join). The floor row is a
/// futex ping-pong with a partner thread: two wake-ups and two sleeps, the least any thread-to-thread round
/// trip can cost.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public unsafe class ServerBenchmarks
{
    private SimulatedTask? _serverTask;
    private MachServer? _server;
    private MachRpcClient? _client;
    private ReceiveRight? _rawService;
    private SendRight? _rawSend;
    private ReceiveRight? _rawReply;

    // The client is the process's main simulated task (the benchmark thread never enters another), the
    // servers live in their own task and are found through the bootstrap server, as real peers would be.
    [GlobalSetup(Targets = new[] { nameof(MachServer_RpcRoundTrip), nameof(RawSeam_RoundTrip) })]
    public void Setup()
    {
        Environment.SetEnvironmentVariable(Mach.BackendVariable, "simulated");
        string name = "org.machipc.bench." + Guid.NewGuid().ToString("N");
        _serverTask = SimulatedMach.CreateTask("bench-server");
        using (_serverTask.Enter())
        {
            _server = MachServer.CheckIn(name, new BenchServer());
            _server.Start();
            _rawService = BootstrapServer.CheckIn(name + ".raw");
            uint raw = _rawService.Name;
            var task = _serverTask;
            new System.Threading.Thread(() => RawServerLoop(task, raw)) { IsBackground = true }.Start();
        }
        _client = new MachRpcClient(BootstrapServer.LookUp(name));
        _rawSend = BootstrapServer.LookUp(name + ".raw");
        _rawReply = ReceiveRight.Allocate();
    }

    private static void RawServerLoop(SimulatedTask task, uint service)
    {
        using var scope = task.Enter();
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;
        while (Mach.Msg(h, MachMsgOption.RcvMsg | MachMsgOption.RcvTrailerAudit, 0, 256, service, 0, 0) == MachMsgReturn.Success && h->Id >= 0)
        {
            h->Bits = MachMsgBits.Make(MachMsgType.MoveSendOnce, 0);
            h->LocalPort = MachPortName.Null;
            h->Size = BenchReply.SendSize;
            h->Id += 100;
            Mach.Msg(h, MachMsgOption.SendMsg, BenchReply.SendSize, 0, 0, 0, 0);
        }
    }

    [Benchmark(Baseline = true)]
    public long RawSeam_RoundTrip()
    {
        var request = new BenchRequest { Value = 1 };
        request.Prepare(_rawSend!.Name, _rawReply!.Name);
        Span<byte> buffer = stackalloc byte[BenchReply.ReceiveBufferSize + 64];
        request.SendReceive<BenchReply>(buffer);
        return buffer[24];
    }

    [Benchmark]
    public long MachServer_RpcRoundTrip()
    {
        var request = new BenchRequest { Value = 1 };
        request.Prepare(0, 0);
        _client!.TryCall<BenchRequest, BenchReply>(request, out var reply, out _, out _);
        return reply.Value;
    }

    private int* _words;
    private Thread? _partner;
    private volatile bool _stopPartner;

    [GlobalSetup(Target = nameof(FutexPingPong_Floor))]
    public void SetupFloor()
    {
        _words = (int*)NativeMemory.AllocZeroed(128);
        _partner = new Thread(() =>
        {
            while (true)
            {
                Native.Await(_words + 16);
                if (_stopPartner)
                {
                    return;
                }
                Native.Signal(_words);
            }
        }) { IsBackground = true };
        _partner.Start();
    }

    [Benchmark]
    public void FutexPingPong_Floor()
    {
        Native.Signal(_words + 16);
        Native.Await(_words);
    }

    [GlobalCleanup(Target = nameof(FutexPingPong_Floor))]
    public void CleanupFloor()
    {
        _stopPartner = true;
        Native.Signal(_words + 16);
        _partner?.Join();
        NativeMemory.Free(_words);
    }

    [GlobalCleanup(Targets = new[] { nameof(MachServer_RpcRoundTrip), nameof(RawSeam_RoundTrip) })]
    public void Cleanup()
    {
        _client?.Dispose();
        _rawReply?.Dispose();
        _rawSend?.Dispose();
        _serverTask?.Dispose(); // task death releases the servers' rights and ends the raw loop (B5)
    }

    [Benchmark]
    public void IdleServer_StartStop()
    {
        using var server = new MachServer(new BenchServer(), ReceiveRight.Allocate());
        server.Start();
        server.Stop();
    }
}
