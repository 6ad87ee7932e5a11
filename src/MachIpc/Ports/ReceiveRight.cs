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

    /// <summary>Takes ownership of a receive right already held under <paramref name="name"/> (e.g. received in a message).</summary>
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
