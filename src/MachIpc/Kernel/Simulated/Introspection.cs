using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>One task in a <see cref="KernelSnapshot"/>.</summary>
/// <param name="Name">The task's label.</param>
/// <param name="Pid">The task's pid.</param>
/// <param name="Rights">Every name in its space.</param>
/// <param name="VmRegions">Out-of-line regions it received and has not deallocated.</param>
public sealed record TaskSnapshot(string Name, int Pid, IReadOnlyList<PortRightInfo> Rights, int VmRegions);

/// <summary>
/// Kernel-wide counts at one instant, for leak checks: take one before a test and call
/// <see cref="AssertNoLeaksSince"/> after it.
/// </summary>
public sealed class KernelSnapshot
{
    internal KernelSnapshot(int livePorts, int queuedMessages, int vmRegions, IReadOnlyList<TaskSnapshot> tasks)
    {
        LivePorts = livePorts;
        QueuedMessages = queuedMessages;
        OutstandingVmRegions = vmRegions;
        Tasks = tasks;
    }

    /// <summary>Ports that are alive (user ports, bootstrap services and fileports; not task ports).</summary>
    public int LivePorts { get; }

    /// <summary>Messages queued on live ports.</summary>
    public int QueuedMessages { get; }

    /// <summary>Out-of-line regions handed to receivers and not yet <c>vm_deallocate</c>'d, across all tasks.</summary>
    public int OutstandingVmRegions { get; }

    /// <summary>Every live task with the rights it holds.</summary>
    public IReadOnlyList<TaskSnapshot> Tasks { get; }

    /// <summary>What grew since <paramref name="before"/> (ports, queued messages, regions, rights of tasks alive in both), or null.</summary>
    public string? DescribeLeaksSince(KernelSnapshot before)
    {
        ArgumentNullException.ThrowIfNull(before);
        var sb = new StringBuilder();
        if (LivePorts > before.LivePorts)
        {
            sb.Append("live ports ").Append(before.LivePorts).Append(" -> ").Append(LivePorts).Append("; ");
        }
        if (QueuedMessages > before.QueuedMessages)
        {
            sb.Append("queued messages ").Append(before.QueuedMessages).Append(" -> ").Append(QueuedMessages).Append("; ");
        }
        if (OutstandingVmRegions > before.OutstandingVmRegions)
        {
            sb.Append("OOL regions ").Append(before.OutstandingVmRegions).Append(" -> ").Append(OutstandingVmRegions).Append("; ");
        }
        foreach (TaskSnapshot t in Tasks)
        {
            foreach (TaskSnapshot old in before.Tasks)
            {
                if (old.Pid == t.Pid && Total(t) > Total(old))
                {
                    sb.Append(t.Name).Append(" rights ").Append(Describe(old.Rights)).Append(" -> ").Append(Describe(t.Rights)).Append("; ");
                }
            }
        }
        return sb.Length == 0 ? null : sb.ToString();
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> describing anything that leaked since <paramref name="before"/>.</summary>
    public void AssertNoLeaksSince(KernelSnapshot before)
    {
        string? leaks = DescribeLeaksSince(before);
        if (leaks is not null)
        {
            throw new InvalidOperationException("Mach resources leaked: " + leaks);
        }
    }

    private static long Total(TaskSnapshot t)
    {
        long n = t.VmRegions;
        foreach (PortRightInfo r in t.Rights)
        {
            n += 1 + r.Urefs;
        }
        return n;
    }

    private static string Describe(IReadOnlyList<PortRightInfo> rights)
    {
        var sb = new StringBuilder("[");
        foreach (PortRightInfo r in rights)
        {
            sb.Append(" 0x").Append(r.Name.ToString("x")).Append(':').Append(r.Type).Append('x').Append(r.Urefs);
        }
        return sb.Append(" ]").ToString();
    }
}

// Leak-check snapshots. Each task, port and space is read under its own lock, one at a time: the snapshot is
// exact when no other thread is inside the kernel (as around a test), and a close approximation otherwise.
internal sealed partial class SimulatedKernel
{
    internal KernelSnapshot Snapshot()
    {
        IpcPort[] ports;
        int live;
        using (_portsLock.EnterScope())
        {
            ports = [.. _ports];
            live = _livePorts;
        }
        int queued = 0;
        foreach (IpcPort p in ports)
        {
            using (p.Lock.EnterScope())
            {
                queued += p.Queue.Count;
            }
        }
        SimulatedTask[] all;
        using (_tasksLock.EnterScope())
        {
            all = [.. _tasks];
        }
        var tasks = new List<TaskSnapshot>();
        int regions = 0;
        foreach (SimulatedTask t in all)
        {
            int n = t.Vm.Count;
            regions += n;
            tasks.Add(new TaskSnapshot(t.Name, t.Pid, RightsOf(t), n));
        }
        return new KernelSnapshot(live, queued, regions, tasks);
    }

    internal IReadOnlyList<PortRightInfo> RightsOf(SimulatedTask task)
    {
        using (task.Space.Lock.EnterScope())
        {
            return RightsLocked(task.Space);
        }
    }

    /// <summary>Every name in <paramref name="s"/> (locked), as mach_port_names / mach_port_type report it.</summary>
    private static List<PortRightInfo> RightsLocked(IpcSpace s)
    {
        var list = new List<PortRightInfo>();
        foreach (IpcEntry e in Snapshot(s))
        {
            CheckDead(s, e); // as mach_port_names / mach_port_type would
            list.Add(new PortRightInfo(e.Name, e.Type | (e.DnRequest ? MachPortType.DnRequest : 0), e.Urefs));
        }
        return list;
    }

    internal int BlockedThreads => Volatile.Read(ref WaitList.TotalWaiting);

    /// <summary>
    /// Whether <paramref name="name"/> names a receive right made with MPO_PROVISIONAL_REPLY_PORT. XNU marks such a
    /// port (ipc_port.c ipc_port_init) but shows the mark to no user call, so only tests ask.
    /// </summary>
    internal bool IsProvisionalReplyPort(SimulatedTask task, uint name)
    {
        using (task.Space.Lock.EnterScope())
        {
            if (task.Space.Lookup(name) is not { Port: IpcPort p } e || !e.Has(MachPortType.Receive))
            {
                return false;
            }
            using (p.Lock.EnterScope())
            {
                return p.ProvisionalReplyPort;
            }
        }
    }

    /// <summary>
    /// Threads blocked receiving on <paramref name="name"/> (a receive right or a port set) in
    /// <paramref name="task"/>'s space. A wake-up takes the thread off the wait queue under the queue owner's lock,
    /// so tests can tell "still blocked" from "woken" at once instead of sleeping and checking a thread's state.
    /// </summary>
    internal int ReceiversBlockedOn(SimulatedTask task, uint name) => BlockedOn(task, name, senders: false);

    /// <summary>Senders waiting for a queue slot (A37) on the port whose receive right <paramref name="name"/> is.</summary>
    internal int SendersBlockedOn(SimulatedTask task, uint name) => BlockedOn(task, name, senders: true);

    private static int BlockedOn(SimulatedTask task, uint name, bool senders)
    {
        using (task.Space.Lock.EnterScope())
        {
            IpcEntry? e = task.Space.Lookup(name);
            if (e?.PortSet is IpcPortSet set)
            {
                using (set.Lock.EnterScope())
                {
                    return senders ? 0 : Count(set.Receivers);
                }
            }
            if (e is { Port: { } port } && e.Has(MachPortType.Receive))
            {
                using (port.Lock.EnterScope())
                {
                    return Count(senders ? port.Senders : port.Receivers);
                }
            }
            return 0;
        }

        static int Count(WaitList queue)
        {
            int n = 0;
            for (Waiter? w = queue.First; w is not null; w = w.Next)
            {
                n++;
            }
            return n;
        }
    }
}
