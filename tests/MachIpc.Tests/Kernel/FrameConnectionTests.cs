using System.Net.Sockets;
using MachIpc.Kernel.Remote;
using Xunit;

namespace MachIpc.Tests.Kernel;

/// <summary>
/// The kernel socket's framing (PROTOCOL.md, "Frames") over a connected socket pair: a length the caller's limit
/// refuses is refused before its payload is read, and a connection's buffer is bounded by the frame in flight, not by
/// the largest frame it ever carried.
/// </summary>
public sealed class FrameConnectionTests
{
    private static (FrameConnection Reader, Socket Writer) Pair()
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string path = Path.Combine(Path.GetTempPath(), "machipc-frames-" + Guid.NewGuid().ToString("N")[..12] + ".sock");
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var writer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        writer.Connect(new UnixDomainSocketEndPoint(path));
        Socket accepted = listener.Accept();
        listener.Dispose();
        File.Delete(path);
        return (new FrameConnection(accepted), writer);
    }

    private static void SendFrame(Socket s, int length)
    {
        var frame = new byte[4 + length];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), length);
        frame[^1] = 0x5A;
        int sent = 0;
        while (sent < frame.Length)
        {
            sent += s.Send(frame, sent, frame.Length - sent, SocketFlags.None);
        }
    }

    [Fact]
    public void AFrameOverTheCallersLimit_IsRefusedFromItsLength()
    {
        (FrameConnection reader, Socket writer) = Pair();
        using (reader)
        using (writer)
        {
            writer.Send(BitConverter.GetBytes(64 * 1024 * 1024)); // a length, and none of the payload
            var e = Assert.Throws<WireException>(() => reader.Receive(out _, Wire.HelloBytes));
            Assert.Contains("exceeds 12", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AClaimedLength_DoesNotGrowTheBuffer_OnlyBytesThatArrive()
    {
        (FrameConnection reader, Socket writer) = Pair();
        using (reader)
        using (writer)
        {
            // A header claiming 32 MiB (within the limit) and 100 bytes of it: the non-blocking read waits for the
            // rest holding about what arrived, not 32 MiB (the host used to allocate the claimed length up front).
            var partial = new byte[4 + 100];
            BitConverter.TryWriteBytes(partial.AsSpan(0, 4), 32 * 1024 * 1024);
            writer.Send(partial);
            FrameConnection.FrameStatus status;
            do
            {
                Assert.True(reader.TryReceive(out status).IsEmpty);
            }
            while (status == FrameConnection.FrameStatus.WouldBlock && !reader.MayHaveMore);
            Assert.Equal(FrameConnection.FrameStatus.WouldBlock, status);
            Assert.True(reader.BufferBytes <= 8192, $"holding {reader.BufferBytes} bytes for 104 received");
        }
    }

    [Fact]
    public void ABufferGrownForALargeFrame_IsGivenBackOnceItWasServed()
    {
        (FrameConnection reader, Socket writer) = Pair();
        using (reader)
        using (writer)
        {
            var sending = new Thread(() => SendFrame(writer, 3 * 1024 * 1024)); // larger than the socket buffer
            sending.Start();
            ReadOnlySpan<byte> big = reader.Receive(out bool eof);
            Assert.False(eof);
            Assert.Equal(3 * 1024 * 1024, big.Length);
            Assert.Equal(0x5A, big[^1]);
            Assert.True(reader.BufferBytes >= 3 * 1024 * 1024);
            sending.Join();

            SendFrame(writer, 16);
            Assert.Equal(16, reader.Receive(out eof).Length);
            Assert.False(eof);
            Assert.True(reader.BufferBytes <= Wire.RetainedBufferBytes, $"still holding {reader.BufferBytes} bytes");

            // Frames up to the retained size keep their buffer: no allocation per frame for ordinary traffic.
            var second = new Thread(() => SendFrame(writer, 512 * 1024)); // also larger than the socket buffer
            second.Start();
            Assert.Equal(512 * 1024, reader.Receive(out _).Length);
            second.Join();
            int kept = reader.BufferBytes;
            SendFrame(writer, 16);
            reader.Receive(out _);
            Assert.Equal(kept, reader.BufferBytes);
        }
    }

    /// <summary>
    /// A caller blocked waiting for its reply sleeps once, not again each time the peer reads what the caller wrote:
    /// the peer consuming the request wakes the socket's wait queue with EPOLLOUT (Linux unix_write_space), which a
    /// reader blocked inside recvmsg does not filter (FrameConnection waits in poll for POLLIN first). Counted with
    /// getrusage(RUSAGE_THREAD): 2 voluntary switches without the poll, 1 with it. The fewest of three tries is taken,
    /// since a garbage collection that suspends the thread also counts as one.
    /// </summary>
    [Fact]
    public void AWaitingReader_IsNotWokenWhenThePeerReadsWhatItWrote()
    {
        long fewest = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            fewest = Math.Min(fewest, SwitchesWhileWaitingForAReply());
        }
        Assert.Equal(1, fewest);
    }

    private static long SwitchesWhileWaitingForAReply()
    {
        (FrameConnection caller, Socket peer) = Pair();
        using (caller)
        using (peer)
        {
            long switches = -1;
            int tid = 0;
            var t = new Thread(() =>
            {
                tid = ThreadId.Current;
                if (caller.Send(new byte[] { 4, 0, 0, 0, 1, 2, 3, 4 }, 8))
                {
                    long before = VoluntarySwitches();
                    caller.Receive(out bool eof);
                    switches = eof ? -2 : VoluntarySwitches() - before;
                }
            });
            t.Start();
            WaitUntilSleeping(() => tid);
            var request = new byte[8];
            Assert.Equal(8, peer.Receive(request)); // frees the caller's send buffer: the write-space wake-up
            Thread.Sleep(50);
            SendFrame(peer, 4);
            Assert.True(t.Join(10_000));
            return switches;
        }
    }

    private static class ThreadId
    {
        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "gettid")]
        private static extern int gettid();

        public static int Current => gettid();
    }

    /// <summary>Waits until the thread is asleep in the kernel (state S in /proc), so the test's next step finds it blocked.</summary>
    private static void WaitUntilSleeping(Func<int> tid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            int id = tid();
            string stat = id == 0 ? "" : File.ReadAllText($"/proc/self/task/{id}/stat");
            // The state follows the command name, which is in parentheses: "tid (comm) S ...".
            if (stat.Length > 0 && stat[(stat.LastIndexOf(')') + 2)..].StartsWith('S'))
            {
                Thread.Sleep(20); // asleep in Receive, not in some earlier wait: let it settle
                return;
            }
            Thread.Sleep(1);
        }
        throw new TimeoutException("the reader never blocked");
    }

    private static unsafe long VoluntarySwitches()
    {
        long* usage = stackalloc long[18]; // struct rusage: ru_utime, ru_stime (2 longs each), then 14 longs
        return getrusage(1 /* RUSAGE_THREAD */, usage) == 0 ? usage[16] : -100; // usage[16] is ru_nvcsw
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage")]
    private static extern unsafe int getrusage(int who, long* usage);
}
