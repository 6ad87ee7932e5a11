using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Connections;

/// <summary>What a <see cref="HelperRendezvous"/> does when a pid it was not told to expect checks in.</summary>
public enum UnexpectedHelperPolicy
{
    /// <summary>Answer with <c>BOOTSTRAP_NOT_PRIVILEGED</c> and release what the helper sent (the default).</summary>
    Refuse = 0,
    /// <summary>Create a channel on demand; collect it with <see cref="HelperRendezvous.AcceptUnexpected"/>.</summary>
    CreateChannel = 1,
}

/// <summary>A helper that checked in: who it is (from the kernel's audit token) and the parent's end of its channel.</summary>
public sealed class HelperConnection : IDisposable
{
    internal HelperConnection(AuditToken auditToken, SendRight taskPort, MachChannel channel)
    {
        AuditToken = auditToken;
        TaskPort = taskPort;
        Channel = channel;
    }

    /// <summary>The helper's pid, from the audit trailer of its check-in (not from anything it claimed).</summary>
    public int Pid => AuditToken.Pid;

    /// <summary>The helper's audit token.</summary>
    public AuditToken AuditToken { get; }

    /// <summary>A send right to the helper's task port.</summary>
    public SendRight TaskPort { get; }

    /// <summary>The parent's end of the channel: receive what the helper sends, send to the helper.</summary>
    public MachChannel Channel { get; }

    /// <summary>Releases the task port and the channel.</summary>
    public void Dispose()
    {
        TaskPort.Dispose();
        Channel.Dispose();
    }
}

/// <summary>
/// The parent's pre-created channel for one expected helper pid. Dispose it if the helper never checks in
/// (for example it died first): the unclaimed rights are released, so nothing is left behind.
/// </summary>
public sealed class HelperRegistration : IDisposable
{
    private readonly HelperRendezvous _owner;
    private readonly ManualResetEventSlim _connected = new();
    private PortPair? _toParent;
    private PortPair? _toHelper;
    private HelperConnection? _connection;

    internal HelperRegistration(HelperRendezvous owner, int pid)
    {
        _owner = owner;
        Pid = pid;
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

    /// <summary>Waits for the helper to check in; returns its connection (owned by the caller), or null on timeout.</summary>
    public HelperConnection? WaitForConnection(TimeSpan timeout)
    {
        _connected.Wait(timeout);
        lock (this)
        {
            var connection = _connection;
            _connection = null;
            return connection;
        }
    }

    // Runs on the server thread: hands the helper its ends, keeps the parent's.
    internal bool TryClaim(out uint helperReceive, out uint sendToParent)
    {
        lock (this)
        {
            if (_toParent is null || _toHelper is null)
            {
                helperReceive = sendToParent = MachPortName.Null;
                return false;
            }
            helperReceive = _toHelper.Receive.TakeName();
            sendToParent = _toParent.Send.TakeName();
            return true;
        }
    }

    internal void Complete(AuditToken token, SendRight taskPort)
    {
        lock (this)
        {
            _connection = new HelperConnection(token, taskPort, new MachChannel(_toParent!.Receive, _toHelper!.Send));
            _toParent = _toHelper = null;
        }
        _connected.Set();
    }

    /// <summary>Forgets the pid and releases the pre-created channel if the helper never claimed it.</summary>
    public void Dispose()
    {
        _owner.Forget(this);
        lock (this)
        {
            _toParent?.Dispose();
            _toHelper?.Dispose();
            _toParent = _toHelper = null;
            _connection?.Dispose();
            _connection = null;
        }
        _connected.Dispose();
    }
}

/// <summary>
/// Pattern 1, spawned helpers (Ladybird's <c>MachPortServer</c>, done safely): the parent checks in
/// <c>&lt;prefix&gt;.helper.&lt;pid&gt;</c> with the bootstrap server; a helper looks it up and sends its task
/// port with a send-once reply port; the parent identifies it by the audit token's pid and answers with the
/// helper's end of a pre-created channel (<c>MOVE_RECEIVE</c> + <c>MOVE_SEND</c>).
/// </summary>
public sealed class HelperRendezvous : IDisposable
{
    private readonly Dictionary<int, HelperRegistration> _expected = new();
    private readonly Queue<HelperConnection> _unexpected = new();
    private readonly SemaphoreSlim _unexpectedCount = new(0);
    private readonly UnexpectedHelperPolicy _policy;
    private readonly MachServer _server;

    /// <summary>Checks in <see cref="ServiceNameFor"/>(<paramref name="prefix"/>, current pid) and starts serving check-ins.</summary>
    public HelperRendezvous(string prefix, UnexpectedHelperPolicy policy = UnexpectedHelperPolicy.Refuse)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _policy = policy;
        ServiceName = ServiceNameFor(prefix, Mach.CurrentPid);
        _server = MachServer.CheckIn(ServiceName, new HelperRendezvousDispatcher(this), new MachServerOptions { Name = ServiceName });
        _server.Start();
    }

    /// <summary>The bootstrap name helpers look up.</summary>
    public string ServiceName { get; }

    /// <summary>The rendezvous server's counters.</summary>
    public MachServerMetrics Metrics => _server.Metrics;

    /// <summary>The service name for a parent: <c>&lt;prefix&gt;.helper.&lt;pid&gt;</c>.</summary>
    public static string ServiceNameFor(string prefix, int parentPid) =>
        prefix + ".helper." + parentPid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Pre-creates a channel for the helper with <paramref name="pid"/>.</summary>
    public HelperRegistration Expect(int pid)
    {
        var registration = new HelperRegistration(this, pid);
        lock (_expected)
        {
            if (!_expected.TryAdd(pid, registration))
            {
                registration.Dispose();
                throw new InvalidOperationException($"pid {pid} is already expected");
            }
        }
        return registration;
    }

    /// <summary>With <see cref="UnexpectedHelperPolicy.CreateChannel"/>: the next helper that checked in unexpected, or null on timeout.</summary>
    public HelperConnection? AcceptUnexpected(TimeSpan timeout)
    {
        if (!_unexpectedCount.Wait(timeout))
        {
            return null;
        }
        lock (_unexpected)
        {
            return _unexpected.Dequeue();
        }
    }

    /// <summary>
    /// The helper side: looks up <paramref name="serviceName"/>, sends this task's task port with a send-once
    /// reply port and returns the channel the parent answers with.
    /// </summary>
    /// <exception cref="MachException">The parent refused the pid, is gone, or did not answer in time.</exception>
    public static MachChannel Connect(string serviceName, uint timeoutMs = 5000)
    {
        using var client = new MachRpcClient(BootstrapServer.LookUp(serviceName));
        var request = new HelperCheckInRequest();
        request.Prepare(MachPortName.Null, MachPortName.Null);
        request.TaskPort.Name = Mach.TaskSelf;
        var result = client.Call<HelperCheckInRequest, HelperCheckInReply>(request, out var reply, out _, timeoutMs);
        if (!result.IsSuccess)
        {
            throw new MachException($"helper check-in with \"{serviceName}\" failed: {result}");
        }
        return new MachChannel(ReceiveRight.Adopt(reply.ChannelReceive.Name), SendRight.Adopt(reply.ChannelSend.Name));
    }

    internal void Forget(HelperRegistration registration)
    {
        lock (_expected)
        {
            if (_expected.TryGetValue(registration.Pid, out var current) && current == registration)
            {
                _expected.Remove(registration.Pid);
            }
        }
    }

    /// <summary>Stops serving check-ins and releases unclaimed unexpected connections.</summary>
    public void Dispose()
    {
        _server.Dispose();
        lock (_unexpected)
        {
            while (_unexpected.Count > 0)
            {
                _unexpected.Dequeue().Dispose();
            }
        }
        _unexpectedCount.Dispose();
    }

    internal unsafe void OnCheckIn(MachReceived<HelperCheckInRequest> request)
    {
        // The handler takes the task port; the server destroys whatever else is left when it returns.
        int pid = request.SenderPid ?? -1;
        var token = request.AuditToken ?? default;
        var taskPort = request.TakeSendRight(in request.Message.TaskPort);
        HelperRegistration? registration;
        lock (_expected)
        {
            _expected.Remove(pid, out registration);
        }

        if (registration is not null && registration.TryClaim(out uint helperReceive, out uint sendToParent))
        {
            if (Reply(request, helperReceive, sendToParent))
            {
                registration.Complete(token, taskPort);
                return;
            }
            taskPort.Dispose();
            return;
        }
        if (registration is null && _policy == UnexpectedHelperPolicy.CreateChannel)
        {
            var (parentEnd, helperEnd) = MachChannel.CreatePair();
            if (Reply(request, helperEnd.Receive.TakeName(), helperEnd.Send.TakeName()))
            {
                lock (_unexpected)
                {
                    _unexpected.Enqueue(new HelperConnection(token, taskPort, parentEnd));
                }
                _unexpectedCount.Release();
                return;
            }
            parentEnd.Dispose();
            taskPort.Dispose();
            return;
        }
        // Refused: an unexpected pid, or one whose channel was already claimed.
        taskPort.Dispose();
        request.ReplyError((int)BootstrapReturn.NotPrivileged);
    }

    private static bool Reply(MachReceived<HelperCheckInRequest> request, uint helperReceive, uint sendToParent)
    {
        var reply = new HelperCheckInReply();
        reply.Prepare(MachPortName.Null);
        reply.ChannelReceive.Name = helperReceive;
        reply.ChannelSend.Name = sendToParent;
        var mr = request.Reply(ref reply); // consumes the reply right whatever happens
        if (mr == MachMsgReturn.Success)
        {
            return true;
        }
        // Not delivered. A send-once destination never blocks on a queue limit (A34); after a header error nothing
        // was copied in and the channel's rights are still ours under the same names (A18): release them. (A
        // pseudo-received reply was destroyed whole by Reply.)
        if (mr.WithoutResourceBits() is MachMsgReturn.SendInvalidData or MachMsgReturn.SendInvalidDest or MachMsgReturn.SendInvalidHeader)
        {
            ReceiveRight.Adopt(helperReceive).Dispose();
            SendRight.Adopt(sendToParent).Dispose();
        }
        return false;
    }
}
