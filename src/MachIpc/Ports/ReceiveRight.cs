using System;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Ports;

/// <summary>An owned receive right. Disposing destroys the port (<c>mach_port_mod_refs(RECEIVE, -1)</c>).</summary>
public sealed class ReceiveRight : MachRight
{
    private ReceiveRight(uint name) : base(name) { }

    /// <inheritdoc/>
    public override MachPortRight Right => MachPortRight.Receive;

    /// <summary>Allocates a new port and returns its receive right (<c>mach_port_allocate(RECEIVE)</c>).</summary>
    public static unsafe ReceiveRight Allocate()
    {
        uint name;
        Check(Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &name), "mach_port_allocate");
        return new ReceiveRight(name);
    }

    /// <summary>
    /// Allocates a port to receive replies on (the local port of a request sent with <c>MAKE_SEND_ONCE</c>):
    /// <c>mach_port_construct(MPO_PROVISIONAL_REPLY_PORT)</c> where the kernel has it (macOS 13 and later, and the
    /// simulated kernel), <c>mach_port_allocate</c> elsewhere. XNU marks such a port as a provisional reply port,
    /// which destinations that require reply-port semantics accept from processes outside the hardened set
    /// (osfmk/ipc/ipc_port.c <c>ip_violates_reply_port_semantics</c>); elsewhere it is an ordinary port. Use it only
    /// as a reply port: never make send rights to it or move its receive right.
    /// </summary>
    /// <exception cref="MachException">The kernel refused (for example the kernel host of a joined process is gone).</exception>
    public static ReceiveRight AllocateReplyPort()
    {
        KernReturn kr = TryAllocateReplyPort(out ReceiveRight? port);
        Check(kr, UsesProvisionalReplyPorts ? "mach_port_construct" : "mach_port_allocate");
        return port!;
    }

    /// <summary>Whether reply ports come from <c>mach_port_construct(MPO_PROVISIONAL_REPLY_PORT)</c> (macOS 13+ and the simulator).</summary>
    internal static bool UsesProvisionalReplyPorts => !Mach.IsDarwin || OperatingSystem.IsMacOSVersionAtLeast(13);

    /// <summary><see cref="AllocateReplyPort"/> that reports failure as a code instead of throwing.</summary>
    internal static unsafe KernReturn TryAllocateReplyPort(out ReceiveRight? port)
    {
        uint name;
        KernReturn kr;
        if (UsesProvisionalReplyPorts)
        {
            var options = new MachPortOptions { Flags = MachPortConstructFlags.ProvisionalReplyPort };
            kr = Mach.PortConstruct(Mach.TaskSelf, &options, 0, &name);
        }
        else
        {
            kr = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &name);
        }
        port = kr == KernReturn.Success ? new ReceiveRight(name) : null;
        return kr;
    }

    /// <summary>Takes ownership of a receive right already held under <paramref name="name"/> (e.g. received in a message).</summary>
    /// <exception cref="System.ArgumentException"><paramref name="name"/> is MACH_PORT_NULL or MACH_PORT_DEAD, which name no right.</exception>
    public static ReceiveRight Adopt(uint name) => new(name);

    /// <summary>
    /// Makes a new send right to this port (<c>mach_port_insert_right(MAKE_SEND)</c> under the same name; the
    /// make-send count goes up). The returned right is owned separately.
    /// </summary>
    public SendRight MakeSend()
    {
        uint name = LiveName();
        using var _ = EnterOwner();
        Check(Mach.PortInsertRight(Mach.TaskSelf, name, name, MachMsgType.MakeSend), "mach_port_insert_right");
        return SendRight.Adopt(name);
    }

    /// <summary>
    /// Makes a send-once right to this port under a new name (<c>mach_port_extract_right(MAKE_SEND_ONCE)</c>), for a
    /// single reply or notification; the returned right is owned separately.
    /// </summary>
    /// <exception cref="MachException">The kernel refused.</exception>
    public unsafe SendOnceRight MakeSendOnce()
    {
        uint name = LiveName();
        uint sendOnce;
        MachMsgType type;
        using var _ = EnterOwner();
        Check(Mach.PortExtractRight(Mach.TaskSelf, name, MachMsgType.MakeSendOnce, &sendOnce, &type), "mach_port_extract_right");
        return SendOnceRight.Adopt(sendOnce);
    }

    /// <summary>
    /// Asks for <c>MACH_NOTIFY_NO_SENDERS</c> on <paramref name="notifyPort"/> once this port has no send rights left
    /// (<c>mach_port_request_notification</c>): at once if its make-send count is already at least
    /// <paramref name="sync"/> and no send rights exist, otherwise when the last one goes.
    /// </summary>
    /// <param name="notifyPort">Where the notification goes (a send-once right to it is made for the request).</param>
    /// <param name="sync">The make-send count from which the notification may fire (0: whenever there are no senders).</param>
    /// <returns>The send-once right of the no-senders request this one replaces, or null.</returns>
    /// <exception cref="MachException">The kernel refused.</exception>
    public SendOnceRight? RequestNoSenders(ReceiveRight notifyPort, uint sync = 0) =>
        RequestNotification(MachNotify.NoSenders, sync, notifyPort, "mach_port_request_notification(NO_SENDERS)");

    /// <summary>
    /// Asks for <c>MACH_NOTIFY_PORT_DESTROYED</c> on <paramref name="notifyPort"/> instead of destroying this port when
    /// its receive right is deallocated: the notification carries the receive right back.
    /// </summary>
    /// <returns>The send-once right of the port-destroyed request this one replaces, or null.</returns>
    /// <exception cref="MachException">The kernel refused.</exception>
    public SendOnceRight? RequestPortDestroyed(ReceiveRight notifyPort) =>
        RequestNotification(MachNotify.PortDestroyed, 0, notifyPort, "mach_port_request_notification(PORT_DESTROYED)");

    /// <summary>Sets the queue limit (<c>mach_port_set_attributes(MACH_PORT_LIMITS_INFO)</c>, 0..1024).</summary>
    public unsafe void SetQueueLimit(uint qlimit)
    {
        int limit = (int)qlimit;
        using var _ = EnterOwner();
        Check(Mach.PortSetAttributes(Mach.TaskSelf, LiveName(), MachPortLimits.LimitsInfoFlavor, &limit, MachPortLimits.LimitsInfoCount), "mach_port_set_attributes");
    }

    private protected override void Release(uint name) =>
        Mach.PortModRefs(Mach.TaskSelf, name, MachPortRight.Receive, -1);
}
