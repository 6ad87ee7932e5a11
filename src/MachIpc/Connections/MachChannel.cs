using System;
using MachIpc.Abi;
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
    /// <param name="queueLimit">
    /// Each receive right's queue limit (<c>MACH_PORT_LIMITS_INFO</c>, at most <see cref="MachPortLimits.QLimitMax"/>),
    /// or null for the kernel's default (<see cref="MachPortLimits.QLimitDefault"/>). A sender to a full queue blocks,
    /// or gets <c>MACH_SEND_TIMED_OUT</c> with a send timeout; Ladybird raises it to 1024 for its IPC channels.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueLimit"/> is above the kernel's maximum.</exception>
    /// <exception cref="MachException">The kernel refused.</exception>
    public static (MachChannel First, MachChannel Second) CreatePair(uint? queueLimit = null)
    {
        if (queueLimit is { } limit)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MachPortLimits.QLimitMax, nameof(queueLimit));
        }
        var a = PortPair.Create();
        PortPair? b = null;
        try
        {
            b = PortPair.Create();
            if (queueLimit is { } qlimit)
            {
                a.Receive.SetQueueLimit(qlimit);
                b.Receive.SetQueueLimit(qlimit);
            }
        }
        catch
        {
            a.Dispose();
            b?.Dispose();
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
