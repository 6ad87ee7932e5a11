using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>check_in, look_up and register, in this task and from another process.</summary>
public sealed unsafe class BootstrapTests : BehaviourTest
{
    [Fact]
    public void CheckIn_ThenLookUp_NamesTheSamePort_WithASendRight()
    {
        string name = UniqueName("bootstrap.same");
        using ReceiveRight service = BootstrapServer.CheckIn(name);
        using SendRight send = BootstrapServer.LookUp(name);
        Assert.Equal(service.Name, send.Name); // one name per port in a space
        MachPortType type;
        Assert.Equal(KernReturn.Success, Mach.PortType(Mach.TaskSelf, send.Name, &type));
        Assert.Equal(MachPortType.SendReceive, type);
        Assert.False(BootstrapServer.TryCheckIn(name, out _, out BootstrapReturn reason1));
        Assert.Equal(BootstrapReturn.ServiceActive, reason1);
    }

    [Fact]
    public void LookUp_OfAnUnknownName_IsUnknownService()
    {
        Assert.False(BootstrapServer.TryLookUp(UniqueName("bootstrap.nobody"), out SendRight? send, out BootstrapReturn reason2));
        Assert.Equal(BootstrapReturn.UnknownService, reason2);
        Assert.Null(send);
    }

    [Fact]
    public void Register_CopiesTheSendRight_TheRegistrantKeepsItsOwn()
    {
        string name = UniqueName("bootstrap.register");
        using var port = ReceiveRight.Allocate();
        using SendRight mine = port.MakeSend();
        BootstrapServer.Register(name, mine);
        uint refs;
        Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, mine.Name, MachPortRight.Send, &refs));
        Assert.Equal(1u, refs);
        using SendRight back = BootstrapServer.LookUp(name);
        Assert.Equal(mine.Name, back.Name);
    }

    [Fact]
    public void AnotherProcess_LooksUpTheCheckedInName_AndItsMessageCarriesItsPid()
    {
        string name = UniqueName("bootstrap.child");
        using ReceiveRight service = BootstrapServer.CheckIn(name);
        var child = StartPeer("send-note", name, "7");
        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(service.Name, buffer, MachMsgOption.RcvTimeout, 30_000));
        Assert.Equal(MachValidationError.None, Note.TryRead(buffer, out var note));
        Assert.Equal(7, note.Message.Value);
        Assert.Equal(child.Id, note.SenderPid);
        Assert.Equal("sent on " + Mach.Backend, Finish(child)); // Mach.ConfigureChild: the same kernel, in the same mode
    }
}
