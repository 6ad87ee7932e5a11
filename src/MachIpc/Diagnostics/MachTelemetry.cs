using System.Diagnostics;

namespace MachIpc.Diagnostics;

/// <summary>
/// The names MachIpc publishes its traces and metrics under, for <c>AddSource</c> / <c>AddMeter</c> in an
/// OpenTelemetry setup or an <see cref="ActivityListener"/> / <see cref="System.Diagnostics.Metrics.MeterListener"/>.
/// </summary>
public static class MachTelemetry
{
    /// <summary>
    /// The <see cref="ActivitySource"/> name: an activity per <c>MachRpcClient</c> call (<see cref="ActivityKind.Client"/>,
    /// <c>machipc.call</c>) and per message a <c>MachServer</c> dispatches (<see cref="ActivityKind.Server"/>,
    /// <c>machipc.dispatch</c>), tagged <see cref="MsghIdTag"/> and <see cref="SenderPidTag"/>.
    /// </summary>
    public const string ActivitySourceName = "MachIpc";

    /// <summary>The meter a <c>MachServer</c> publishes its instruments on.</summary>
    public const string MeterName = "MachIpc.Server";

    /// <summary>Tag: the request's <c>msgh_id</c>.</summary>
    public const string MsghIdTag = "machipc.msgh_id";

    /// <summary>Tag: the pid from the kernel's audit trailer (the replier's on a call, the requester's on a dispatch).</summary>
    public const string SenderPidTag = "machipc.sender_pid";

    /// <summary>Tag: why a call or a message failed (a constant string or a Mach error name).</summary>
    public const string ReasonTag = "machipc.reason";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
}
