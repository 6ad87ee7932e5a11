using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>One right a task holds, as <c>mach_port_names</c> / <c>mach_port_get_refs</c> would report it.</summary>
/// <param name="Name">The name in the task's space.</param>
/// <param name="Type">The type bits (<c>mach_port_type</c>, including <see cref="MachPortType.DnRequest"/>).</param>
/// <param name="Urefs">User references of the send or dead-name right (1 for a send-once right, 0 otherwise).</param>
public readonly record struct PortRightInfo(uint Name, MachPortType Type, uint Urefs);

/// <summary>
/// A simulated task: its own IPC space, its own task port (named by <see cref="Mach.TaskSelf"/> while the
/// task is current), a pid and an audit token that receivers see in message trailers. Threads act as a
/// task after <see cref="Enter"/>; threads that never entered one act as <see cref="SimulatedMach.MainTask"/>.
/// Disposing the task is task death (rule C15).
/// </summary>
public sealed class SimulatedTask : IDisposable
{
    [ThreadStatic] private static SimulatedTask? t_current;

    internal readonly IpcSpace Space;
    internal readonly IpcPort TaskPort;
    internal readonly uint SelfName;
    /// <summary>Out-of-line regions this task was handed, and the kernel memory it is answerable for.</summary>
    internal readonly VmMap Vm = new();
    private readonly SimulatedKernel _kernel;

    internal SimulatedTask(SimulatedKernel kernel, string name, int pid, uint uid, uint gid, uint pidVersion)
    {
        _kernel = kernel;
        Name = name;
        Pid = pid;
        AuditToken = AuditToken.Create(uid, uid, gid, uid, gid, pid, 100000, pidVersion);
        SecurityToken = new SecurityToken { Euid = uid, Egid = gid };
        Space = new IpcSpace(this);
        TaskPort = new IpcPort { Kind = KObjectKind.Task, KObject = this };
        IpcEntry self = Space.Allocate()!;
        self.Type = MachPortType.Send;
        self.Urefs = 1;
        self.Port = TaskPort;
        TaskPort.SRights = 1;
        Space.IndexPort(self);
        SelfName = self.Name;
        // A process is born with a send right to its bootstrap server, which libSystem keeps in the global
        // bootstrap_port (libsyscall/mach/mach_init.c declares it; it is filled in from TASK_BOOTSTRAP_PORT at start).
        IpcEntry boot = Space.Allocate()!;
        boot.Type = MachPortType.Send;
        boot.Urefs = 1;
        boot.Port = kernel.BootstrapKernelPort;
        Interlocked.Increment(ref boot.Port.SRights);
        Space.IndexPort(boot);
        BootstrapName = boot.Name;
    }

    /// <summary>The task's name for its bootstrap send right (what <c>bootstrap_port</c> holds in it).</summary>
    internal readonly uint BootstrapName;

    /// <summary>The current thread's task (<see cref="SimulatedMach.MainTask"/> unless one was entered).</summary>
    internal static SimulatedTask? CurrentOrNull => t_current;

    /// <summary>A label for diagnostics.</summary>
    public string Name { get; }

    /// <summary>The task's process id (as in its audit token).</summary>
    public int Pid { get; }

    /// <summary>The audit token the kernel puts in trailers of messages this task sends (B26).</summary>
    public AuditToken AuditToken { get; }

    /// <summary>The security token <c>{euid, egid}</c> of this task (B25).</summary>
    public SecurityToken SecurityToken { get; }

    /// <summary>Whether the task has died.</summary>
    public bool IsTerminated => !Space.Active;

    /// <summary>The task's name for its own task port (what <c>mach_task_self()</c> returns inside it).</summary>
    public uint TaskSelf => SelfName;

    /// <summary>Makes the calling thread act as this task until the returned scope is disposed.</summary>
    public IDisposable Enter()
    {
        var scope = new EnterScope(t_current);
        t_current = this;
        return scope;
    }

    /// <summary>
    /// Makes the calling thread act as <paramref name="task"/> (null: the main task) and returns the task it acted
    /// as before; the kernel host's loop thread switches tasks per request without allocating a scope.
    /// </summary>
    internal static SimulatedTask? SetCurrent(SimulatedTask? task)
    {
        SimulatedTask? previous = t_current;
        t_current = task;
        return previous;
    }

    /// <summary>Task death (C15): receive rights destroyed first, then every other right released.</summary>
    public void Terminate() => _kernel.TerminateTask(this);

    /// <summary>Same as <see cref="Terminate"/>.</summary>
    public void Dispose() => Terminate();

    /// <summary>
    /// Gives <paramref name="holder"/> a send right to this task's task port (what <c>task_for_pid</c> would
    /// return) and returns its name in the holder's space, so the holder can pass it as the <c>task</c>
    /// argument of the mach_port_* calls. The holder releases it with <c>mach_port_deallocate</c>.
    /// </summary>
    public uint TaskPortNameIn(SimulatedTask holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        return _kernel.GrantTaskPort(this, holder);
    }

    /// <summary>Every name in the task's space with its type and urefs.</summary>
    public IReadOnlyList<PortRightInfo> Rights() => _kernel.RightsOf(this);

    /// <summary>Whether <paramref name="name"/> is a receive right this task made with MPO_PROVISIONAL_REPLY_PORT.</summary>
    internal bool IsProvisionalReplyPort(uint name) => _kernel.IsProvisionalReplyPort(this, name);

    /// <summary>Out-of-line regions received by this task and not yet <c>vm_deallocate</c>'d.</summary>
    public int OutstandingVmRegions => Vm.Count;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (pid {Pid})";

    private sealed class EnterScope(SimulatedTask? previous) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                t_current = previous;
            }
        }
    }
}
