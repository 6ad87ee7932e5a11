using System;
using System.Linq;
using System.Text;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Mig;
using MachIpc.Ports;
using MachIpc.Server;
using MigTests.Shapes;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// Every argument shape of Mig/Defs/shapes.defs through a generated client and dispatcher over the simulated kernel:
/// scalars, fixed and variable arrays (fields behind a short array move up), strings, ports in, out and inout,
/// out-of-line data both ways, the trailer's sequence number and tokens, WaitTime and a simpleroutine.
/// </summary>
public sealed unsafe class MigShapesRoundTripTests : IDisposable
{
    private readonly SimulatedTask _serverTask = SimulatedMach.CreateTask("shapes-server");
    private readonly SimulatedTask _clientTask = SimulatedMach.CreateTask("shapes-client");
    private readonly Handler _handler = new();
    private readonly MachServer _server;
    private readonly SendRight _right;

    public MigShapesRoundTripTests()
    {
        string service = "org.machipc.tests.shapes." + Guid.NewGuid().ToString("N");
        using (_serverTask.Enter())
        {
            _server = MachServer.CheckIn(service, new ShapesDispatcher(_handler));
            _server.Start();
        }
        using (_clientTask.Enter())
        {
            _right = BootstrapServer.LookUp(service);
        }
    }

    public void Dispose()
    {
        _handler.Release.Set();
        using (_clientTask.Enter())
        {
            _right.Dispose();
            MigReplyPort.Destroy();
        }
        using (_serverTask.Enter())
        {
            _server.Dispose();
            _handler.Dispose();
        }
        _serverTask.Dispose();
        _clientTask.Dispose();
    }

    private sealed class Handler : IShapesHandler, IDisposable
    {
        public readonly ManualResetEventSlim Release = new();
        public ReceiveRight? Given;
        public uint Taken;
        public string Posted = string.Empty;
        public AuditToken Audit;
        public SecurityToken Sender;
        public uint ReplyPort;
        public uint LastSeqno;

        public int HandleEchoScalars(uint server, byte a, short b, int c, ulong d, out long sum, ref uint counter)
        {
            sum = a + b + c + (long)d;
            counter++;
            return 0;
        }

        public int HandleEchoArrays(uint server, ReadOnlySpan<uint> words, ReadOnlySpan<int> pairs, int tail, ReadOnlySpan<short> halves,
            Span<uint> rwords, out int rwordsCnt, Span<int> rpairs, out int rpairsCnt, out int rtail)
        {
            // Words reversed, pairs swapped within each pair, tail plus the halves.
            for (int i = 0; i < words.Length; i++)
            {
                rwords[i] = words[words.Length - 1 - i];
            }
            rwordsCnt = words.Length;
            for (int i = 0; i < pairs.Length; i += 2)
            {
                rpairs[i] = pairs[i + 1];
                rpairs[i + 1] = pairs[i];
            }
            rpairsCnt = pairs.Length / 2;
            rtail = tail + halves[0] + halves[1] + halves[2];
            return 0;
        }

        public int HandleEchoStrings(uint server, ReadOnlySpan<byte> name, ReadOnlySpan<byte> label, int after, Span<byte> rname, Span<byte> rlabel, out int rafter)
        {
            Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(name) + "!").CopyTo(rname);
            byte[] reversed = label.ToArray();
            Array.Reverse(reversed);
            reversed.CopyTo(rlabel);
            rafter = after * 2;
            return 0;
        }

        public int HandleSwapPorts(uint server, uint give, out uint take, ref uint keep)
        {
            // The handler owns 'give' now; it answers with a send right made from a port of its own.
            Mach.PortDeallocate(Mach.TaskSelf, give);
            Given ??= ReceiveRight.Allocate();
            take = Given.Name;
            Taken = take;
            return 0;
        }

        public int HandleEchoData(uint server, ReadOnlySpan<byte> data, ReadOnlySpan<long> quad, out byte[]? rdata, out long[]? rquad)
        {
            rdata = data.ToArray();
            Array.Reverse(rdata);
            rquad = quad.ToArray().Select(q => q * 2).ToArray();
            return 0;
        }

        public int HandleWhoAmI(uint server, uint reply, uint seqno, SecurityToken sender, AuditToken audit, out int pid)
        {
            ReplyPort = reply;
            LastSeqno = seqno;
            Sender = sender;
            Audit = audit;
            pid = audit.Pid;
            return 0;
        }

        public int HandleSlowEcho(uint server, int value, out int result)
        {
            Release.Wait();
            result = value;
            return 0;
        }

        public int HandlePost(uint server, int value, ReadOnlySpan<byte> label)
        {
            Posted = $"{value}:{Encoding.ASCII.GetString(label)}";
            return 0;
        }

        public void Dispose()
        {
            Given?.Dispose();
            Release.Dispose();
        }
    }

    private T Client<T>(Func<T> call)
    {
        using (_clientTask.Enter())
        {
            return call();
        }
    }

    [Fact]
    public void Scalars_AndInoutValues()
    {
        uint counter = 41;
        long sum = 0;
        int kr = Client(() => ShapesClient.CallEchoScalars(_right.Name, 200, -3, 1 << 20, 5_000_000_000UL, out sum, ref counter));
        Assert.Equal(0, kr);
        Assert.Equal(200 - 3 + (1 << 20) + 5_000_000_000L, sum);
        Assert.Equal(42u, counter);
    }

    [Fact]
    public void VariableArrays_MoveLaterFieldsUp_BothWays()
    {
        var rwords = new uint[8];
        var rpairs = new int[8];
        int rwordsCnt = 0, rpairsCnt = 0, rtail = 0;
        int kr = Client(() => ShapesClient.CallEchoArrays(_right.Name, new uint[] { 1, 2, 3 }, new[] { 10, 11, 20, 21 }, 1000, new short[] { 1, 2, 3 },
            rwords, out rwordsCnt, rpairs, out rpairsCnt, out rtail));
        Assert.Equal(0, kr);
        Assert.Equal(3, rwordsCnt);
        Assert.Equal(new uint[] { 3, 2, 1 }, rwords.Take(3));
        Assert.Equal(2, rpairsCnt);
        Assert.Equal(new[] { 11, 10, 21, 20 }, rpairs.Take(4));
        Assert.Equal(1006, rtail);

        // Empty arrays: the fields after them sit right behind the counts.
        kr = Client(() => ShapesClient.CallEchoArrays(_right.Name, default, default, 7, new short[] { 0, 0, 0 }, rwords, out rwordsCnt, rpairs, out rpairsCnt, out rtail));
        Assert.Equal(0, kr);
        Assert.Equal((0, 0, 7), (rwordsCnt, rpairsCnt, rtail));

        // Arrays must hold whole units, and fixed arrays exactly their size: programming errors.
        Assert.Throws<ArgumentException>(() => Client(() => ShapesClient.CallEchoArrays(_right.Name, default, new[] { 1 }, 0, new short[3], rwords, out _, rpairs, out _, out _)));
        Assert.Throws<ArgumentException>(() => Client(() => ShapesClient.CallEchoArrays(_right.Name, default, default, 0, new short[2], rwords, out _, rpairs, out _, out _)));
    }

    [Fact]
    public void Strings_FixedAndVariable()
    {
        var rname = new byte[32];
        var rlabel = new byte[16];
        int rafter = 0;
        int kr = Client(() => ShapesClient.CallEchoStrings(_right.Name, "hello"u8, "abc"u8, 21, rname, rlabel, out rafter));
        Assert.Equal(0, kr);
        Assert.Equal("hello!", Encoding.ASCII.GetString(rname).TrimEnd('\0'));
        Assert.Equal("cba", Encoding.ASCII.GetString(rlabel).TrimEnd('\0'));
        Assert.Equal(42, rafter);
        // A string that leaves no room for its NUL is refused before it is sent, as MIG refuses long arrays.
        Assert.Equal((int)MigReturn.ArrayTooLarge, Client(() => ShapesClient.CallEchoStrings(_right.Name, new byte[32], "x"u8, 0, rname, rlabel, out _)));
    }

    [Fact]
    public void Ports_MovedIn_MadeOut_AndInout()
    {
        using (_clientTask.Enter())
        {
            using var given = ReceiveRight.Allocate();
            SendRight give = given.MakeSend();
            using var kept = ReceiveRight.Allocate();
            using SendRight keepRight = kept.MakeSend();
            uint keep = keepRight.Name;
            int kr = ShapesClient.CallSwapPorts(_right.Name, give.TakeName(), out uint take, ref keep);
            Assert.Equal(0, kr);
            // The client owns the send right the server made, and still has its own right back.
            using var taken = SendRight.Adopt(take);
            Assert.NotEqual(0u, take);
            Assert.Equal(keepRight.Name, keep);
            Assert.Contains(_clientTask.Rights(), r => r.Name == take && r.Type.HasFlag(MachPortType.Send));
            // The moved send right is gone from the client: only the receive right is left under its name.
            Assert.DoesNotContain(_clientTask.Rights(), r => r.Name == given.Name && r.Type.HasFlag(MachPortType.Send));
            // 'keep' came back: the copy the server got was a second uref, which its reply moved home.
            SendRight.Adopt(keep).Dispose();
        }
    }

    [Fact]
    public void OutOfLineData_BothWays_LeavesNoRegionBehind()
    {
        int serverRegions = _serverTask.OutstandingVmRegions;
        int clientRegions = _clientTask.OutstandingVmRegions;
        byte[] data = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        byte[] rdata = Array.Empty<byte>();
        long[] rquad = Array.Empty<long>();
        int kr = Client(() => ShapesClient.CallEchoData(_right.Name, data, new long[] { 1, -2, 3, long.MaxValue / 2 }, out rdata, out rquad));
        Assert.Equal(0, kr);
        Assert.Equal(data.Reverse(), rdata);
        Assert.Equal(new long[] { 2, -4, 6, long.MaxValue / 2 * 2 }, rquad);
        // A fixed-size out-of-line array must be exactly its size.
        Assert.Throws<ArgumentException>(() => Client(() => ShapesClient.CallEchoData(_right.Name, data, new long[3], out _, out _)));
        Assert.Equal(serverRegions, _serverTask.OutstandingVmRegions);
        Assert.Equal(clientRegions, _clientTask.OutstandingVmRegions);
    }

    [Fact]
    public void TrailerArguments_ComeFromTheKernel()
    {
        int pid = 0;
        Assert.Equal(0, Client(() => ShapesClient.CallWhoAmI(_right.Name, out pid)));
        uint first = _handler.LastSeqno;
        Assert.Equal(0, Client(() => ShapesClient.CallWhoAmI(_right.Name, out pid)));
        Assert.Equal(_clientTask.Pid, pid);
        Assert.Equal(_clientTask.AuditToken, _handler.Audit);
        Assert.Equal(_clientTask.SecurityToken, _handler.Sender);
        Assert.Equal(first + 1, _handler.LastSeqno);
        Assert.NotEqual(0u, _handler.ReplyPort);
    }

    [Fact]
    public void Simpleroutine_IsOneWay_AndWaitTimeBoundsTheCall()
    {
        Assert.Equal(0, Client(() => ShapesClient.CallPost(_right.Name, 5, "five"u8)));
        // The server handles requests in order: once a later routine is answered, the post was handled.
        uint counter = 0;
        Assert.Equal(0, Client(() => ShapesClient.CallEchoScalars(_right.Name, 0, 0, 0, 0, out _, ref counter)));
        Assert.Equal("5:five", _handler.Posted);

        // The handler waits until released; the WaitTime argument bounds the client's wait.
        int result = 0;
        Assert.Equal((int)MachMsgReturn.RcvTimedOut, Client(() => ShapesClient.CallSlowEcho(_right.Name, 20, 9, out result)));
        _handler.Release.Set();
    }
}
