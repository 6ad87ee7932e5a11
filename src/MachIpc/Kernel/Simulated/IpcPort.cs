using System.Collections.Generic;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>What a kernel-held port stands for (<c>ipc_kobject_type_t</c>); user ports are <see cref="None"/>.</summary>
internal enum KObjectKind
{
    None,
    Task,
    Bootstrap,
    Fileport,
}

/// <summary>A dead-name request registered on a port by one name in one space (<c>ipc_port_request</c>).</summary>
internal struct DeadNameRequest
{
    internal IpcSpace Space;
    internal uint Name;
    internal IpcPort Notify; // the registration holds one send-once right to it
}

/// <summary>
/// <c>struct ipc_port</c>: one port, its message queue (<c>ipc_mqueue</c>) and the counts XNU keeps on it.
/// Every field is guarded by <see cref="Lock"/> (ip_mq_lock: the port lock is also its message queue's and
/// wait queue's lock), except <see cref="TransitDestination"/>, which the kernel's transit lock guards, and the
/// right counts <see cref="SRights"/> and <see cref="SoRights"/>, which change atomically (Interlocked) so that
/// copying a send or send-once right in or out needs no port lock: a count only reaches zero, where no-senders
/// fires, through <c>ReleaseSendLocked</c> under the lock, or on a dead port, where nothing fires.
/// </summary>
internal sealed class IpcPort
{
    private static long s_nextId;

    internal readonly long Id = Interlocked.Increment(ref s_nextId);
    internal readonly KernelLock Lock = KernelLock.Create();
    /// <summary>Only ever goes from true to false, so it is also read without the lock: seen true, the port was alive then.</summary>
    internal volatile bool Active = true;

    /// <summary>The space holding the receive right; null while in transit or held by the kernel.</summary>
    internal IpcSpace? Receiver;
    /// <summary>The receiver's name for the receive right (valid while <see cref="Receiver"/> is set).</summary>
    internal uint ReceiverName;
    /// <summary>While the receive right travels in a message: that message's destination (circularity check, A26; ip_destination).</summary>
    internal IpcPort? TransitDestination;

    internal KObjectKind Kind;
    internal object? KObject; // SimulatedTask / Fileport / bootstrap marker

    internal uint SRights;   // send rights: one per entry holding SEND, plus each in flight (Interlocked)
    internal uint SoRights;  // send-once rights anywhere (Interlocked)
    internal uint MsCount;
    internal uint QLimit = Abi.MachPortLimits.QLimitDefault;
    internal uint MsgCount;  // queued messages + slots handed to woken senders (E4)
    internal uint Seqno;
    internal ulong Context;
    /// <summary>Made with MPO_PROVISIONAL_REPLY_PORT (ipc_port.c ipc_port_init: ip_mark_provisional_reply_port); no semantics enforced.</summary>
    internal bool ProvisionalReplyPort;

    internal readonly KMsgQueue Queue = new();
    internal List<IpcPortSet>? Sets;

    internal IpcPort? NsRequest;     // holds a send-once right to the notify port
    internal IpcPort? PdRequest;     // holds a send-once right to the notify port
    internal List<DeadNameRequest>? DnRequests;

    internal readonly WaitList Receivers = new();
    internal readonly WaitList Senders = new();

    internal bool IsKernelOwned => Kind != KObjectKind.None;
    internal bool InSet => Sets is { Count: > 0 };

    public override string ToString() => $"port#{Id}{(Active ? "" : " (dead)")}";
}
