using System;
using System.Net.Sockets;
using System.Text;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Ports;

namespace MachIpc.Connections;

/// <summary>
/// Pattern 2, socket-bootstrapped connections: two peers already connected by a (Unix-domain) socket each
/// check in a bootstrap service, exchange the names over the socket (length-prefixed and bounded), look each
/// other up, acknowledge, and from then on talk over Mach ports; the socket can then be closed.
/// </summary>
/// <remarks>
/// Wire format, each way: one version byte (1), one length byte (1..127), that many UTF-8 bytes of the
/// service name (no NUL); then, after the lookup, one acknowledgement byte (0x06). Anything else is an error.
/// </remarks>
public static class SocketRendezvous
{
    private const byte Version = 1;
    private const byte Ack = 0x06;

    /// <summary>The longest service name exchanged: <c>name_t</c> holds 127 bytes plus NUL.</summary>
    public const int MaxNameLength = BootstrapLimits.MaxNameLength - 1;

    /// <summary>
    /// Runs the exchange on <paramref name="socket"/>, checking in <paramref name="localServiceName"/> for this
    /// side. Returns this side's channel. Throws <see cref="MachRendezvousException"/> on malformed or short
    /// input, a timeout, or a name the bootstrap server does not know; nothing is leaked then.
    /// </summary>
    public static MachChannel Exchange(Socket socket, string localServiceName, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        byte[] local = Encoding.UTF8.GetBytes(localServiceName ?? throw new ArgumentNullException(nameof(localServiceName)));
        if (local.Length is 0 or > MaxNameLength || Array.IndexOf(local, (byte)0) >= 0)
        {
            throw new ArgumentException($"Service names are 1..{MaxNameLength} UTF-8 bytes without NUL.", nameof(localServiceName));
        }

        int previousSend = socket.SendTimeout, previousReceive = socket.ReceiveTimeout;
        socket.SendTimeout = socket.ReceiveTimeout = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
        ReceiveRight? receive = null;
        SendRight? send = null;
        try
        {
            receive = BootstrapServer.CheckIn(localServiceName);

            byte[] frame = new byte[2 + local.Length];
            frame[0] = Version;
            frame[1] = (byte)local.Length;
            local.CopyTo(frame, 2);
            SendAll(socket, frame);

            Span<byte> head = stackalloc byte[2];
            ReceiveExactly(socket, head, "the peer's name header");
            if (head[0] != Version)
            {
                throw new MachRendezvousException($"peer speaks rendezvous version {head[0]}, expected {Version}");
            }
            int length = head[1];
            if (length is 0 or > MaxNameLength)
            {
                throw new MachRendezvousException($"peer's service name length {length} is outside 1..{MaxNameLength}");
            }
            byte[] name = new byte[length];
            ReceiveExactly(socket, name, "the peer's service name");
            if (Array.IndexOf(name, (byte)0) >= 0)
            {
                throw new MachRendezvousException("peer's service name contains NUL");
            }
            string peer;
            try
            {
                peer = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(name);
            }
            catch (DecoderFallbackException ex)
            {
                throw new MachRendezvousException("peer's service name is not valid UTF-8", ex);
            }

            var kr = BootstrapServer.TryLookUp(peer, out send);
            if (kr != BootstrapReturn.Success)
            {
                throw new MachRendezvousException($"bootstrap_look_up(\"{peer}\") failed: {new MachError((int)kr)}");
            }

            SendAll(socket, [Ack]);
            Span<byte> ack = stackalloc byte[1];
            ReceiveExactly(socket, ack, "the peer's acknowledgement");
            if (ack[0] != Ack)
            {
                throw new MachRendezvousException($"peer sent 0x{ack[0]:x2} instead of the acknowledgement");
            }
            var channel = new MachChannel(receive, send!);
            receive = null;
            send = null;
            return channel;
        }
        catch (SocketException ex)
        {
            throw new MachRendezvousException($"socket failed during the rendezvous: {ex.SocketErrorCode}", ex);
        }
        finally
        {
            send?.Dispose();
            receive?.Dispose();
            if (socket.Connected)
            {
                socket.SendTimeout = previousSend;
                socket.ReceiveTimeout = previousReceive;
            }
        }
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[socket.Send(data)..];
        }
    }

    private static void ReceiveExactly(Socket socket, Span<byte> data, string what)
    {
        while (!data.IsEmpty)
        {
            int n = socket.Receive(data);
            if (n == 0)
            {
                throw new MachRendezvousException($"peer closed the socket before sending {what}");
            }
            data = data[n..];
        }
    }
}
