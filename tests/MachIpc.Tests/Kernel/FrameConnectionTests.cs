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
}
