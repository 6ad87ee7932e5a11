using System;

namespace MachIpc.Kernel;

/// <summary>
/// The task a thread acts as, captured on one thread and entered on another (a server's receive thread acts
/// for the task that created the server). On Darwin every thread is in the process's one task, so this is
/// empty; the simulated kernel binds threads to simulated tasks.
/// </summary>
internal readonly struct CurrentTaskContext
{
    private readonly object? _task;

    private CurrentTaskContext(object? task) => _task = task;

    public static CurrentTaskContext Capture() => new(Mach.Kernel.CaptureTask());

    public IDisposable? Enter() => _task is null ? null : Mach.Kernel.EnterTask(_task);
}
