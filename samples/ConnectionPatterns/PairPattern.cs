using System;
using System.Diagnostics;
using System.Globalization;
using MachIpc.Abi;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Samples.ConnectionPatterns;

/// <summary>One end of a channel, moved to another task: its receive right and a send right to the other end.</summary>
[MachMessage(3200)]
public partial struct ChannelEnd
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor Inbox;  // where the peer's messages arrive
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor ToPeer;
    public int PeerPid;   // who is at the other end: the parent vouches for it
}

/// <summary>
/// Pattern 3: the parent connects two helpers to each other. Each helper checks in with the parent (pattern 1,
/// which authenticates the parent to the helper and the helper to the parent), then the parent creates a channel
/// pair and moves one end to each helper with the other's pid. The helpers then talk directly; the callee answers
/// only the pid its parent named.
/// </summary>
internal static class PairPattern
{
    public const string PeerFlag = "--pair-peer";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static int RunParent()
    {
        using var rendezvous = new HelperRendezvous("org.machipc.samples.pairs");
        using Process caller = Children.Start(PeerFlag, rendezvous.ServiceName, "caller");
        using HelperRegistration callerCheckIn = rendezvous.Expect(caller.Id);
        using Process callee = Children.Start(PeerFlag, rendezvous.ServiceName, "callee");
        using HelperRegistration calleeCheckIn = rendezvous.Expect(callee.Id);
        using HelperConnection? toCaller = callerCheckIn.WaitForConnection(Timeout);
        using HelperConnection? toCallee = calleeCheckIn.WaitForConnection(Timeout);
        if (toCaller is null || toCallee is null)
        {
            Console.Error.WriteLine("pattern 3: a helper never checked in");
            return 1;
        }

        var (first, second) = MachChannel.CreatePair();
        using (first)
        using (second)
        {
            Give(toCaller.Channel, first, callee.Id);
            Give(toCallee.Channel, second, caller.Id);
        }
        bool ok = Children.Succeeded(caller, "pattern 3, pre-created pair: caller")
                & Children.Succeeded(callee, "pattern 3, pre-created pair: callee");
        Console.WriteLine($"pattern 3: helpers {caller.Id} and {callee.Id} exchanged {Children.PingCount} pings without the parent: {(ok ? "ok" : "FAILED")}");
        return ok ? 0 : 1;
    }

    /// <summary>Moves both rights of <paramref name="end"/> to the helper at the other end of <paramref name="over"/>.</summary>
    private static void Give(MachChannel over, MachChannel end, int peerPid)
    {
        var message = new ChannelEnd { PeerPid = peerPid };
        message.Prepare(remotePort: over.Send.Name);
        message.Inbox.Name = end.Receive.Name;
        message.ToPeer.Name = end.Send.Name;
        MachMsgReturn sent = message.Send();
        if (sent == MachMsgReturn.Success || sent.IsPseudoReceived())
        {
            end.Receive.TakeName(); // the kernel moved both rights, or gave them back in the message: not ours to release here
            end.Send.TakeName();
        }
        if (sent != MachMsgReturn.Success)
        {
            if (sent.IsPseudoReceived()) DestroyUnsent(ref message);
            throw new MachException("send the channel end", sent); // other errors left the rights with `end`
        }
    }

    private static unsafe void DestroyUnsent(ref ChannelEnd message)
    {
        fixed (ChannelEnd* m = &message) ReceivedMessage.DestroyUnsent(&m->Header);
    }

    private static unsafe void Destroy(Span<byte> received)
    {
        fixed (byte* m = received) ReceivedMessage.Destroy((MachMsgHeader*)m);
    }

    public static int RunPeer(string service, string role)
    {
        // Pattern 1: only this process's parent can answer the check-in; the channel it sends is from it.
        using MachChannel parent = HelperRendezvous.Connect(service);
        Span<byte> buffer = stackalloc byte[ChannelEnd.ReceiveBufferSize];
        MachMsgReturn got = ChannelEnd.Receive(parent.Receive.Name, buffer, MachMsgOption.RcvTimeout, (uint)Timeout.TotalMilliseconds);
        if (got != MachMsgReturn.Success) throw new MachException("receive the channel end", got);
        MachValidationError invalid = ChannelEnd.TryRead(buffer, out MachReceived<ChannelEnd> received);
        if (invalid != MachValidationError.None)
        {
            Destroy(buffer); // whatever rights it carried
            throw new InvalidOperationException($"not a channel end: {invalid}");
        }
        int peerPid = received.Message.PeerPid;
        using var peer = new MachChannel(received.TakeReceiveRight(in received.Message.Inbox), received.TakeSendRight(in received.Message.ToPeer));
        Console.WriteLine($"{role} (pid {Mach.CurrentPid}): connected to pid {peerPid.ToString(CultureInfo.InvariantCulture)}");

        if (role == "caller")
        {
            return Children.Pings(peer.Send.Copy(), Children.PingCount) ? 0 : 1;
        }
        var pings = new PingServer(peerPid, Children.PingCount);
        using var server = new MachServer(pings, ReceiveRight.Adopt(peer.Receive.TakeName()));
        server.Start();
        return pings.WaitForAll(Timeout) && pings.Refused == 0 ? 0 : 1;
    }
}
