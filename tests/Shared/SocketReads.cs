using System.IO;
using System.Net.Sockets;

namespace MachIpc.Tests.Shared;

/// <summary>Reads from a kernel-host socket the way a client must: until the frame is whole or the host hangs up.</summary>
internal static class SocketReads
{
    public static void ReceiveExactly(Socket s, byte[] buffer)
    {
        for (int got = 0; got < buffer.Length;)
        {
            int n = s.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            if (n <= 0)
            {
                throw new EndOfStreamException("the host hung up");
            }
            got += n;
        }
    }
}
