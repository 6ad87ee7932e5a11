using System;
using System.Diagnostics.Metrics;
using System.Threading;
using Microsoft.Extensions.Logging;

namespace MachIpc.Server;

/// <summary>A kernel notification the server received (verified by the kernel's audit token).</summary>
/// <remarks>
/// A port-destroyed notification carries the receive right back; <see cref="TakeReceiveRight"/> keeps it, and one
/// that is not taken during the callback is destroyed with the notification when the callback returns.
/// </remarks>
public readonly struct MachNotification
{
    private readonly NotificationScope? _scope;
    private readonly int _generation;

    internal MachNotification(int id, uint port, uint notPort, uint notCount, NotificationScope? scope = null, int generation = 0)
    {
        Id = id;
        Port = port;
        NotPort = notPort;
        NotCount = notCount;
        _scope = scope;
        _generation = generation;
    }

    /// <summary>The notification id (<see cref="Abi.MachNotify"/>).</summary>
    public int Id { get; }

    /// <summary>The server's name for the port the notification arrived on.</summary>
    public uint Port { get; }

    /// <summary>
    /// For dead-name, port-deleted and send-possible: the name the notification is about. For port-destroyed: the
    /// name of the receive right it carries (until taken).
    /// </summary>
    public uint NotPort { get; }

    /// <summary>For no-senders: the port's make-send count.</summary>
    public uint NotCount { get; }

    /// <summary>
    /// Takes the receive right a port-destroyed notification (<see cref="Abi.MachNotify.PortDestroyed"/>) carries.
    /// Only during the notification callback, once.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not a port-destroyed notification, the callback has returned, or the right was already taken.</exception>
    public Ports.ReceiveRight TakeReceiveRight()
    {
        if (Id != Abi.MachNotify.PortDestroyed || _scope is null)
        {
            throw new InvalidOperationException("only a port-destroyed notification carries a receive right");
        }
        return Ports.ReceiveRight.Adopt(_scope.TakeDestroyedPort(_generation));
    }
}

/// <summary>The notification the server is delivering: what <see cref="MachNotification.TakeReceiveRight"/> may take from.</summary>
internal sealed unsafe class NotificationScope
{
    private readonly Lock _lock = new();
    private Abi.MachMsgHeader* _header;
    private int _generation;

    internal int Begin(Abi.MachMsgHeader* header)
    {
        lock (_lock)
        {
            _header = header;
            return ++_generation;
        }
    }

    internal void End()
    {
        lock (_lock)
        {
            _header = null;
            _generation++;
        }
    }

    internal uint TakeDestroyedPort(int generation)
    {
        lock (_lock)
        {
            if (_header is null || generation != _generation)
            {
                throw new InvalidOperationException("the notification callback has returned: its right was destroyed");
            }
            ref Abi.MachMsgPortDescriptor port = ref ((Abi.MachPortDestroyedNotification*)_header)->NotPort;
            uint name = port.Name;
            if (!Abi.MachPortName.IsValid(name))
            {
                throw new InvalidOperationException("the receive right was already taken");
            }
            port.Name = Abi.MachPortName.Null;
            return name;
        }
    }
}

/// <summary>Called on the server thread for each genuine kernel notification.</summary>
public delegate void MachNotificationHandler(in MachNotification notification);

/// <summary>Settings for a <see cref="MachServer"/>.</summary>
public sealed class MachServerOptions
{
    /// <summary>A name for the server thread, logs and metric tags.</summary>
    public string Name { get; set; } = "MachServer";

    /// <summary>
    /// When a request that carries a reply port is not handled (unknown id, failed validation, handler threw),
    /// answer it with a <c>mig_reply_error_t</c> (<c>MIG_BAD_ID</c>, <c>MIG_BAD_ARGUMENTS</c>,
    /// <c>MIG_REMOTE_ERROR</c>) before destroying it, as a MIG server does. Default true.
    /// </summary>
    public bool ReplyWithMigErrors { get; set; } = true;

    /// <summary>
    /// The largest message the server grows its buffer for. A larger message is received without
    /// <c>MACH_RCV_LARGE</c>, which makes the kernel destroy it, and counted as rejected. Default 1 MiB.
    /// </summary>
    public int MaxMessageSize { get; set; } = 1 << 20;

    /// <summary>Receives genuine kernel notifications (dead-name, no-senders, send-once, …).</summary>
    public MachNotificationHandler? OnNotification { get; set; }

    /// <summary>
    /// How many threads receive on the server's port set at once, each with its own buffer, as a MIG server or
    /// <c>dispatch_mig_server</c> runs several: handlers then run concurrently and must be thread-safe. Default 1.
    /// </summary>
    public int ReceiveThreads { get; set; } = 1;

    /// <summary>
    /// Optional logger: start and stop, rejected messages (with <c>msgh_id</c>, sender pid and reason), failed
    /// handlers and receive errors, under fixed event ids.
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Where the server's meter comes from (an application's DI-provided <see cref="IMeterFactory"/>); without one the
    /// server creates its own <see cref="Meter"/> named <see cref="MachServerMetrics.MeterName"/>.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }
}
