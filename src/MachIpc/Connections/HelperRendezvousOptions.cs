using System;

namespace MachIpc.Connections;

/// <summary>What a <see cref="HelperRendezvous"/> does when a pid it was not told to expect checks in.</summary>
public enum UnexpectedHelperPolicy
{
    /// <summary>
    /// Hold the check-in for <see cref="HelperRendezvousOptions.EarlyCheckInHold"/> (a helper may start faster
    /// than its parent can call <see cref="HelperRendezvous.Expect"/>), then answer <c>BOOTSTRAP_NOT_PRIVILEGED</c>
    /// (the default).
    /// </summary>
    Refuse = 0,
    /// <summary>Create a channel on demand; collect it with <see cref="HelperRendezvous.AcceptUnexpected"/>.</summary>
    CreateChannel = 1,
}

/// <summary>Settings for the parent's side of a <see cref="HelperRendezvous"/>.</summary>
public sealed class HelperRendezvousOptions
{
    /// <summary>What to do with a pid nobody expects. Default <see cref="UnexpectedHelperPolicy.Refuse"/>.</summary>
    public UnexpectedHelperPolicy UnexpectedHelpers { get; set; }

    /// <summary>
    /// How long a check-in from a pid not (yet) expected waits for <see cref="HelperRendezvous.Expect"/> before it
    /// is refused: a parent learns a child's pid only when spawn returns, and the child may check in before that.
    /// <see cref="TimeSpan.Zero"/> refuses at once. Default 10 seconds.
    /// </summary>
    public TimeSpan EarlyCheckInHold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Watch every expected or held pid and drop what belongs to it when that process exits (kqueue
    /// <c>EVFILT_PROC</c>/<c>NOTE_EXIT</c> on macOS, a pidfd on Linux), so that a later process reusing the pid
    /// cannot claim its channel. Default true. Turn it off only when the helpers are not processes: the
    /// simulated kernel's in-process tasks (<c>SimulatedMach.CreateTask</c>) have pids no OS process stands behind.
    /// </summary>
    public bool WatchProcessExit { get; set; } = true;
}

/// <summary>Settings for a helper's <see cref="HelperRendezvous.Connect"/>.</summary>
public sealed class HelperConnectOptions
{
    /// <summary>
    /// The pid that must answer the check-in (from the kernel's audit token of its reply). Default: this
    /// process's parent (<c>getppid</c>). Set it when the parent is not the process that spawned this one.
    /// </summary>
    public int? ParentPid { get; set; }

    /// <summary>
    /// Also give the parent this task's task port (full control of this process), once the parent's answer has
    /// been verified. Default false. Processes that cannot move <c>mach_task_self()</c> (platform binaries,
    /// hardened processes: <c>kGUARD_EXC_IMMOVABLE</c>) must leave it off.
    /// </summary>
    public bool SendTaskPort { get; set; }

    /// <summary>How long each request waits for the parent. Default 5 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
}
