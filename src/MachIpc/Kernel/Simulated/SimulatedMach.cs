using System;
using System.Diagnostics;
using MachIpc.Kernel.Remote;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// Entry point to the simulated kernel for tests, samples and multi-task setups: create tasks, and take
/// snapshots of kernel state for leak checks. Mach calls themselves go through <see cref="Mach"/>. The task
/// and snapshot members describe this process's own simulated kernel; in a process that joined another's
/// kernel (<see cref="IsJoined"/>) that local kernel is not the one its Mach calls use.
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

    /// <summary>
    /// Makes this process's simulated kernel joinable by child processes and returns the socket path to pass
    /// them in <see cref="Mach.KernelSocketVariable"/> (<see cref="ConfigureChild"/> does that). The first call
    /// starts listening on a Unix-domain socket in a private (0700) directory. Each joining process becomes a
    /// task whose pid, euid and egid are the kernel's peer credentials of its socket; when it exits or is killed
    /// its task dies as XNU's would (C15). In a process that itself joined a parent's kernel, this returns the
    /// inherited path, so grandchildren join the same kernel. Linux only.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not Linux, or the backend is not the simulated kernel.</exception>
    public static string ShareWithChildren()
    {
        if (Mach.Backend != MachKernelBackend.Simulated)
        {
            throw new PlatformNotSupportedException("Only the simulated kernel is shared with child processes.");
        }
        if (Mach.Kernel is RemoteKernel remote)
        {
            return remote.SocketPath;
        }
        return KernelHost.Start().SocketPath;
    }

    /// <summary>
    /// Sets <paramref name="startInfo"/>'s environment so the child joins this process's kernel
    /// (<see cref="Mach.KernelSocketVariable"/> and <c>MACHIPC_KERNEL=simulated</c>); starts sharing if needed.
    /// </summary>
    public static void ConfigureChild(ProcessStartInfo startInfo)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        startInfo.Environment[Mach.KernelSocketVariable] = ShareWithChildren();
        startInfo.Environment[Mach.BackendVariable] = "simulated";
    }

    /// <summary>True when this process is a task of a simulated kernel hosted by another process.</summary>
    public static bool IsJoined => Mach.Backend == MachKernelBackend.Simulated && Mach.Kernel is RemoteKernel;

    /// <summary>
    /// In a joined process, why the hosting process can no longer be reached (it exited or was killed), or null
    /// while it can. Once set, Mach calls fail fast instead of blocking: sends and bootstrap calls return
    /// <c>MACH_SEND_INVALID_DEST</c>, receives <c>MACH_RCV_PORT_CHANGED</c>, mach_port_* calls
    /// <c>KERN_INVALID_TASK</c>, fileport calls -1 with errno <c>EPIPE</c>. Always null in the hosting process.
    /// </summary>
    public static string? KernelHostLostReason => IsJoined ? ((RemoteKernel)Mach.Kernel).LostReason : null;

    /// <summary>In the hosting process, how many joined clients were disconnected for sending bytes that break the kernel-socket protocol.</summary>
    public static int RejectedClients => KernelHost.Current?.RejectedClients ?? 0;

    /// <summary>A consistent snapshot of kernel-wide counts (live ports, queued messages, OOL regions, rights per task).</summary>
    public static KernelSnapshot Snapshot() => SimulatedKernel.Shared.Snapshot();
}
