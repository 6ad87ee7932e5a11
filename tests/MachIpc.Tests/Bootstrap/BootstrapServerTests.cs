using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Tests.Bootstrap;

/// <summary>The SDK's bootstrap wrapper: which port it talks to and which names it lets through.</summary>
public sealed class BootstrapServerTests : IDisposable
{
    private readonly SimulatedTask _owner = SimulatedMach.CreateTask("service owner");
    private readonly SimulatedTask _client = SimulatedMach.CreateTask("client");
    private readonly string _name = "org.machipc.tests.bootstrap." + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        _owner.Dispose();
        _client.Dispose();
    }

    private ReceiveRight CheckInAsOwner(string name)
    {
        using (_owner.Enter())
        {
            return BootstrapServer.CheckIn(name);
        }
    }

    [Fact]
    public void EmbeddedNul_IsRejected_InsteadOfNamingTheServiceBeforeIt()
    {
        using ReceiveRight service = CheckInAsOwner(_name);
        var before = _client.Rights();
        using (_client.Enter())
        {
            // A C stub stops at the NUL: "<name>\0.evil" would look up, check in or register "<name>" itself.
            string spoof = _name + "\0.evil";
            Assert.Contains("NUL", Assert.Throws<ArgumentException>(() => BootstrapServer.TryLookUp(spoof, out _, out _)).Message);
            Assert.Throws<ArgumentException>(() => BootstrapServer.TryCheckIn(spoof, out _, out _));
            using ReceiveRight mine = ReceiveRight.Allocate();
            using SendRight send = mine.MakeSend();
            Assert.Throws<ArgumentException>(() => BootstrapServer.TryRegister(spoof, send, out _));
        }
        Assert.Equal(before, _client.Rights()); // no send right to the service arrived
    }

    [Fact]
    public void NamesUpTo127Utf8Bytes_AreAccepted_LongerOnesRejected()
    {
        string longest = _name + new string('x', 127 - _name.Length);
        using ReceiveRight service = CheckInAsOwner(longest);
        using (_client.Enter())
        {
            Assert.True(BootstrapServer.TryLookUp(longest, out SendRight? send, out BootstrapReturn reason6));
            Assert.Equal(BootstrapReturn.Success, reason6);
            send!.Dispose();
            // 128 bytes: one ASCII byte too many, or a two-byte character at the end.
            Assert.Throws<ArgumentException>(() => BootstrapServer.TryLookUp(longest + "x", out _, out _));
            Assert.Throws<ArgumentException>(() => BootstrapServer.TryLookUp(longest[..^1] + "é", out _, out _));
            Assert.Throws<ArgumentException>(() => BootstrapServer.TryLookUp("", out _, out _));
        }
    }

    [Fact]
    public unsafe void Calls_GoToTheBootstrapPortGlobal_NotANewTaskGetSpecialPortRight()
    {
        using ReceiveRight service = CheckInAsOwner(_name);
        using (_client.Enter())
        {
            Assert.True(BootstrapServer.TryLookUp(_name, out SendRight? send, out BootstrapReturn reason7));
            Assert.Equal(BootstrapReturn.Success, reason7);
            send!.Dispose();
            // Once the process has given up bootstrap_port's right, libSystem's bootstrap calls fail on that
            // name; asking for TASK_BOOTSTRAP_PORT instead would quietly fetch a new right and succeed.
            Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, Mach.BootstrapPort));
            Assert.False(BootstrapServer.TryLookUp(_name, out send, out BootstrapReturn reason8));
            Assert.Equal((BootstrapReturn)(int)MachMsgReturn.SendInvalidDest, reason8);
            Assert.Null(send);
        }
    }
}
