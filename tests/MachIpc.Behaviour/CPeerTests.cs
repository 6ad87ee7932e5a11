using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Xunit;

namespace MachIpc.Behaviour;

/// <summary>
/// C and C# peers complete the seed's check-in both ways and then exchange port rights and out-of-line memory.
/// The C peer (CPeer/helper_peer.c) is compiled with <c>cc</c> during the run: against the SDK's headers and
/// libSystem on macOS, against src/native's headers and libmachipc_system.so elsewhere, where it joins this
/// process's kernel host through the environment <see cref="Mach.ConfigureChild"/> sets up.
/// </summary>
public sealed unsafe class CPeerTests : BehaviourTest
{
    private Process StartC(string mode, string service, int peerPid) =>
        StartC("helper_peer.c", mode, service, peerPid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static byte[] Pattern()
    {
        var data = new byte[100_000];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 7 + 3);
        }
        return data;
    }

    private static MachMsgReturn SendParcel(uint to, uint replyTo, byte[] data)
    {
        fixed (byte* p = data)
        {
            var parcel = new Parcel { Checksum = Checksums.Of(data) };
            parcel.Prepare(to);
            parcel.ReplyTo.Name = replyTo;
            parcel.Data.Address = (ulong)p;
            parcel.Data.Size = (uint)data.Length;
            return parcel.Send(MachMsgOption.SendTimeout, 30_000);
        }
    }

    private static void Destroy(byte[] buffer)
    {
        fixed (byte* b = buffer)
        {
            Mach.MsgDestroy((MachMsgHeader*)b);
        }
    }

    [Fact]
    public void CHelper_ChecksInWithCSharpHelperRendezvous_ThenExchangesRightsAndOutOfLineMemory()
    {
        using var rendezvous = new HelperRendezvous("org.machipc.behaviour.c." + Guid.NewGuid().ToString("N")[..12]);
        Process child = StartC("helper", rendezvous.ServiceName, Environment.ProcessId);
        using HelperRegistration registration = rendezvous.Expect(child.Id);
        child.StandardInput.WriteLine("go");
        child.StandardInput.Flush();
        using HelperConnection? connection = registration.WaitForConnection(TimeSpan.FromSeconds(30));
        Assert.True(connection is not null, "the C helper never checked in: " + (child.HasExited ? ReadLine(child) : "still running"));
        Assert.Equal(child.Id, connection.Pid);
        Assert.NotNull(connection.TaskPort); // the C helper opts in to sending it
        int taskPid;
        Assert.Equal(KernReturn.Success, Mach.PidForTask(connection.TaskPort.Name, &taskPid));
        Assert.Equal(child.Id, taskPid);

        // The helper's parcel; its send right (to the helper's inbox) merged into our channel's send name.
        byte[] buffer = new byte[Parcel.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Parcel.Receive(connection.Channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 30_000));
        Assert.Equal(MachValidationError.None, Parcel.TryRead(buffer, out var received));
        Assert.Equal(child.Id, received.SenderPid);
        Parcel parcel = received.Message;
        Assert.Equal(connection.Channel.Send.Name, parcel.ReplyTo.Name);
        byte[] data = new ReadOnlySpan<byte>((void*)parcel.Data.Address, (int)parcel.Data.Size).ToArray();
        Assert.Equal(Pattern(), data);
        Assert.Equal(Checksums.Of(data), parcel.Checksum);
        Array.Reverse(data);
        Assert.Equal(MachMsgReturn.Success, SendParcel(parcel.ReplyTo.Name, connection.Channel.Receive.Name, data));
        Destroy(buffer);

        Span<byte> note = stackalloc byte[Note.ReceiveBufferSize];
        Assert.Equal(MachMsgReturn.Success, Note.Receive(connection.Channel.Receive.Name, note, MachMsgOption.RcvTimeout, 30_000));
        Assert.Equal(MachValidationError.None, Note.TryRead(note, out var done));
        Assert.Equal(99, done.Message.Value);
        Assert.Equal("ok", Finish(child));
    }

    [Fact]
    public void CSharpHelper_ChecksInWithACServer_ThenExchangesRightsAndOutOfLineMemory()
    {
        string service = UniqueName("cserver");
        Process child = StartC("server", service, Environment.ProcessId);
        Assert.Equal("ready", ReadLine(child));
        using (MachChannel channel = HelperRendezvous.Connect(service, new HelperConnectOptions { ParentPid = child.Id, SendTaskPort = true, Timeout = TimeSpan.FromSeconds(30) }))
        {
            byte[] data = Pattern();
            Assert.Equal(MachMsgReturn.Success, SendParcel(channel.Send.Name, channel.Receive.Name, data));
            byte[] buffer = new byte[Parcel.ReceiveBufferSize];
            Assert.Equal(MachMsgReturn.Success, Parcel.Receive(channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 30_000));
            Assert.Equal(MachValidationError.None, Parcel.TryRead(buffer, out var received));
            Assert.Equal(child.Id, received.SenderPid);
            Parcel answer = received.Message;
            Assert.Equal(channel.Send.Name, answer.ReplyTo.Name);
            Array.Reverse(data);
            Assert.Equal(data, new ReadOnlySpan<byte>((void*)answer.Data.Address, (int)answer.Data.Size).ToArray());
            Destroy(buffer);

            var note = new Note { Value = 99 };
            note.Prepare(channel.Send.Name);
            Assert.Equal(MachMsgReturn.Success, note.Send());
        }
        Assert.Equal("ok", Finish(child));
    }
}
