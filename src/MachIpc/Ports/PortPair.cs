using System;

namespace MachIpc.Ports;

/// <summary>
/// A connected pair created in one call: a receive right and a send right to the same port. Either end can
/// be moved to another task inside a message (<c>MOVE_RECEIVE</c> / <c>MOVE_SEND</c>).
/// </summary>
public sealed class PortPair : IDisposable
{
    private PortPair(ReceiveRight receive, SendRight send)
    {
        Receive = receive;
        Send = send;
    }

    /// <summary>The receiving end.</summary>
    public ReceiveRight Receive { get; }

    /// <summary>The sending end.</summary>
    public SendRight Send { get; }

    /// <summary>Allocates a port and makes a send right to it.</summary>
    public static PortPair Create()
    {
        var receive = ReceiveRight.Allocate();
        try
        {
            return new PortPair(receive, receive.MakeSend());
        }
        catch
        {
            receive.Dispose();
            throw;
        }
    }

    /// <summary>Releases whichever ends are still owned.</summary>
    public void Dispose()
    {
        Send.Dispose();
        Receive.Dispose();
    }
}
