using System;
using MachIpc.Ports;

namespace MachIpc.Connections;

/// <summary>
/// A two-way Mach channel as one side holds it: a receive right for what the peer sends, and a send right to
/// the peer's receive right. Disposing releases both.
/// </summary>
public sealed class MachChannel : IDisposable
{
    /// <summary>Wraps owned rights; the channel takes ownership of both.</summary>
    public MachChannel(ReceiveRight receive, SendRight send)
    {
        ArgumentNullException.ThrowIfNull(receive);
        ArgumentNullException.ThrowIfNull(send);
        Receive = receive;
        Send = send;
    }

    /// <summary>Where the peer's messages arrive.</summary>
    public ReceiveRight Receive { get; }

    /// <summary>Where this side's messages go.</summary>
    public SendRight Send { get; }

    /// <summary>
    /// Creates a connected pair of channels in the current task (pattern 3, "pre-created pairs"): what one
    /// sends the other receives. Either side can be handed to another task by moving its two rights in a
    /// message (<c>MOVE_RECEIVE</c> and <c>MOVE_SEND</c>); messages already queued move with the receive right.
    /// </summary>
    public static (MachChannel First, MachChannel Second) CreatePair()
    {
        var a = PortPair.Create();
        PortPair b;
        try
        {
            b = PortPair.Create();
        }
        catch
        {
            a.Dispose();
            throw;
        }
        return (new MachChannel(a.Receive, b.Send), new MachChannel(b.Receive, a.Send));
    }

    /// <summary>Releases both rights.</summary>
    public void Dispose()
    {
        Send.Dispose();
        Receive.Dispose();
    }
}
