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

[MachMessage(5200)]
public partial struct Note
{
    public MachMsgHeader Header;
    public int Value;
}

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

public sealed class ConnectionPatternTests : IDisposable
{
    private readonly SimulatedTask _parent = SimulatedMach.CreateTask("parent");
    private readonly SimulatedTask _helper = SimulatedMach.CreateTask("helper");
    private readonly IReadOnlyList<PortRightInfo> _parentBaseline;
    private readonly IReadOnlyList<PortRightInfo> _helperBaseline;
    private readonly string _prefix = "org.machipc.tests." + Guid.NewGuid().ToString("N")[..12];

    public ConnectionPatternTests()
    {
        _parentBaseline = _parent.Rights();
        _helperBaseline = _helper.Rights();
    }

    public void Dispose()
    {
        _parent.Dispose();
        _helper.Dispose();
    }

    private void AssertNoLeaks()
    {
        Assert.Equal(_parentBaseline, _parent.Rights());
        Assert.Equal(_helperBaseline, _helper.Rights());
        Assert.Equal(0, _parent.OutstandingVmRegions);
        Assert.Equal(0, _helper.OutstandingVmRegions);
    }

    private static void SendNote(MachChannel channel, int value)
    {
        var note = new Note { Value = value };
        note.Prepare(channel.Send.Name);
        Assert.Equal(MachMsgReturn.Success, note.Send());
    }

    private static int ReceiveNote(MachChannel channel)
    {
        Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 5000));
        Assert.Equal(MachValidationError.None, Note.TryRead(buffer, out var note));
        return note.Message.Value;
    }

    private static T RunIn<T>(SimulatedTask task, Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            using (task.Enter())
            {
                try
                {
                    result = body();
                }
                catch (Exception ex)
                {
                    failure = ex;
                }
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new AggregateException(failure);
        }
        return result;
    }

    [Fact]
    public void Pattern1_ExpectedHelper_GetsItsPreCreatedChannel_AndIsIdentifiedByAuditToken()
    {
        HelperRendezvous rendezvous;
        HelperRegistration registration;
        using (_parent.Enter())
        {
            rendezvous = new HelperRendezvous(_prefix);
            registration = rendezvous.Expect(_helper.Pid);
        }
        Assert.Equal(HelperRendezvous.ServiceNameFor(_prefix, _parent.Pid), rendezvous.ServiceName);

        var helperChannel = RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName));
        var connection = registration.WaitForConnection(TimeSpan.FromSeconds(5));
        Assert.NotNull(connection);
        Assert.Equal(_helper.Pid, connection.Pid);
        Assert.Equal(_helper.AuditToken, connection.AuditToken);

        RunIn(_helper, () => { SendNote(helperChannel, 11); return 0; });
        using (_parent.Enter())
        {
            Assert.Equal(11, ReceiveNote(connection.Channel));
            SendNote(connection.Channel, 12);
        }
        Assert.Equal(12, RunIn(_helper, () => ReceiveNote(helperChannel)));

        RunIn(_helper, () => { helperChannel.Dispose(); return 0; });
        using (_parent.Enter())
        {
            connection.Dispose();
            registration.Dispose();
            rendezvous.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern1_UnexpectedPid_IsRefused_AndLeavesNothingBehind()
    {
        HelperRendezvous rendezvous;
        using (_parent.Enter())
        {
            rendezvous = new HelperRendezvous(_prefix);
        }
        var error = Assert.Throws<AggregateException>(() => RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName)));
        var mach = Assert.IsType<MachException>(error.InnerException);
        Assert.Contains("BOOTSTRAP_NOT_PRIVILEGED", mach.Message);
        using (_parent.Enter())
        {
            rendezvous.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern1_UnexpectedPid_GetsAnOnDemandChannel_WhenConfigured()
    {
        HelperRendezvous rendezvous;
        using (_parent.Enter())
        {
            rendezvous = new HelperRendezvous(_prefix, UnexpectedHelperPolicy.CreateChannel);
        }
        var helperChannel = RunIn(_helper, () => HelperRendezvous.Connect(rendezvous.ServiceName));
        var connection = rendezvous.AcceptUnexpected(TimeSpan.FromSeconds(5));
        Assert.NotNull(connection);
        Assert.Equal(_helper.Pid, connection.Pid);
        RunIn(_helper, () => { SendNote(helperChannel, 5); helperChannel.Dispose(); return 0; });
        using (_parent.Enter())
        {
            Assert.Equal(5, ReceiveNote(connection.Channel));
            connection.Dispose();
            rendezvous.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern1_HelperThatDiesBeforeAsking_LeavesNothingBehind()
    {
        var doomed = SimulatedMach.CreateTask("doomed helper");
        using (_parent.Enter())
        {
            using var rendezvous = new HelperRendezvous(_prefix);
            var registration = rendezvous.Expect(doomed.Pid);
            doomed.Terminate();
            Assert.Null(registration.WaitForConnection(TimeSpan.FromMilliseconds(20)));
            registration.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Pattern2_SocketBootstrappedPeers_SwitchToMachPorts()
    {
        string path = Path.Combine(Path.GetTempPath(), "machipc-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        MachChannel? parentChannel = null;
        var accept = new Thread(() =>
        {
            using var accepted = listener.Accept();
            using (_parent.Enter())
            {
                parentChannel = SocketRendezvous.Exchange(accepted, _prefix + ".parent", TimeSpan.FromSeconds(5));
            }
        });
        accept.Start();
        var helperChannel = RunIn(_helper, () =>
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return SocketRendezvous.Exchange(socket, _prefix + ".helper", TimeSpan.FromSeconds(5));
        });
        accept.Join();
        File.Delete(path);
        Assert.NotNull(parentChannel);

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
    }

    public static TheoryData<byte[], string> MalformedPeers => new()
    {
        { new byte[] { 9, 3, (byte)'a', (byte)'b', (byte)'c' }, "version" },
        { new byte[] { 1, 0 }, "length 0" },
        { new byte[] { 1, 200 }, "length 200" },
        { new byte[] { 1, 5, (byte)'a' }, "closed the socket" },
        { new byte[] { 1 }, "closed the socket" },
        { new byte[] { 1, 2, 0xff, 0xfe }, "UTF-8" },
        { new byte[] { 1, 2, (byte)'a', 0 }, "NUL" },
        { new byte[] { 1, 7, (byte)'n', (byte)'o', (byte)'-', (byte)'s', (byte)'u', (byte)'c', (byte)'h' }, "BOOTSTRAP_UNKNOWN_SERVICE" },
    };

    [Theory]
    [MemberData(nameof(MalformedPeers))]
    public void Pattern2_MalformedOrShortSocketInput_IsAClearError_AndLeaksNothing(byte[] peerBytes, string expected)
    {
        string path = Path.Combine(Path.GetTempPath(), "machipc-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
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
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            try
            {
                return SocketRendezvous.Exchange(socket, _prefix + ".victim", TimeSpan.FromSeconds(5));
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
