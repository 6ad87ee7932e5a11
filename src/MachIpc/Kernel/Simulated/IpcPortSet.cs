using System.Collections.Generic;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// <c>struct ipc_pset</c>: a port set. <see cref="Members"/> doubles as the prepost order: the member that
/// was just served moves to the back, so members with messages are served round-robin (B3). Guarded by
/// <see cref="Lock"/> (ips_mq_lock); a membership change holds the member port's lock too (port, then set).
/// </summary>
internal sealed class IpcPortSet
{
    internal readonly KernelLock Lock = KernelLock.Create();
    internal bool Active = true;
    internal readonly IpcSpace Space;
    internal uint Name;
    internal readonly List<IpcPort> Members = new();
    internal readonly WaitList Receivers = new();

    internal IpcPortSet(IpcSpace space, uint name)
    {
        Space = space;
        Name = name;
    }

    /// <summary>
    /// The first member with a queued message in prepost order, or null. Members' queues are read without their
    /// locks: the caller locks the member and looks again (waitq_set_first_prepost does the same with its preposts).
    /// </summary>
    internal IpcPort? FirstWithMessage()
    {
        for (int i = 0; i < Members.Count; i++)
        {
            if (!Members[i].Queue.IsEmpty)
            {
                return Members[i];
            }
        }
        return null;
    }

    /// <summary>Rotates a served member to the back of the prepost order.</summary>
    internal void Rotate(IpcPort served)
    {
        int i = Members.IndexOf(served);
        if (i >= 0 && i != Members.Count - 1)
        {
            Members.RemoveAt(i);
            Members.Add(served);
        }
    }
}
