using System.Collections.Generic;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// <c>struct ipc_pset</c>: a port set, its members, and its prepost queue (<c>wqset_preposts</c>): the members
/// that got a message while no thread was waiting, in the order they first did (B3, I5). Guarded by
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
    private readonly List<IpcPort> _preposts = new();

    internal IpcPortSet(IpcSpace space, uint name)
    {
        Space = space;
        Name = name;
    }

    /// <summary>
    /// <c>waitq_link_prepost_locked</c> / the prepost step of a wakeup that found no thread (osfmk/kern/waitq.c):
    /// a member not yet on the prepost queue goes to its tail; one already there keeps its place.
    /// </summary>
    internal void Prepost(IpcPort member)
    {
        if (!_preposts.Contains(member))
        {
            _preposts.Add(member);
        }
    }

    /// <summary>
    /// <c>waitq_set_first_prepost(WQS_PREPOST_LOCK)</c> (osfmk/kern/waitq.c), as
    /// <c>ipc_mqueue_receive_on_thread_and_unlock</c> calls it for every non-peek receive on a set
    /// (osfmk/ipc/ipc_mqueue.c: "Put the message at the back of the prepost list if it's not a PEEK"): the head
    /// member with messages is rotated to the back (<c>circle_queue_rotate_head_forward</c>) before anyone looks
    /// at the message, so the rotation happens even when the receive then reports MACH_RCV_TOO_LARGE and leaves
    /// the message queued. Heads whose queue emptied since they were preposted are dropped on the way, as XNU
    /// drops a link whose waitq is no longer preposted. Members' queues are read without their locks: the caller
    /// locks the member and looks again (waitq_set_first_prepost does the same with its preposts).
    /// </summary>
    internal IpcPort? FirstPrepost()
    {
        while (_preposts.Count > 0)
        {
            IpcPort head = _preposts[0];
            _preposts.RemoveAt(0);
            if (!head.Queue.IsEmpty)
            {
                _preposts.Add(head);
                return head;
            }
        }
        return null;
    }

    /// <summary><c>waitq_unlink_locked</c>: the member leaves the set and its prepost queue.</summary>
    internal void RemoveMember(IpcPort member)
    {
        Members.Remove(member);
        _preposts.Remove(member);
    }

    /// <summary>The set is destroyed: every link goes.</summary>
    internal void Clear()
    {
        Members.Clear();
        _preposts.Clear();
    }
}
