using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// What a connection that has not proved anything can cost the kernel host: its first frame is a hello (12 bytes), so
/// a longer length is refused before any payload is buffered, and only <see cref="Wire.MaxPendingHellos"/> connections
/// may wait to say hello at once. The connections here come from this process (the host's own pid), which is allowed
/// to connect as its main task.
/// </summary>
[Collection("cross-process")]
public sealed class KernelHostLimitsTests : ChildProcessTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5); // well under the host's 10 s hello timeout

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = (int)Prompt.TotalMilliseconds;
        return s;
    }

    /// <summary>Sends a frame header (and payload) and returns how many bytes came back before the host hung up.</summary>
    private static int SendAndDrain(Socket s, uint length, ReadOnlySpan<uint> payload)
    {
        var frame = new byte[4 + payload.Length * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, length);
        for (int i = 0; i < payload.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4 + i * 4), payload[i]);
        }
        var buf = new byte[64];
        int total = 0;
        try
        {
            s.Send(frame);
            int n;
            while ((n = s.Receive(buf)) > 0) // a timeout here means the host kept waiting: the test fails
            {
                total += n;
                if (total >= 16)
                {
                    break; // a hello reply: length + pid, self, bootstrap
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            // The host closed with our bytes unread: a reset is its hang-up too.
        }
        return total;
    }

    private static void WaitForPendingHellos(KernelHost host, Func<int, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done(host.PendingHellos))
        {
            Assert.True(clock.Elapsed < ChildTimeout, $"the host has {host.PendingHellos} pending hellos");
            Thread.Yield();
        }
    }

    [Fact]
    public void AFirstFrameLongerThanAHello_IsRefusedBeforeItsPayload()
    {
        string path = SimulatedMach.ShareWithChildren();
        int rejected = SimulatedMach.RejectedClients;
        using (Socket s = Connect(path))
        {
            // Claims 64 MiB and sends none of it: the host must not wait for (or buffer) the payload.
            Assert.Equal(0, SendAndDrain(s, 64 * 1024 * 1024, ReadOnlySpan<uint>.Empty));
        }
        Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        AssertNoLeaks();
    }

    [Fact]
    public void ConnectionsWaitingToSayHello_AreCapped_AndAHelloStillGetsThroughAfterwards()
    {
        string path = SimulatedMach.ShareWithChildren();
        KernelHost host = KernelHost.Current!;
        int rejected = SimulatedMach.RejectedClients;
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < Wire.MaxPendingHellos; i++)
            {
                idle.Add(Connect(path));
            }
            WaitForPendingHellos(host, n => n == Wire.MaxPendingHellos);
            using (Socket extra = Connect(path))
            {
                Assert.Equal(0, SendAndDrain(extra, 12, [1, Wire.Magic, Wire.Version])); // refused, hello or not
            }
            Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        }
        finally
        {
            foreach (Socket s in idle)
            {
                s.Dispose();
            }
        }
        WaitForPendingHellos(host, n => n == 0);
        using (Socket s = Connect(path))
        {
            Assert.Equal(16, SendAndDrain(s, 12, [1, Wire.Magic, Wire.Version]));
        }
        AssertNoLeaks();
    }
}
