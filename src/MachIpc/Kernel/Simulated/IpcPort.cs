using System.Collections.Generic;

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
/// Every field is guarded by the kernel lock.
/// </summary>
internal sealed class IpcPort
{
    private static long s_nextId;

    internal readonly long Id = System.Threading.Interlocked.Increment(ref s_nextId);
    internal bool Active = true;

    /// <summary>The space holding the receive right; null while in transit or held by the kernel.</summary>
    internal IpcSpace? Receiver;
    /// <summary>The receiver's name for the receive right (valid while <see cref="Receiver"/> is set).</summary>
    internal uint ReceiverName;
    /// <summary>While the receive right travels in a message: that message's destination (circularity check, A26).</summary>
    internal IpcPort? TransitDestination;

    internal KObjectKind Kind;
    internal object? KObject; // SimulatedTask / Fileport / bootstrap marker

    internal uint SRights;   // send rights: one per entry holding SEND, plus each in flight
    internal uint SoRights;  // send-once rights anywhere
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
