using System;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// Entry point to the simulated kernel for tests, samples and multi-task setups: create tasks, and take
/// snapshots of kernel state for leak checks. Mach calls themselves go through <see cref="Mach"/>.
/// </summary>
public static class SimulatedMach
{
    /// <summary>Creates a task with its own IPC space, task port, pid and audit token.</summary>
    /// <param name="name">A label for diagnostics.</param>
    /// <param name="uid">euid/ruid/auid for its audit and security tokens (default: the main task's).</param>
    /// <param name="gid">egid/rgid (default: the main task's).</param>
    public static SimulatedTask CreateTask(string name, uint? uid = null, uint? gid = null) =>
        SimulatedKernel.Shared.CreateTask(name ?? throw new ArgumentNullException(nameof(name)), uid, gid);

    /// <summary>The task that threads act as when they have not entered another; its pid is the real process id.</summary>
    public static SimulatedTask MainTask => SimulatedKernel.Shared.MainTask;

    /// <summary>The task the calling thread acts as.</summary>
    public static SimulatedTask CurrentTask => SimulatedKernel.Shared.CurrentTask;

    /// <summary>Threads currently blocked in <c>mach_msg</c> (receiving, or sending to a full queue); lets tests wait for a thread to block.</summary>
    public static int BlockedThreads => SimulatedKernel.Shared.BlockedThreads;

    /// <summary>A consistent snapshot of kernel-wide counts (live ports, queued messages, OOL regions, rights per task).</summary>
    public static KernelSnapshot Snapshot() => SimulatedKernel.Shared.Snapshot();
}
