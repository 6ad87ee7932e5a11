using Microsoft.Extensions.Logging;

namespace MachIpc.Server;

/// <summary>A kernel notification the server received (verified by the kernel's audit token).</summary>
public readonly struct MachNotification
{
    internal MachNotification(int id, uint port, uint notPort, uint notCount)
    {
        Id = id;
        Port = port;
        NotPort = notPort;
        NotCount = notCount;
    }

    /// <summary>The notification id (<see cref="Abi.MachNotify"/>).</summary>
    public int Id { get; }

    /// <summary>The server's name for the port the notification arrived on.</summary>
    public uint Port { get; }

    /// <summary>For dead-name, port-deleted and send-possible: the name the notification is about.</summary>
    public uint NotPort { get; }

    /// <summary>For no-senders: the port's make-send count.</summary>
    public uint NotCount { get; }
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

    /// <summary>Optional logger for rejected messages and receive errors.</summary>
    public ILogger? Logger { get; set; }
}
