using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Samples.ConnectionPatterns;

/// <summary>
/// Pattern 2: the two processes already share a Unix-domain socket (here the parent listens on a path and the child
/// connects; it could as well be a socketpair inherited at spawn). <see cref="SocketRendezvous.Exchange"/> swaps
/// bootstrap names over it and accepts the peer's hello only from the socket's peer process; after that the socket
/// is not needed.
/// </summary>
internal static class SocketPattern
{
    public const string ChildFlag = "--socket-child";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static int RunParent()
    {
        string path = Path.Combine(Path.GetTempPath(), $"machipc-sample-{Mach.CurrentPid}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using Process child = Children.Start(ChildFlag, path);
        using Socket socket = listener.Accept();
        File.Delete(path);

        using MachChannel channel = SocketRendezvous.Exchange(socket, $"org.machipc.samples.socket.{Mach.CurrentPid}", Timeout);
        // The channel answers pings from the socket's peer and nobody else.
        var pings = new PingServer(child.Id, Children.PingCount);
        using (var server = new MachServer(pings, ReceiveRight.Adopt(channel.Receive.TakeName())))
        {
            server.Start();
            bool answered = pings.WaitForAll(Timeout);
            bool ok = Children.Succeeded(child, "pattern 2, socket rendezvous: child") && answered && pings.Refused == 0;
            Console.WriteLine($"pattern 2: answered {Children.PingCount} pings from pid {child.Id} over the channel: {(ok ? "ok" : "FAILED")}");
            return ok ? 0 : 1;
        }
    }

    public static int RunChild(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        using MachChannel channel = SocketRendezvous.Exchange(socket, $"org.machipc.samples.socket.{Mach.CurrentPid}", Timeout);
        return Children.Pings(channel.Send.Copy(), Children.PingCount) ? 0 : 1;
    }
}
