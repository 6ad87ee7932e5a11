using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;
using MachIpc.Diagnostics;

namespace MachIpc.Server;

/// <summary>
/// Counters of a <see cref="MachServer"/>, also published through <see cref="System.Diagnostics.Metrics"/> on the
/// meter <see cref="MachTelemetry.MeterName"/> (from <see cref="MachServerOptions.MeterFactory"/> when one is given):
/// observable counters <c>machipc.server.received</c>, <c>.dispatched</c>, <c>.rejected</c> (tagged
/// <see cref="MachTelemetry.ReasonTag"/>), <c>.handler_failures</c> in <c>{message}</c>, <c>.notifications</c> in
/// <c>{notification}</c>, and the histogram <c>machipc.server.dispatch.duration</c> in seconds; every measurement is
/// tagged <see cref="ServerTag"/> with <see cref="MachServerOptions.Name"/>.
/// </summary>
/// <remarks>
/// One count per event: the counters below are the only bookkeeping, and the instruments observe them.
/// </remarks>
public sealed class MachServerMetrics
{
    /// <summary>The meter's name (<see cref="MachTelemetry.MeterName"/>).</summary>
    public const string MeterName = MachTelemetry.MeterName;

    /// <summary>The tag carrying the server's name.</summary>
    public const string ServerTag = "machipc.server";

    private readonly KeyValuePair<string, object?> _serverTag;
    private readonly ConcurrentDictionary<string, long> _rejectedByReason = new();
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _dispatchDuration;
    private long _received;
    private long _dispatched;
    private long _rejected;
    private long _handlerFailures;
    private long _notifications;

    internal MachServerMetrics(string serverName, IMeterFactory? meterFactory)
    {
        _serverTag = new(ServerTag, serverName);
        // A factory's meter belongs to the factory (and one per server name: the server tag tells servers apart, the
        // meter tag keeps their observable instruments on separate meters); without one the server owns its meter.
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(MeterName) { Tags = [_serverTag] }) ?? new Meter(MeterName);
        _meter.CreateObservableCounter("machipc.server.received", () => Measure(ref _received), "{message}",
            "Messages received (including notifications and rejected ones, excluding the server's own wake-ups)");
        _meter.CreateObservableCounter("machipc.server.dispatched", () => Measure(ref _dispatched), "{message}", "Messages a handler accepted");
        _meter.CreateObservableCounter("machipc.server.rejected", MeasureRejected, "{message}", "Messages destroyed without a handler keeping them");
        _meter.CreateObservableCounter("machipc.server.handler_failures", () => Measure(ref _handlerFailures), "{message}", "Handlers that threw");
        _meter.CreateObservableCounter("machipc.server.notifications", () => Measure(ref _notifications), "{notification}", "Kernel notifications received");
        _dispatchDuration = _meter.CreateHistogram<double>("machipc.server.dispatch.duration", "s", "Time from receiving a message to its handler's return");
    }

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

    /// <summary>Whether dispatch durations are being listened to (only then is the clock read).</summary>
    internal bool MeasuresDuration => _dispatchDuration.Enabled;

    private Measurement<long> Measure(ref long counter) => new(Interlocked.Read(ref counter), _serverTag);

    private IEnumerable<Measurement<long>> MeasureRejected()
    {
        foreach (var (reason, count) in _rejectedByReason)
        {
            yield return new Measurement<long>(count, _serverTag, new KeyValuePair<string, object?>(MachTelemetry.ReasonTag, reason));
        }
    }

    internal void OnReceived() => Interlocked.Increment(ref _received);

    internal void OnDispatched() => Interlocked.Increment(ref _dispatched);

    internal void OnNotification() => Interlocked.Increment(ref _notifications);

    internal void OnDispatchDuration(TimeSpan elapsed) => _dispatchDuration.Record(elapsed.TotalSeconds, _serverTag);

    internal void OnRejected(string reason, bool handlerFailed)
    {
        Interlocked.Increment(ref _rejected);
        _rejectedByReason.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        if (handlerFailed)
        {
            Interlocked.Increment(ref _handlerFailures);
        }
    }

    /// <summary>Ends publication of a server's own meter (a factory's meter lives as long as its factory).</summary>
    internal void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
