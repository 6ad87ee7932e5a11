using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// A user-space model of XNU's Mach IPC (kernel-semantics.md). There is no kernel-wide lock: each space, port
/// and port set has its own, taken in XNU's order (README.md, "Locking"), and blocked threads sleep on their
/// own <see cref="Waiter"/> with no lock held. The file split follows XNU: rights (ipc_right.c), send/copyin
/// and receive/copyout (ipc_kmsg.c, ipc_mqueue.c), notifications (ipc_notify.c), mach_port_* calls
/// (mach_port.c), plus the bootstrap server and fileports.
/// </summary>
internal sealed unsafe partial class SimulatedKernel : IMachKernel
{
    internal static readonly SimulatedKernel Shared = new();

    // Leaf locks (nothing is locked under them): the task list, and the registry of live ports that leak checks read.
    private readonly KernelLock _tasksLock = KernelLock.Create();
    private readonly List<SimulatedTask> _tasks = new();
    private int _nextPid;
    private uint _nextPidVersion = 1;
    private readonly KernelLock _portsLock = KernelLock.Create();
    private readonly HashSet<IpcPort> _ports = new();
    private int _livePorts;
    // ipc_port_multiple_lock: serialises the circularity check of receive rights moving in messages (A26).
    private readonly KernelLock _transitLock = KernelLock.Create();
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
        using (_tasksLock.EnterScope())
        {
            var t = new SimulatedTask(this, name, _nextPid++, uid ?? MainTask.SecurityToken.Euid, gid ?? MainTask.SecurityToken.Egid, _nextPidVersion++);
            _tasks.Add(t);
            return t;
        }
    }

    /// <summary>A task for a process that joined through the kernel socket: its pid and ids are the peer's credentials.</summary>
    internal SimulatedTask CreateTask(string name, int pid, uint uid, uint gid)
    {
        using (_tasksLock.EnterScope())
        {
            var t = new SimulatedTask(this, name, pid, uid, gid, _nextPidVersion++);
            _tasks.Add(t);
            return t;
        }
    }

    /// <summary>
    /// Copies an out-of-line region the kernel handed <paramref name="task"/> (still held, at least
    /// <paramref name="size"/> bytes) into <paramref name="destination"/>; false if it is not such a region.
    /// Under the task's map lock, so another thread of the task cannot free it meanwhile.
    /// </summary>
    internal bool TryCopyRegion(SimulatedTask task, ulong address, uint size, Span<byte> destination) =>
        task.Vm.TryCopy(address, size, destination);

    /// <summary>Makes a sender-side deallocate of <paramref name="copy"/> free the task's region <paramref name="region"/> instead.</summary>
    internal void AddDeallocAlias(SimulatedTask task, ulong copy, ulong region) => task.Vm.AddAlias(copy, region);

    /// <summary>Drops the alias for <paramref name="copy"/>; true if copyin deallocated its region.</summary>
    internal bool TakeDeallocAlias(SimulatedTask task, ulong copy) => task.Vm.TakeAlias(copy);

    internal uint GrantTaskPort(SimulatedTask target, SimulatedTask holder)
    {
        try
        {
            using (target.TaskPort.Lock.EnterScope())
            {
                if (!target.TaskPort.Active || !holder.Space.Active)
                {
                    return MachPortName.Dead;
                }
                Interlocked.Increment(ref target.TaskPort.SRights);
            }
            return CopyoutToSpace(holder.Space, new KRight { Port = target.TaskPort, Type = MachMsgType.PortSend }, out uint name) == KernReturn.Success
                ? name : MachPortName.Dead;
        }
        finally
        {
            Flush();
        }
    }

    public int LastErrno => t_errno;

    /// <summary>The calling thread's errno, for a thread that runs the kernel host's loop inside its own call to keep.</summary>
    internal static int ThreadErrno
    {
        get => t_errno;
        set => t_errno = value;
    }

    public uint TaskSelf() => CurrentTask.SelfName;

    public int CurrentPid() => CurrentTask.Pid;

    public object? CaptureTask() => CurrentTask;

    public IDisposable? EnterTask(object task) => ((SimulatedTask)task).Enter();

    /// <summary>
    /// Resolves a task-port name in the caller's space to the target space, as the kernel does for the
    /// <c>task</c> argument of the mach_port traps (convert_port_to_space; an invalid name fails like a send to
    /// it would). Returns with no lock held.
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
        using (caller.Space.Lock.EnterScope())
        {
            IpcEntry? e = caller.Space.Lookup(task);
            if (e is not null && e.Has(MachPortType.Send) && e.Port is { Kind: KObjectKind.Task, Active: true, KObject: SimulatedTask target } && target.Space.Active)
            {
                space = target.Space;
                return KernReturn.Success;
            }
        }
        return (KernReturn)MachMsgReturn.SendInvalidDest;
    }

    /// <summary>
    /// The preamble every mach_port_* call shares, as XNU funnels them through its space lookups: the
    /// <c>task</c> argument resolved to a space (<see cref="ResolveSpace"/>), that space write-locked and active
    /// (is_write_lock + is_active, KERN_INVALID_TASK otherwise); disposing releases the lock and runs the call's
    /// deferred work.
    /// </summary>
    private readonly ref struct SpaceCall
    {
        private readonly SimulatedKernel _kernel;
        internal readonly IpcSpace Space;
        internal readonly KernReturn Result;

        internal SpaceCall(SimulatedKernel kernel, uint task)
        {
            _kernel = kernel;
            Result = kernel.ResolveSpace(task, out Space);
            if (Result != KernReturn.Success)
            {
                return;
            }
            Space.Lock.Enter();
            if (!Space.Active)
            {
                Space.Lock.Exit();
                Result = KernReturn.InvalidTask;
            }
        }

        internal bool Failed(out KernReturn kr)
        {
            kr = Result;
            return Result != KernReturn.Success;
        }

        public void Dispose()
        {
            if (Result == KernReturn.Success)
            {
                Space.Lock.Exit();
            }
            _kernel.Flush();
        }
    }

    private IpcPort NewPort(IpcSpace? receiver)
    {
        var p = new IpcPort { Receiver = receiver };
        using (_portsLock.EnterScope())
        {
            _livePorts++;
            _ports.Add(p);
        }
        return p;
    }

    /// <summary>A port stops being live (it died, or a fileport lost its last sender).</summary>
    private void PortGone(IpcPort p)
    {
        using (_portsLock.EnterScope())
        {
            if (_ports.Remove(p))
            {
                _livePorts--;
            }
        }
    }

    public MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify)
    {
        SimulatedTask task = CurrentTask;
        Waiter self = Waiter.Current; // this thread's kernel state, read once
        try
        {
            if (!task.Space.Active)
            {
                return (option & MachMsgOption.SendMsg) != 0 ? MachMsgReturn.SendInvalidDest : MachMsgReturn.RcvInvalidName;
            }
            if ((option & MachMsgOption.SendMsg) != 0)
            {
                MachMsgReturn mr = msg is null ? MachMsgReturn.SendInvalidData : Send(task, self, (byte*)msg, option, sendSize, timeout);
                if (mr != MachMsgReturn.Success)
                {
                    return mr; // B6: the receive half is skipped
                }
                Flush(self); // hand the message over before this thread receives (and perhaps blocks)
            }
            if ((option & MachMsgOption.RcvMsg) != 0)
            {
                return Receive(task, self, (byte*)msg, option, rcvSize, rcvName, timeout);
            }
            return MachMsgReturn.Success;
        }
        finally
        {
            Flush(self);
        }
    }

    private static long Deadline(bool hasTimeout, uint timeoutMs) =>
        hasTimeout ? Environment.TickCount64 + timeoutMs : long.MaxValue;

    /// <summary>
    /// Sleeps after <paramref name="w"/> was put on a wait list of <paramref name="owner"/> (whose lock the caller
    /// has just released). On a timeout, takes the waiter back off the list under that lock; if someone already
    /// took it (it is handing the thread a result), waits for that result instead. True if woken, false if timed out.
    /// </summary>
    private bool Block(Waiter w, KernelLock owner, long deadline)
    {
        Flush(w); // nothing may wait behind this thread's sleep (w is this thread's own waiter)
        w.Sleep(deadline);
        if (w.Done)
        {
            return true;
        }
        using (owner.EnterScope())
        {
            if (w.List is { } list)
            {
                list.Remove(w);
                return false;
            }
        }
        w.Sleep(long.MaxValue);
        return true;
    }

    internal void TerminateTask(SimulatedTask task)
    {
        IpcSpace s = task.Space;
        try
        {
            using (s.Lock.EnterScope())
            {
                if (!s.Active)
                {
                    return;
                }
                // ipc_space_terminate: the space goes inactive first, so every later call on it fails.
                s.Active = false;
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
            }
            task.Vm.Terminate();
            // I4: ipc_task_terminate (osfmk/kern/ipc_tt.c) destroys the task's kernel ports with
            // ipc_kobject_dealloc_port -> ipc_port_dealloc_special_and_unlock -> ipc_port_destroy
            // (osfmk/ipc/ipc_port.c), so a dead-name request armed on the task port fires as the task dies.
            using (task.TaskPort.Lock.EnterScope())
            {
                KillPortLocked(task.TaskPort);
            }
            BootstrapTaskDied(task);
            using (_tasksLock.EnterScope())
            {
                _tasks.Remove(task);
            }
        }
        finally
        {
            Flush();
        }
    }
}
