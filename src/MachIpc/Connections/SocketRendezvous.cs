using System;
using System.Net.Sockets;
using System.Text;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;

namespace MachIpc.Connections;

/// <summary>
/// Pattern 2, socket-bootstrapped connections: two peers already connected by a Unix-domain socket each check in a
/// bootstrap service, exchange the names over the socket, look each other up and send a hello carrying a send
/// right to a fresh port of their own. Each side takes the first message on its service as the peer's hello only
/// when the kernel's audit token says it came from the process at the other end of the socket; then the service
/// (and its name) goes away, and the two fresh ports are the channel. The socket can be closed afterwards.
/// </summary>
/// <remarks>
/// Wire format, each way: one version byte (2), one length byte (1..127), that many UTF-8 bytes of the service
/// name (no NUL); then, once the hello has been checked, one acknowledgement byte (0x06). Anything else is an
/// error. The services' names are public: anyone may look one up and send to it, which is why the hello's
/// sender is checked and why the channel does not stay on the service.
/// </remarks>
public static class SocketRendezvous
{
    private const byte Version = 2;
    private const byte Ack = 0x06;

    /// <summary>The longest service name exchanged: <c>name_t</c> holds 127 bytes plus NUL.</summary>
    public const int MaxNameLength = BootstrapLimits.MaxNameLength - 1;

    /// <summary>
    /// Runs the exchange on <paramref name="socket"/>, checking in <paramref name="localServiceName"/> for this side;
    /// the peer's hello must come from the socket's peer process (<c>SO_PEERCRED</c> / <c>LOCAL_PEERPID</c>).
    /// Returns this side's channel. Throws <see cref="MachRendezvousException"/> on malformed or short input, a
    /// timeout, an unknown or taken name, or a hello from anyone else; nothing is leaked then.
    /// </summary>
    public static MachChannel Exchange(Socket socket, string localServiceName, TimeSpan timeout) =>
        Exchange(socket, localServiceName, SocketPeer.Pid(socket), timeout);

    /// <summary>
    /// Like <see cref="Exchange(Socket, string, TimeSpan)"/>, with the peer's Mach identity given: the hello must
    /// come from <paramref name="peerPid"/>. For peers whose pid is not the socket's (the simulated kernel's
    /// in-process tasks share one OS process).
    /// </summary>
    public static MachChannel Exchange(Socket socket, string localServiceName, int peerPid, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> name = stackalloc byte[BootstrapLimits.MaxNameLength];
        byte[] frame = new byte[2 + BootstrapServer.EncodeName(localServiceName, name)];
        frame[0] = Version;
        frame[1] = (byte)(frame.Length - 2);
        name[..(frame.Length - 2)].CopyTo(frame.AsSpan(2));

        int previousSend = socket.SendTimeout, previousReceive = socket.ReceiveTimeout;
        int timeoutMs = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
        socket.SendTimeout = socket.ReceiveTimeout = timeoutMs;
        ReceiveRight? service = null, inbox = null;
        SendRight? send = null;
        try
        {
            if (!BootstrapServer.TryCheckIn(localServiceName, out service, out BootstrapReturn kr))
            {
                throw new MachRendezvousException($"bootstrap_check_in(\"{localServiceName}\") failed: {new MachError((int)kr)}");
            }
            inbox = ReceiveRight.Allocate();
            SendAll(socket, frame);
            string peer = ReceiveName(socket);
            SendHello(peer, inbox, (uint)timeoutMs);
            send = ReceiveHello(service!, localServiceName, peerPid, (uint)timeoutMs);
            // The hello is in: the name has served its purpose. Releasing the service removes it from the bootstrap
            // server, so nobody else reaches this side through it.
            service!.Dispose();

            SendAll(socket, [Ack]);
            Span<byte> ack = stackalloc byte[1];
            ReceiveExactly(socket, ack, "the peer's acknowledgement");
            if (ack[0] != Ack)
            {
                throw new MachRendezvousException($"peer sent 0x{ack[0]:x2} instead of the acknowledgement");
            }
            var channel = new MachChannel(inbox, send);
            inbox = null;
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
            inbox?.Dispose();
            service?.Dispose();
            if (socket.Connected)
            {
                socket.SendTimeout = previousSend;
                socket.ReceiveTimeout = previousReceive;
            }
        }
    }

    private static string ReceiveName(Socket socket)
    {
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
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(name);
        }
        catch (DecoderFallbackException ex)
        {
            throw new MachRendezvousException("peer's service name is not valid UTF-8", ex);
        }
    }

    /// <summary>Looks the peer's service up and sends it a hello with a send right to <paramref name="inbox"/>.</summary>
    private static void SendHello(string peer, ReceiveRight inbox, uint timeoutMs)
    {
        if (!BootstrapServer.TryLookUp(peer, out SendRight? peerService, out BootstrapReturn kr))
        {
            throw new MachRendezvousException($"bootstrap_look_up(\"{peer}\") failed: {new MachError((int)kr)}");
        }
        using (peerService)
        {
            var hello = new SocketRendezvousHello();
            hello.Prepare(peerService!.Name);
            hello.Channel.Name = inbox.Name; // MAKE_SEND: the peer gets a send right, we keep the receive right
            var mr = hello.Send(MachMsgOption.SendTimeout, timeoutMs);
            if (mr != MachMsgReturn.Success)
            {
                throw new MachRendezvousException($"the hello to \"{peer}\" was not delivered: {new MachError((int)mr)}");
            }
        }
    }

    /// <summary>
    /// The first message on <paramref name="service"/>: it must be a hello from <paramref name="peerPid"/>. Anything
    /// else ends the rendezvous (a third party that looked the name up and wrote first included), and is destroyed.
    /// </summary>
    private static unsafe SendRight ReceiveHello(ReceiveRight service, string name, int peerPid, uint timeoutMs)
    {
        byte* buffer = stackalloc byte[SocketRendezvousHello.ReceiveBufferSize];
        var received = new Span<byte>(buffer, SocketRendezvousHello.ReceiveBufferSize);
        // Without MACH_RCV_LARGE a larger message is destroyed by the kernel and reported (B9).
        var mr = SocketRendezvousHello.Receive(service.Name, received, MachMsgOption.RcvTimeout, timeoutMs);
        if (mr != MachMsgReturn.Success)
        {
            throw new MachRendezvousException($"no hello from the peer on \"{name}\": {new MachError((int)mr)}");
        }
        var error = SocketRendezvousHello.TryRead(received, out MachReceived<SocketRendezvousHello> hello);
        string? refusal = error != MachValidationError.None ? $"is not a rendezvous hello ({error})"
            : hello.SenderPid != peerPid ? $"came from pid {hello.SenderPid}, not from the socket's peer (pid {peerPid})"
            : !MachPortName.IsValid(hello.Message.Channel.Name) ? "carries no live send right"
            : null;
        if (refusal is not null)
        {
            Mach.MsgDestroy((MachMsgHeader*)buffer); // every right it carried goes with it
            throw new MachRendezvousException($"the first message on \"{name}\" {refusal}");
        }
        return SendRight.Adopt(hello.Message.Channel.Name);
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
