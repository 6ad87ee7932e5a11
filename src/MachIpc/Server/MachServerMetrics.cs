using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;

namespace MachIpc.Server;

/// <summary>
/// Counters of a <see cref="MachServer"/>, also published through <see cref="System.Diagnostics.Metrics"/> on
/// the meter <c>MachIpc.Server</c> (instruments <c>machipc.server.received</c>, <c>.dispatched</c>,
/// <c>.rejected</c> tagged with <c>reason</c>, <c>.handler_failures</c>, <c>.notifications</c>).
/// </summary>
public sealed class MachServerMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "MachIpc.Server";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_received = s_meter.CreateCounter<long>("machipc.server.received", description: "Messages received");
    private static readonly Counter<long> s_dispatched = s_meter.CreateCounter<long>("machipc.server.dispatched", description: "Messages a handler accepted");
    private static readonly Counter<long> s_rejected = s_meter.CreateCounter<long>("machipc.server.rejected", description: "Messages destroyed without a handler taking them");
    private static readonly Counter<long> s_failures = s_meter.CreateCounter<long>("machipc.server.handler_failures", description: "Handlers that threw");
    private static readonly Counter<long> s_notifications = s_meter.CreateCounter<long>("machipc.server.notifications", description: "Kernel notifications received");

    private readonly KeyValuePair<string, object?> _serverTag;
    private readonly ConcurrentDictionary<string, long> _rejectedByReason = new();
    private long _received;
    private long _dispatched;
    private long _rejected;
    private long _handlerFailures;
    private long _notifications;

    internal MachServerMetrics(string serverName) => _serverTag = new("server", serverName);

    /// <summary>Messages received (including notifications and rejected ones, excluding the server's own wake-ups).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Messages a handler accepted.</summary>
    public long Dispatched => Interlocked.Read(ref _dispatched);

    /// <summary>Messages destroyed without a handler keeping them (unknown id, invalid, too large, forged notification, handler threw).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Handlers that threw (also counted in <see cref="Rejected"/>).</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Genuine kernel notifications received.</summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    /// <summary>Rejections by reason.</summary>
    public IReadOnlyDictionary<string, long> RejectedByReason => new Dictionary<string, long>(_rejectedByReason);

    internal void OnReceived()
    {
        Interlocked.Increment(ref _received);
        s_received.Add(1, _serverTag);
    }

    internal void OnDispatched()
    {
        Interlocked.Increment(ref _dispatched);
        s_dispatched.Add(1, _serverTag);
    }

    internal void OnNotification()
    {
        Interlocked.Increment(ref _notifications);
        s_notifications.Add(1, _serverTag);
    }

    internal void OnRejected(string reason, bool handlerFailed)
    {
        Interlocked.Increment(ref _rejected);
        _rejectedByReason.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        s_rejected.Add(1, _serverTag, new KeyValuePair<string, object?>("reason", reason));
        if (handlerFailed)
        {
            Interlocked.Increment(ref _handlerFailures);
            s_failures.Add(1, _serverTag);
        }
    }
}
