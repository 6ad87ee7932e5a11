using System;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.Connections;

/// <summary>A helper that checked in: who it is (from the kernel's audit token) and the parent's end of its channel.</summary>
public sealed class HelperConnection : IDisposable
{
    internal HelperConnection(AuditToken auditToken, SendRight? taskPort, MachChannel channel)
    {
        AuditToken = auditToken;
        TaskPort = taskPort;
        Channel = channel;
    }

    /// <summary>The helper's pid, from the audit trailer of its check-in (not from anything it claimed).</summary>
    public int Pid => AuditToken.Pid;

    /// <summary>
    /// The helper's audit token, pid version (<c>val[7]</c>) included: a later process that reuses the pid has
    /// another version, so compare whole tokens (or pid and version) to recognise this helper's messages.
    /// </summary>
    public AuditToken AuditToken { get; }

    /// <summary>
    /// A send right to the helper's task port, verified with <c>pid_for_task</c>, when the helper chose to send
    /// it (<see cref="HelperConnectOptions.SendTaskPort"/>); null otherwise.
    /// </summary>
    public SendRight? TaskPort { get; }

    /// <summary>The parent's end of the channel: receive what the helper sends, send to the helper.</summary>
    public MachChannel Channel { get; }

    /// <summary>Releases the task port and the channel.</summary>
    public void Dispose()
    {
        TaskPort?.Dispose();
        Channel.Dispose();
    }
}

/// <summary>
/// The parent's pre-created channel for one expected helper pid. It ends in one of three ways: the helper checks in
/// (<see cref="WaitForConnection"/> returns its connection), the process exits first (<see cref="HasExited"/>; the
/// channel is released then), or it is disposed. Dispose it in every case: unclaimed rights are released, so
/// nothing is left behind.
/// </summary>
public sealed class HelperRegistration : IDisposable
{
    private readonly HelperRendezvous _owner;
    private readonly ManualResetEventSlim _settled = new();
    private PortPair? _toParent; // the parent's receive right, and the send right the helper gets
    private PortPair? _toHelper; // the receive right the helper gets, and the parent's send right
    private HelperConnection? _connection;
    private volatile bool _hasExited;

    // Runs in the rendezvous's task (its caller entered it): the pairs' names live there.
    internal HelperRegistration(HelperRendezvous owner, int pid, bool unexpected)
    {
        _owner = owner;
        Pid = pid;
        IsUnexpected = unexpected;
        _toParent = PortPair.Create();
        try
        {
            _toHelper = PortPair.Create();
        }
        catch
        {
            _toParent.Dispose();
            throw;
        }
    }

    /// <summary>The pid expected to check in.</summary>
    public int Pid { get; }

    /// <summary>Whether the process exited before it finished checking in (its channel has been released).</summary>
    public bool HasExited => _hasExited;

    internal bool IsUnexpected { get; }

    // The fields below are guarded by the rendezvous's lock.

    /// <summary>The exit watch on this pid's process, or null.</summary>
    internal ProcessExitWatch.Watch? Watch;

    /// <summary>Set when the helper has its ends and the parent waits for its task port: who checked in.</summary>
    internal AuditToken? AwaitingTaskPortFrom;

    /// <summary>Whether the helper's ends are still here to hand over.</summary>
    internal bool IsOpen => _toHelper?.Receive.IsValid == true;

    /// <summary>
    /// Waits until the helper has checked in, the process has exited or the registration was disposed; returns the
    /// connection (owned by the caller) in the first case, null otherwise and on timeout.
    /// </summary>
    public HelperConnection? WaitForConnection(TimeSpan timeout)
    {
        _settled.Wait(timeout);
        lock (_owner.Gate)
        {
            var connection = _connection;
            _connection = null;
            return connection;
        }
    }

    /// <summary>
    /// Answers the check-in whose send-once reply right is <paramref name="replyPort"/> with the helper's ends of the
    /// channel (<c>MOVE_RECEIVE</c>, <c>MOVE_SEND</c>). On success they are the helper's; on failure (the reply right
    /// is dead: the helper gave up or died) nothing was copied in and they are still here, under the same names (A18).
    /// Either way the reply right is consumed.
    /// </summary>
    internal bool SendHelperEnds(uint replyPort)
    {
        var reply = new HelperCheckInReply();
        reply.Prepare(replyPort);
        reply.ChannelReceive.Name = _toHelper!.Receive.Name;
        reply.ChannelSend.Name = _toParent!.Send.Name;
        // A send-once destination never waits on a queue limit (A34): timeout 0 cannot fail for a full queue.
        if (reply.Send(MachMsgOption.SendTimeout, 0) != MachMsgReturn.Success)
        {
            Mach.PortDeallocate(Mach.TaskSelf, replyPort);
            return false;
        }
        _toHelper.Receive.TakeName();
        _toParent.Send.TakeName();
        return true;
    }

    /// <summary>The parent's ends become the connection; an expected registration keeps it for <see cref="WaitForConnection"/>.</summary>
    internal HelperConnection Connect(AuditToken token, SendRight? taskPort)
    {
        var connection = new HelperConnection(token, taskPort, new MachChannel(_toParent!.Receive, _toHelper!.Send));
        _toParent = _toHelper = null;
        AwaitingTaskPortFrom = null;
        if (!IsUnexpected)
        {
            _connection = connection;
            _settled.Set();
        }
        return connection;
    }

    /// <summary>Ends the registration without a connection: releases what is left and wakes waiters.</summary>
    internal void Close(bool exited)
    {
        _toParent?.Dispose();
        _toHelper?.Dispose();
        _toParent = _toHelper = null;
        AwaitingTaskPortFrom = null;
        _hasExited |= exited;
        _settled.Set();
    }

    /// <summary>Forgets the pid and releases the channel if the helper never claimed it (and a connection nobody took).</summary>
    public void Dispose()
    {
        _owner.Forget(this);
        lock (_owner.Gate)
        {
            Close(exited: false);
            _connection?.Dispose();
            _connection = null;
        }
    }
}
