using System;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Ports;

/// <summary>An owned port set. Disposing destroys the set (its members are unaffected).</summary>
public sealed class PortSet : MachRight
{
    private PortSet(uint name) : base(name) { }

    /// <inheritdoc/>
    public override MachPortRight Right => MachPortRight.PortSet;

    /// <summary>Allocates an empty port set.</summary>
    public static unsafe PortSet Allocate()
    {
        uint name;
        Check(Mach.PortAllocate(Mach.TaskSelf, MachPortRight.PortSet, &name), "mach_port_allocate");
        return new PortSet(name);
    }

    /// <summary>Adds the port whose receive right is <paramref name="member"/> (<c>mach_port_insert_member</c>).</summary>
    public void Add(ReceiveRight member)
    {
        ArgumentNullException.ThrowIfNull(member);
        using var _ = EnterOwner();
        Check(Mach.PortInsertMember(Mach.TaskSelf, member.Name, LiveName()), "mach_port_insert_member");
    }

    /// <summary>Removes a member (<c>mach_port_extract_member</c>).</summary>
    public void Remove(ReceiveRight member)
    {
        ArgumentNullException.ThrowIfNull(member);
        using var _ = EnterOwner();
        Check(Mach.PortExtractMember(Mach.TaskSelf, member.Name, LiveName()), "mach_port_extract_member");
    }

    private protected override void Release(uint name) => Mach.PortModRefs(Mach.TaskSelf, name, MachPortRight.PortSet, -1);
}
