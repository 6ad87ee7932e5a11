using System.Net.Sockets;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace MachIpc.Tests.Connections;

/// <summary>Moves one end of a channel to another task.</summary>
[MachMessage(5201)]
public partial struct ChannelTransfer
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor Inbound;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor Outbound;
}

/// <summary>Carries a file descriptor as a fileport.</summary>
[MachMessage(5202)]
public partial struct FileAttachment
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor Fileport;
}

/// <summary>Patterns 2 and 3 and fileports between two tasks of the simulated kernel in this process (simulator-only).</summary>
public sealed class ConnectionPatternTests : InProcessTaskTests
{
    [Fact]
    public void Pattern2_SocketBootstrappedPeers_SwitchToMachPorts_AndTheNamesGoAway()
    {
        using var listener = UnixSockets.Listen(out string path);
        Task<MachChannel> parentSide = StartIn(_parent, () =>
        {
            using var accepted = listener.Accept();
            return SocketRendezvous.Exchange(accepted, _prefix + ".parent", _helper.Pid, TimeSpan.FromSeconds(5));
        });
        var helperChannel = RunIn(_helper, () =>
        {
            using var socket = UnixSockets.Connect(path);
            return SocketRendezvous.Exchange(socket, _prefix + ".helper", _parent.Pid, TimeSpan.FromSeconds(5));
        });
        MachChannel parentChannel = Finish(parentSide);
        File.Delete(path);
        // Each side dropped its service once the hello was in: nobody else can reach the channel through a name.
        Assert.False(BootstrapServer.TryLookUp(_prefix + ".parent", out _, out BootstrapReturn reason9));
        Assert.Equal(BootstrapReturn.UnknownService, reason9);
        Assert.False(BootstrapServer.TryLookUp(_prefix + ".helper", out _, out BootstrapReturn reason10));
        Assert.Equal(BootstrapReturn.UnknownService, reason10);

        RunIn(_helper, () => { SendNote(helperChannel, 21); return 0; });
        using (_parent.Enter())
        {
            Assert.Equal(21, ReceiveNote(parentChannel));
            SendNote(parentChannel, 22);
        }
        Assert.Equal(22, RunIn(_helper, () => ReceiveNote(helperChannel)));
        RunIn(_helper, () => { helperChannel.Dispose(); return 0; });
        using (_parent.Enter())
        {
            parentChannel.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern2_AHelloFromAnyoneButTheSocketsPeer_EndsTheRendezvous_AndLeavesNothingBehind()
    {
        using var spoofer = SimulatedMach.CreateTask("spoofer");
        string victimName = _prefix + ".victim", peerName = _prefix + ".peer";
        using var listener = UnixSockets.Listen(out string path);
        Task<MachChannel> victim = StartIn(_parent, () =>
        {
            using var accepted = listener.Accept();
            return SocketRendezvous.Exchange(accepted, victimName, _helper.Pid, TimeSpan.FromSeconds(5));
        });
        // The honest peer's side, played by hand so that the spoofer can write first.
        using var socket = UnixSockets.Connect(path);
        byte[] victimFrame = new byte[2 + victimName.Length];
        new NetworkStream(socket).ReadExactly(victimFrame); // the victim has checked in
        // Anyone can look the name up: the spoofer sends a well-formed hello before the peer does.
        RunIn(spoofer, () =>
        {
            using var mine = ReceiveRight.Allocate();
            using var target = BootstrapServer.LookUp(victimName);
            var hello = new SocketRendezvousHello();
            hello.Prepare(target.Name);
            hello.Channel.Name = mine.Name;
            Assert.Equal(MachMsgReturn.Success, hello.Send());
            return 0;
        });
        ReceiveRight peerService = RunIn(_helper, () => BootstrapServer.CheckIn(peerName));
        socket.Send([2, (byte)peerName.Length, .. System.Text.Encoding.UTF8.GetBytes(peerName)]);

        var error = Assert.Throws<AggregateException>(() => Finish(victim));
        var refused = Assert.IsType<MachRendezvousException>(error.InnerException);
        Assert.Contains($"came from pid {spoofer.Pid}, not from the socket's peer (pid {_helper.Pid})", refused.Message);
        RunIn(_helper, () => { peerService.Dispose(); return 0; }); // with the victim's hello still queued on it
        File.Delete(path);
        AssertNoLeaks();
    }

    public static TheoryData<byte[], string> MalformedPeers => new()
    {
        { new byte[] { 9, 3, (byte)'a', (byte)'b', (byte)'c' }, "version" },
        { new byte[] { 1, 3, (byte)'a', (byte)'b', (byte)'c' }, "version 1" }, // before the hello: its sender was never checked
        { new byte[] { 2, 0 }, "length 0" },
        { new byte[] { 2, 200 }, "length 200" },
        { new byte[] { 2, 5, (byte)'a' }, "closed the socket" },
        { new byte[] { 2 }, "closed the socket" },
        { new byte[] { 2, 2, 0xff, 0xfe }, "UTF-8" },
        { new byte[] { 2, 2, (byte)'a', 0 }, "NUL" },
        { new byte[] { 2, 7, (byte)'n', (byte)'o', (byte)'-', (byte)'s', (byte)'u', (byte)'c', (byte)'h' }, "BOOTSTRAP_UNKNOWN_SERVICE" },
    };

    [Theory]
    [MemberData(nameof(MalformedPeers))]
    public void Pattern2_MalformedOrShortSocketInput_IsAClearError_AndLeaksNothing(byte[] peerBytes, string expected)
    {
        using var listener = UnixSockets.Listen(out string path);
        var hostile = new Thread(() =>
        {
            using var accepted = listener.Accept();
            accepted.Send(peerBytes);
            accepted.Shutdown(SocketShutdown.Send);
            var sink = new byte[256];
            try
            {
                while (accepted.Receive(sink) > 0)
                {
                }
            }
            catch (SocketException)
            {
                // The victim may reset the connection once it has rejected our bytes.
            }
        });
        hostile.Start();
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () =>
        {
            using var socket = UnixSockets.Connect(path);
            try
            {
                return SocketRendezvous.Exchange(socket, _prefix + ".victim", _parent.Pid, TimeSpan.FromSeconds(5));
            }
            finally
            {
                socket.Shutdown(SocketShutdown.Both);
            }
        }));
        hostile.Join();
        File.Delete(path);
        var rendezvousError = Assert.IsType<MachRendezvousException>(error.InnerException);
        Assert.Contains(expected, rendezvousError.Message);
        // Only the bootstrap registration of the checked-in name may remain as launchd's own right; the task holds nothing.
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern3_PreCreatedPair_MovedToAnotherTask_DeliversMessagesQueuedBeforeTheMove()
    {
        MachChannel first, second;
        using (_parent.Enter())
        {
            (first, second) = MachChannel.CreatePair();
            SendNote(first, 1);
            SendNote(first, 2);
        }
        // The helper's inbox for the moved end, published through the bootstrap server.
        var inbox = RunIn(_helper, () => ReceiveRight.Allocate());
        RunIn(_helper, () =>
        {
            using var send = inbox.MakeSend();
            BootstrapServer.Register(_prefix + ".inbox", send);
            return 0;
        });
        using (_parent.Enter())
        {
            using var toHelper = BootstrapServer.LookUp(_prefix + ".inbox");
            var transfer = new ChannelTransfer();
            transfer.Prepare(toHelper.Name);
            transfer.Inbound.Name = second.Receive.TakeName();
            transfer.Outbound.Name = second.Send.TakeName();
            Assert.Equal(MachMsgReturn.Success, transfer.Send());
        }
        var moved = RunIn(_helper, () =>
        {
            Span<byte> buffer = stackalloc byte[ChannelTransfer.ReceiveBufferSize];
            Assert.Equal(MachMsgReturn.Success, ChannelTransfer.Receive(inbox.Name, buffer, MachMsgOption.RcvTimeout, 5000));
            Assert.Equal(MachValidationError.None, ChannelTransfer.TryRead(buffer, out var received));
            return new MachChannel(ReceiveRight.Adopt(received.Message.Inbound.Name), SendRight.Adopt(received.Message.Outbound.Name));
        });
        Assert.Equal(new[] { 1, 2 }, RunIn(_helper, () => new[] { ReceiveNote(moved), ReceiveNote(moved) }));
        RunIn(_helper, () => { SendNote(moved, 3); return 0; });
        using (_parent.Enter())
        {
            Assert.Equal(3, ReceiveNote(first));
            first.Dispose();
            second.Dispose();
        }
        RunIn(_helper, () => { moved.Dispose(); inbox.Dispose(); return 0; });
        AssertNoLeaks();
    }

    [Fact]
    public void FileDescriptor_TravelsAsAFileport_AndStaysOpenAfterTheOriginalCloses()
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, "hello over a fileport");
        var inbox = RunIn(_helper, () => ReceiveRight.Allocate());
        RunIn(_helper, () =>
        {
            // bootstrap_register copies the send right; the registrant keeps (and releases) its own.
            using var send = inbox.MakeSend();
            BootstrapServer.Register(_prefix + ".files", send);
            return 0;
        });
        using (_parent.Enter())
        {
            using var handle = File.OpenHandle(file);
            var fileport = Fileport.MakePort(handle);
            handle.Dispose();
            File.Delete(file);
            using var toHelper = BootstrapServer.LookUp(_prefix + ".files");
            var message = new FileAttachment();
            message.Prepare(toHelper.Name);
            message.Fileport.Name = fileport.TakeName();
            Assert.Equal(MachMsgReturn.Success, message.Send());
        }
        string text = RunIn(_helper, () =>
        {
            Span<byte> buffer = stackalloc byte[FileAttachment.ReceiveBufferSize];
            Assert.Equal(MachMsgReturn.Success, FileAttachment.Receive(inbox.Name, buffer, MachMsgOption.RcvTimeout, 5000));
            Assert.Equal(MachValidationError.None, FileAttachment.TryRead(buffer, out var received));
            using var port = SendRight.Adopt(received.Message.Fileport.Name);
            int fd1 = Fileport.MakeFd(port);
            int fd2 = Fileport.MakeFd(port);
            Assert.NotEqual(fd1, fd2);
            using (new SafeFileHandle(fd2, ownsHandle: true))
            using (var stream = new FileStream(new SafeFileHandle(fd1, ownsHandle: true), FileAccess.Read))
            using (var reader = new StreamReader(stream))
            {
                return reader.ReadToEnd();
            }
        });
        Assert.Equal("hello over a fileport", text);
        RunIn(_helper, () => { inbox.Dispose(); return 0; });
        AssertNoLeaks();
    }
}
