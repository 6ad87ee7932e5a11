using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Tests.Connections;
using Xunit;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// Pattern 2 with real processes: the socket's peer pid (SO_PEERCRED on Linux, LOCAL_PEERPID on macOS) must be the
/// audit-token pid of the first message on the service. Only what a Mac offers is used. (An honest peer process
/// completing the exchange is the behaviour suite's: MachIpc.Behaviour/ConnectionTests.)
/// </summary>
[Collection("cross-process")]
public sealed class SocketRendezvousProcessTests : ChildProcessTests
{
    [Fact]
    public void AHelloFromAnotherProcess_EndsTheRendezvous()
    {
        string victimName = _prefix + ".victim", peerName = _prefix + ".peer";
        using var listener = UnixSockets.Listen(out string path);
        using var peerEnd = UnixSockets.Connect(path);
        using Socket victimEnd = listener.Accept();
        // Both ends are in this process: the socket's peer pid is ours, and so is the honest hello's sender.
        Exception? failure = null;
        var victim = new Thread(() =>
        {
            try
            {
                SocketRendezvous.Exchange(victimEnd, victimName, TimeSpan.FromSeconds(10)).Dispose();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        victim.Start();
        byte[] victimFrame = new byte[2 + victimName.Length];
        new NetworkStream(peerEnd).ReadExactly(victimFrame); // the victim has checked in its name
        Process spoofer = Start("hello", victimName);
        Assert.Equal("sent", Finish(spoofer)); // a well-formed hello, first in the victim's queue
        using (var peerService = BootstrapServer.CheckIn(peerName))
        {
            peerEnd.Send([2, (byte)peerName.Length, .. Encoding.UTF8.GetBytes(peerName)]);
            Assert.True(victim.Join(ChildTimeout));
        }
        var refused = Assert.IsType<MachRendezvousException>(failure);
        Assert.Contains($"came from pid {spoofer.Id}, not from the socket's peer (pid {Environment.ProcessId})", refused.Message);
        File.Delete(path);
        AssertNoLeaks();
    }
}
