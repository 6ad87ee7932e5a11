using System;
using Microsoft.Extensions.Logging;

namespace MachIpc.Server;

/// <summary>
/// What a <see cref="MachServer"/> logs, as source-generated <see cref="LoggerMessageAttribute"/> methods: fixed event
/// ids, structured fields (<c>Server</c>, <c>MsghId</c>, <c>SenderPid</c>, <c>Reason</c>, <c>Error</c>), and nothing
/// formatted or boxed while the level is off.
/// </summary>
internal static partial class MachServerLog
{
    [LoggerMessage(EventId = 1, EventName = "Started", Level = LogLevel.Information,
        Message = "[{Server}] serving port {ServicePort} with {ReceiveThreads} receive thread(s)")]
    public static partial void Started(ILogger logger, string server, uint servicePort, int receiveThreads);

    [LoggerMessage(EventId = 2, EventName = "Stopped", Level = LogLevel.Information, Message = "[{Server}] stopped")]
    public static partial void Stopped(ILogger logger, string server);

    [LoggerMessage(EventId = 10, EventName = "MessageRejected", Level = LogLevel.Warning,
        Message = "[{Server}] rejected msgh_id {MsghId} from pid {SenderPid}: {Reason}")]
    public static partial void MessageRejected(ILogger logger, string server, int msghId, int senderPid, string reason);

    [LoggerMessage(EventId = 11, EventName = "HandlerFailed", Level = LogLevel.Error,
        Message = "[{Server}] handler for msgh_id {MsghId} from pid {SenderPid} threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string server, int msghId, int senderPid);

    [LoggerMessage(EventId = 12, EventName = "MessageDestroyed", Level = LogLevel.Warning,
        Message = "[{Server}] destroyed a message: {Reason} ({Error})")]
    public static partial void MessageDestroyed(ILogger logger, string server, string reason, string error);

    [LoggerMessage(EventId = 13, EventName = "NotificationHandlerFailed", Level = LogLevel.Error,
        Message = "[{Server}] notification handler threw for notification {MsghId}")]
    public static partial void NotificationHandlerFailed(ILogger logger, Exception exception, string server, int msghId);

    [LoggerMessage(EventId = 20, EventName = "ReceiveFailed", Level = LogLevel.Warning, Message = "[{Server}] receive failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, string server, string error);

    [LoggerMessage(EventId = 21, EventName = "LoopFaulted", Level = LogLevel.Error,
        Message = "[{Server}] receive failed, the server loop ends: {Error}")]
    public static partial void LoopFaulted(ILogger logger, string server, string error);

    [LoggerMessage(EventId = 22, EventName = "WakeFailed", Level = LogLevel.Warning,
        Message = "[{Server}] could not wake the receive loop: {Error}")]
    public static partial void WakeFailed(ILogger logger, string server, string error);
}
