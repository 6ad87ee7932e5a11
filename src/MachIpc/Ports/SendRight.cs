using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Ports;

/// <summary>One owned user reference of a send right. Disposing calls <c>mach_port_deallocate</c>.</summary>
public sealed class SendRight : MachRight
{
    private SendRight(uint name) : base(name) { }

    /// <inheritdoc/>
    public override MachPortRight Right => MachPortRight.Send;

    /// <summary>Takes ownership of one user reference of the send right under <paramref name="name"/>.</summary>
    public static SendRight Adopt(uint name) => new(name);

    /// <summary>Adds a user reference (<c>mach_port_mod_refs(SEND, +1)</c>) and returns it as a separately owned right.</summary>
    public SendRight Copy()
    {
        uint name = LiveName();
        using var _ = EnterOwner();
        Check(Mach.PortModRefs(Mach.TaskSelf, name, MachPortRight.Send, 1), "mach_port_mod_refs");
        return new SendRight(name);
    }

    /// <summary>
    /// Asks for <c>MACH_NOTIFY_DEAD_NAME</c> on <paramref name="notifyPort"/> when the port this right names dies (its
    /// receive right is destroyed, for example when its task exits); the name then becomes a dead name.
    /// </summary>
    /// <param name="notifyPort">Where the notification goes (a send-once right to it is made for the request).</param>
    /// <returns>The send-once right of the dead-name request this one replaces, or null.</returns>
    /// <exception cref="MachException">The kernel refused.</exception>
    public SendOnceRight? RequestDeadName(ReceiveRight notifyPort) =>
        RequestNotification(MachNotify.DeadName, 0, notifyPort, "mach_port_request_notification(DEAD_NAME)");

    /// <summary>
    /// <see cref="RequestDeadName"/> that reports a refusal instead of throwing: <c>KERN_INVALID_ARGUMENT</c> when the
    /// port already died (the name is a dead name: the notification would have nothing left to announce), which a
    /// caller racing the peer's exit must handle.
    /// </summary>
    /// <param name="notifyPort">Where the notification goes.</param>
    /// <param name="previous">The send-once right of the request this one replaces, or null.</param>
    /// <param name="reason">The kernel's code when the request was refused.</param>
    public bool TryRequestDeadName(ReceiveRight notifyPort, out SendOnceRight? previous, out MachError reason) =>
        TryRequestNotification(MachNotify.DeadName, 0, notifyPort, out previous, out reason);

    private protected override void Release(uint name) => Mach.PortDeallocate(Mach.TaskSelf, name);
}

/// <summary>An owned send-once right. Disposing it unused sends the port a send-once notification, as XNU does.</summary>
public sealed class SendOnceRight : MachRight
{
    private SendOnceRight(uint name) : base(name) { }

    /// <inheritdoc/>
    public override MachPortRight Right => MachPortRight.SendOnce;

    /// <summary>Takes ownership of the send-once right under <paramref name="name"/> (e.g. a received reply port).</summary>
    public static SendOnceRight Adopt(uint name) => new(name);

    private protected override void Release(uint name) => Mach.PortDeallocate(Mach.TaskSelf, name);
}

/// <summary>An owned dead name (one user reference). Disposing calls <c>mach_port_mod_refs(DEAD_NAME, -1)</c>.</summary>
public sealed class DeadName : MachRight
{
    private DeadName(uint name) : base(name) { }

    /// <inheritdoc/>
    public override MachPortRight Right => MachPortRight.DeadName;

    /// <summary>Takes ownership of one user reference of the dead name <paramref name="name"/>.</summary>
    public static DeadName Adopt(uint name) => new(name);

    private protected override void Release(uint name) => Mach.PortModRefs(Mach.TaskSelf, name, MachPortRight.DeadName, -1);
}
