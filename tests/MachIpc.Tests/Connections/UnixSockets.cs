using System.Net.Sockets;

namespace MachIpc.Tests.Connections;

/// <summary>Unix-domain stream sockets at fresh paths under the temp directory, for the socket rendezvous tests.</summary>
internal static class UnixSockets
{
    public static Socket Listen(out string path)
    {
        path = Path.Combine(Path.GetTempPath(), "machipc-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return listener;
    }

    public static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }
}
