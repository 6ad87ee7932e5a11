using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// A user-space model of XNU's Mach IPC (kernel-semantics.md). One kernel lock guards every space, port
/// and queue; blocked threads sleep on their own <see cref="Waiter"/> with the lock released. The file
/// split follows XNU: rights (ipc_right.c), send/copyin and receive/copyout (ipc_kmsg.c, ipc_mqueue.c),
/// notifications (ipc_notify.c), mach_port_* calls (mach_port.c), plus the bootstrap server and fileports.
/// </summary>
internal sealed unsafe partial class SimulatedKernel : IMachKernel
{
    internal static readonly SimulatedKernel Shared = new();

    private readonly Lock _lock = new();
    private readonly List<SimulatedTask> _tasks = new();
    private int _nextPid;
    private uint _nextPidVersion = 1;
    private int _livePorts;
    private readonly HashSet<IpcPort> _ports = new();
    [ThreadStatic] private static int t_errno;

    internal readonly SimulatedTask MainTask;
    private readonly IpcPort _bootstrapPort;

    /// <summary>The bootstrap server's port (held by the kernel: launchd is served in-kernel here).</summary>
    internal IpcPort BootstrapKernelPort => _bootstrapPort;

    private SimulatedKernel()
    {
        int realPid = Environment.ProcessId;
        _nextPid = realPid < 20000 ? 20000 : realPid + 1;
        uint uid = 0, gid = 0;
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                uid = Libc.geteuid();
                gid = Libc.getegid();
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }
        }
        _bootstrapPort = new IpcPort { Kind = KObjectKind.Bootstrap };
        MainTask = new SimulatedTask(this, "main", realPid, uid, gid, _nextPidVersion++);
        _tasks.Add(MainTask);
    }

    internal SimulatedTask CurrentTask => SimulatedTask.CurrentOrNull ?? MainTask;

    internal SimulatedTask CreateTask(string name, uint? uid, uint? gid)
    {
        lock (_lock)
        {
            var t = new SimulatedTask(this, name, _nextPid++, uid ?? MainTask.SecurityToken.Euid, gid ?? MainTask.SecurityToken.Egid, _nextPidVersion++);
            _tasks.Add(t);
            return t;
        }
    }

    /// <summary>A task for a process that joined through the kernel socket: its pid and ids are the peer's credentials.</summary>
    internal SimulatedTask CreateTask(string name, int pid, uint uid, uint gid)
    {
        lock (_lock)
        {
            var t = new SimulatedTask(this, name, pid, uid, gid, _nextPidVersion++);
            _tasks.Add(t);
            return t;
        }
    }

    /// <summary>
    /// Copies an out-of-line region the kernel handed <paramref name="task"/> (still in its VmRegions, at least
    /// <paramref name="size"/> bytes) into <paramref name="destination"/>; false if it is not such a region.
    /// Under the kernel lock, so another thread of the task cannot free it meanwhile.
    /// </summary>
    internal unsafe bool TryCopyRegion(SimulatedTask task, ulong address, uint size, Span<byte> destination)
    {
        lock (_lock)
        {
            if (!task.VmRegions.TryGetValue(address, out ulong have) || have < size || destination.Length < (int)size)
            {
                return false;
            }
            new ReadOnlySpan<byte>((void*)address, (int)size).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Makes a sender-side deallocate of <paramref name="copy"/> free the task's region <paramref name="region"/> instead.</summary>
    internal void AddDeallocAlias(SimulatedTask task, ulong copy, ulong region)
    {
        lock (_lock)
        {
            (task.DeallocAliases ??= new Dictionary<ulong, ulong>())[copy] = region;
        }
    }

    /// <summary>Drops the alias for <paramref name="copy"/>; true if copyin deallocated its region.</summary>
    internal bool TakeDeallocAlias(SimulatedTask task, ulong copy)
    {
        lock (_lock)
        {
            task.DeallocAliases?.Remove(copy);
            return task.DeallocAliasesConsumed.Remove(copy);
        }
    }

    internal uint GrantTaskPort(SimulatedTask target, SimulatedTask holder)
    {
        lock (_lock)
        {
            if (!target.TaskPort.Active || !holder.Space.Active)
            {
                return MachPortName.Dead;
            }
            target.TaskPort.SRights++;
            return CopyoutRight(holder.Space, new KRight { Port = target.TaskPort, Type = MachMsgType.PortSend });
        }
    }

    public int LastErrno => t_errno;

    public uint TaskSelf() => CurrentTask.SelfName;

    public int CurrentPid() => CurrentTask.Pid;

    public object? CaptureTask() => CurrentTask;

    public IDisposable? EnterTask(object task) => ((SimulatedTask)task).Enter();

    /// <summary>
    /// Resolves a task-port name in the caller's space to the target space, as the kernel does for the
    /// <c>task</c> argument of the mach_port traps (an invalid name fails like a send to it would).
    /// </summary>
    private KernReturn ResolveSpace(uint task, out IpcSpace space)
    {
        SimulatedTask caller = CurrentTask;
        space = caller.Space;
        if (!caller.Space.Active)
        {
            return KernReturn.InvalidTask;
        }
        if (task == caller.SelfName)
        {
            return KernReturn.Success;
        }
        IpcEntry? e = caller.Space.Lookup(task);
        if (e?.Port is { Kind: KObjectKind.Task, Active: true, KObject: SimulatedTask target } && e.Has(MachPortType.Send) && target.Space.Active)
        {
            space = target.Space;
            return KernReturn.Success;
        }
        return (KernReturn)MachMsgReturn.SendInvalidDest;
    }

    private IpcPort NewPort(IpcSpace? receiver)
    {
        var p = new IpcPort { Receiver = receiver };
        _livePorts++;
        _ports.Add(p);
        return p;
    }

    public MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify)
    {
        SimulatedTask task = CurrentTask;
        Waiter.BeginDeferWakes();
        _lock.Enter();
        try
        {
            if (!task.Space.Active)
            {
                return (option & MachMsgOption.SendMsg) != 0 ? MachMsgReturn.SendInvalidDest : MachMsgReturn.RcvInvalidName;
            }
            if ((option & MachMsgOption.SendMsg) != 0)
            {
                MachMsgReturn mr = msg is null ? MachMsgReturn.SendInvalidData : SendLocked(task, (byte*)msg, option, sendSize, timeout);
                if (mr != MachMsgReturn.Success)
                {
                    return mr; // B6: the receive half is skipped
                }
            }
            if ((option & MachMsgOption.RcvMsg) != 0)
            {
                return ReceiveLocked(task, (byte*)msg, option, rcvSize, rcvName, timeout);
            }
            return MachMsgReturn.Success;
        }
        finally
        {
            // A receive completed by a sender (direct hand-off) returns with the lock already released.
            if (_lock.IsHeldByCurrentThread)
            {
                _lock.Exit();
            }
            Waiter.EndDeferWakes();
        }
    }

    /// <summary>Releases the kernel lock while <paramref name="w"/> sleeps, then retakes it.</summary>
    private void Block(Waiter w, long deadline)
    {
        _lock.Exit();
        Waiter.FlushDeferredWakes();
        try
        {
            w.Sleep(deadline);
        }
        finally
        {
            _lock.Enter();
        }
    }

    private static long Deadline(bool hasTimeout, uint timeoutMs) =>
        hasTimeout ? Environment.TickCount64 + timeoutMs : long.MaxValue;

    internal void TerminateTask(SimulatedTask task)
    {
        lock (_lock)
        {
            IpcSpace s = task.Space;
            if (!s.Active)
            {
                return;
            }
            // C15: receive rights first (C10/C11), then everything else as deallocate/destroy would.
            var entries = new List<IpcEntry>();
            foreach (IpcEntry e in s.Entries)
            {
                if (e.Has(MachPortType.Receive))
                {
                    entries.Add(e);
                }
            }
            foreach (IpcEntry e in entries)
            {
                if (!e.IsFree && e.Has(MachPortType.Receive))
                {
                    DestroyEntry(s, e);
                }
            }
            entries.Clear();
            foreach (IpcEntry e in s.Entries)
            {
                entries.Add(e);
            }
            foreach (IpcEntry e in entries)
            {
                if (!e.IsFree)
                {
                    DestroyEntry(s, e);
                }
            }
            s.Active = false;
            foreach (KeyValuePair<ulong, ulong> r in task.VmRegions)
            {
                System.Runtime.InteropServices.NativeMemory.Free((void*)r.Key);
            }
            task.VmRegions.Clear();
            // I4: ipc_task_terminate (osfmk/kern/ipc_tt.c) destroys the task's kernel ports with
            // ipc_kobject_dealloc_port -> ipc_port_dealloc_special_and_unlock -> ipc_port_destroy
            // (osfmk/ipc/ipc_port.c), so a dead-name request armed on the task port fires as the task dies.
            KillPort(task.TaskPort);
            BootstrapTaskDied(task);
            _tasks.Remove(task);
        }
    }
}
