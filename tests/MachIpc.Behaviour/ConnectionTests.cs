using System.Globalization;
using System.Net.Sockets;
using MachIpc.Connections;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>
/// Patterns 1 and 2 between this process and a child (pattern 3, channels moved to another process, is
/// <see cref="ChannelTests"/>).
/// </summary>
public sealed class ConnectionTests : BehaviourTest
{
    [Fact]
    public void HelperRendezvous_ConnectsTheExpectedChild_AndRefusesAProcessItDoesNotExpect()
    {
        // Nothing is held for a pid nobody expects: a check-in from it is refused at once.
        using var rendezvous = new HelperRendezvous(UniqueName("helpers"), new HelperRendezvousOptions { EarlyCheckInHold = TimeSpan.Zero });
        var expected = StartPeer("helper", rendezvous.ServiceName);
        using HelperRegistration registration = rendezvous.Expect(expected.Id);

        var stranger = StartPeer("helper", rendezvous.ServiceName); // also our child, but not the one we expect
        Say(stranger);
        string verdict = Finish(stranger);
        Assert.StartsWith("refused ", verdict);
        Assert.Contains("NOT_PRIVILEGED", verdict);

        Say(expected);
        using HelperConnection? connection = registration.WaitForConnection(ChildTimeout);
        Assert.True(connection is not null, "the expected helper never checked in");
        Assert.Equal(expected.Id, connection.Pid);
        Assert.Equal(7, ChannelTests.ReceiveNote(connection.Channel, out int pid).Value);
        Assert.Equal(expected.Id, pid);
        ChannelTests.SendNote(connection.Channel, 8);
        Assert.Equal("ok 8", Finish(expected));
    }

    [Fact]
    public void SocketRendezvous_TiesAChannelToTheProcessAtTheOtherEndOfTheSocket()
    {
        string path = Path.Combine(Path.GetTempPath(), "machipc-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        using (var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var peer = StartPeer("socket-peer", path, UniqueName("socket.peer"));
            Assert.True(listener.Poll(ChildTimeout, SelectMode.SelectRead), "the peer never connected");
            MachChannel channel;
            using (Socket accepted = listener.Accept())
            {
                channel = SocketRendezvous.Exchange(accepted, UniqueName("socket.parent"), ChildTimeout); // the peer's pid from the socket
            }
            using (channel)
            {
                Assert.Equal(7, ChannelTests.ReceiveNote(channel, out int pid).Value);
                Assert.Equal(peer.Id, pid);
                ChannelTests.SendNote(channel, 8);
                Assert.Equal("ok " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture), Finish(peer));
            }
        }
        File.Delete(path);
    }
}
