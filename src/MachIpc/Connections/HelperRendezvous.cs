using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Connections;

/// <summary>
/// Pattern 1, spawned helpers (Ladybird's <c>MachPortServer</c>, done safely). The parent checks in
/// <c>&lt;prefix&gt;.helper.&lt;pid&gt;</c> with the bootstrap server and fails loudly if someone holds that name
/// already. A helper looks it up and checks in with a send-once reply port and nothing else; the parent identifies it
/// by the audit token (pid and pid version) and answers with the helper's end of a pre-created channel
/// (<c>MOVE_RECEIVE</c> + <c>MOVE_SEND</c>). The helper trusts that answer only when its audit token names its
/// parent; only then, and only if asked to, it sends its task port, which the parent keeps only after
/// <c>pid_for_task</c> confirms it is the task port of the process that checked in.
/// </summary>
/// <remarks>
/// A helper may check in before the parent calls <see cref="Expect"/> (spawn returns the pid only afterwards):
/// such a check-in is held until <see cref="Expect"/> or <see cref="HelperRendezvousOptions.EarlyCheckInHold"/>.
/// Expected and held pids are watched (<see cref="HelperRendezvousOptions.WatchProcessExit"/>): when the process
/// exits, what belongs to it is dropped, so a process that later gets the same pid cannot claim it. A newer pid
/// version from the same pid supersedes an older one (the older process is gone).
/// </remarks>
public sealed class HelperRendezvous : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<int, HelperRegistration> _registrations = new(); // waiting, or awaiting the task port
    private readonly Dictionary<int, HeldCheckIn> _held = new();
    private readonly Queue<HelperConnection> _unexpected = new();
    private readonly SemaphoreSlim _unexpectedCount = new(0);
    private readonly HelperRendezvousOptions _options;
    private readonly CurrentTaskContext _owner;
    private readonly ProcessExitWatch? _exits;
    private readonly MachServer _server;
    private bool _disposed;

    /// <summary>A check-in that arrived before <see cref="Expect"/>: who sent it and the reply right to answer on.</summary>
    private sealed class HeldCheckIn(AuditToken token, uint replyPort, uint options)
    {
        public readonly AuditToken Token = token;
        public readonly uint ReplyPort = replyPort;
        public readonly uint Options = options;
        public ProcessExitWatch.Watch? Watch;
        public Timer? Expiry;
    }

    /// <summary>
    /// Checks in <see cref="ServiceNameFor"/>(<paramref name="prefix"/>, current pid) and starts serving check-ins.
    /// </summary>
    /// <exception cref="MachRendezvousException">The name is already checked in by another task: do not start helpers.</exception>
    public HelperRendezvous(string prefix, HelperRendezvousOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _options = options ?? new HelperRendezvousOptions();
        _owner = CurrentTaskContext.Capture();
        ServiceName = ServiceNameFor(prefix, Mach.CurrentPid);
        BootstrapServer.TryCheckIn(ServiceName, out ReceiveRight? service, out BootstrapReturn kr);
        if (kr is BootstrapReturn.NotPrivileged or BootstrapReturn.ServiceActive)
        {
            // Someone checked our name in first: helpers looking it up would talk to them. Never serve around it.
            throw new MachRendezvousException(
                $"bootstrap_check_in(\"{ServiceName}\"): {new MachError((int)kr)}. The name is already held by another task, which would " +
                "receive this process's helpers' check-ins; refusing to serve it. Do not start helpers that look it up.");
        }
        if (kr != BootstrapReturn.Success)
        {
            throw new MachException($"bootstrap_check_in(\"{ServiceName}\")", kr);
        }
        try
        {
            _server = new MachServer(new HelperRendezvousDispatcher(this), service!, new MachServerOptions { Name = ServiceName });
        }
        catch
        {
            service!.Dispose();
            throw;
        }
        if (_options.WatchProcessExit)
        {
            _exits = new ProcessExitWatch(OnProcessExit);
        }
        _server.Start();
    }

    /// <summary>The bootstrap name helpers look up.</summary>
    public string ServiceName { get; }

    /// <summary>The rendezvous server's counters.</summary>
    public MachServerMetrics Metrics => _server.Metrics;

    /// <summary>Guards the registrations, the held check-ins and each registration's state.</summary>
    internal object Gate => _gate;

    /// <summary>How many early check-ins are waiting for <see cref="Expect"/> (for tests and diagnostics).</summary>
    internal int HeldCheckIns
    {
        get
        {
            lock (Gate)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>The service name for a parent: <c>&lt;prefix&gt;.helper.&lt;pid&gt;</c>.</summary>
    public static string ServiceNameFor(string prefix, int parentPid) =>
        prefix + ".helper." + parentPid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Pre-creates a channel for the helper with <paramref name="pid"/> (call it right after spawning). A check-in
    /// from that pid already held is answered at once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The pid is already expected.</exception>
    public HelperRegistration Expect(int pid)
    {
        using var _ = _owner.Enter(); // the channel's names live in the rendezvous's task
        var registration = new HelperRegistration(this, pid, unexpected: false);
        lock (Gate)
        {
            if (_disposed || _registrations.ContainsKey(pid))
            {
                registration.Close(exited: false);
                ObjectDisposedException.ThrowIf(_disposed, this);
                throw new InvalidOperationException($"pid {pid} is already expected");
            }
            if (_held.Remove(pid, out HeldCheckIn? held))
            {
                held.Expiry?.Dispose();
                registration.Watch = held.Watch; // the same process
                _registrations.Add(pid, registration);
                Claim(registration, held.Token, held.ReplyPort, held.Options);
                return registration;
            }
            _registrations.Add(pid, registration);
            if (!TryWatch(pid, out registration.Watch))
            {
                Drop(registration, exited: true); // gone before we could watch it: nothing can check in for it now
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
    /// The helper side: looks up <paramref name="serviceName"/>, checks in, and returns the channel the parent answers
    /// with, once the answer's audit token shows it came from the parent (<see cref="HelperConnectOptions.ParentPid"/>,
    /// by default this process's parent). With <see cref="HelperConnectOptions.SendTaskPort"/> it then gives the
    /// verified parent this task's task port.
    /// </summary>
    /// <exception cref="MachException">The parent refused, is gone, or did not answer in time.</exception>
    /// <exception cref="MachRendezvousException">Someone other than the parent answered; nothing was sent to it.</exception>
    public static MachChannel Connect(string serviceName, HelperConnectOptions? options = null)
    {
        options ??= new HelperConnectOptions();
        int parentPid = options.ParentPid ?? Posix.ParentPid;
        TimeSpan timeout = options.Timeout;
        using var client = new MachRpcClient(BootstrapServer.LookUp(serviceName));
        var request = new HelperCheckInRequest { Options = options.SendTaskPort ? HelperCheckInRequest.TaskPortFollows : 0 };
        request.Prepare(MachPortName.Null, MachPortName.Null);
        if (!client.TryCall(request, out HelperCheckInReply reply, out AuditToken parent, out MachRpcResult result, timeout, timeout))
        {
            throw new MachException($"helper check-in with \"{serviceName}\" ({result.Status})", result.Error);
        }
        // From here the reply's rights are ours. Either end may arrive as no right at all: MACH_PORT_DEAD when its port
        // died in transit, as it will when whoever answered destroyed it after sending (osfmk/ipc/ipc_kmsg.c
        // ipc_kmsg_copyout_port: KERN_INVALID_CAPABILITY -> MACH_PORT_DEAD), or MACH_PORT_NULL if that is what was
        // sent. Such names are not rights to adopt; whatever did arrive is released before refusing.
        uint receive = reply.ChannelReceive.Name, send = reply.ChannelSend.Name;
        string? refusal = parent.Pid != parentPid
            ? $"\"{serviceName}\" was answered by pid {parent.Pid}, not by the parent (pid {parentPid}): another process holds the name. " +
              "Nothing was sent to it; its answer was released."
            : !MachPortName.IsValid(receive) || !MachPortName.IsValid(send)
                ? $"the parent's answer on \"{serviceName}\" carried no live channel"
                : null;
        if (refusal is not null)
        {
            if (MachPortName.IsValid(receive))
            {
                Mach.PortModRefs(Mach.TaskSelf, receive, MachPortRight.Receive, -1);
            }
            ReleaseSend(send);
            throw new MachRendezvousException(refusal);
        }
        var channel = new MachChannel(ReceiveRight.Adopt(receive), SendRight.Adopt(send));
        try
        {
            if (options.SendTaskPort)
            {
                SendTaskPort(client, parent, timeout);
            }
            return channel;
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    private static void SendTaskPort(MachRpcClient client, AuditToken parent, TimeSpan timeout)
    {
        // The same service port the verified parent answered from: its receive right is the parent's.
        var request = new HelperTaskPortRequest();
        request.Prepare(MachPortName.Null, MachPortName.Null);
        request.TaskPort.Name = Mach.TaskSelf;
        if (!client.TryCall(request, out HelperTaskPortReply _, out AuditToken replier, out MachRpcResult result, timeout, timeout))
        {
            throw new MachException($"the parent's acceptance of this task's task port ({result.Status})", result.Error);
        }
        if (!replier.Equals(parent))
        {
            throw new MachRendezvousException($"the task port was acknowledged by pid {replier.Pid}, not by the parent (pid {parent.Pid})");
        }
    }

    /// <summary>Stops serving check-ins, refuses held ones, ends unfinished registrations and releases unclaimed unexpected connections.</summary>
    public void Dispose()
    {
        _server.Dispose(); // joins the server thread: no handler runs after this
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            using var _ = _owner.Enter();
            foreach (HeldCheckIn held in _held.Values)
            {
                Release(held);
            }
            _held.Clear();
            foreach (HelperRegistration registration in _registrations.Values)
            {
                registration.Close(exited: false);
            }
            _registrations.Clear();
        }
        _exits?.Dispose(); // outside the lock: a running exit callback takes it
        lock (_unexpected)
        {
            while (_unexpected.Count > 0)
            {
                _unexpected.Dequeue().Dispose();
            }
        }
        _unexpectedCount.Dispose();
    }

    internal void Forget(HelperRegistration registration)
    {
        lock (Gate)
        {
            if (_registrations.TryGetValue(registration.Pid, out var current) && current == registration)
            {
                _registrations.Remove(registration.Pid);
            }
            _exits?.Cancel(registration.Watch);
            registration.Watch = null;
        }
    }

    // ---- Server thread: the two requests. The handlers own the reply right and any right the message carried
    // ---- (MIG's rule); each path below moves or releases every one of them exactly once.

    internal void OnCheckIn(AuditToken token, uint replyPort, uint options)
    {
        int pid = token.Pid;
        lock (Gate)
        {
            if (_registrations.TryGetValue(pid, out HelperRegistration? registration))
            {
                if (registration.IsOpen && (options & ~HelperCheckInRequest.TaskPortFollows) == 0)
                {
                    Claim(registration, token, replyPort, options);
                }
                else
                {
                    Refuse(replyPort, HelperCheckInRequest.MsgId); // already claimed, or options we do not know
                }
                return;
            }
            if ((options & ~HelperCheckInRequest.TaskPortFollows) != 0 || _disposed)
            {
                Refuse(replyPort, HelperCheckInRequest.MsgId);
                return;
            }
            if (_options.UnexpectedHelpers == UnexpectedHelperPolicy.CreateChannel)
            {
                AcceptUnexpectedCheckIn(token, replyPort, options);
                return;
            }
            Hold(token, replyPort, options);
        }
    }

    internal void OnTaskPort(AuditToken token, uint replyPort, uint taskPort)
    {
        int pid = token.Pid;
        lock (Gate)
        {
            if (!_registrations.TryGetValue(pid, out HelperRegistration? registration) || registration.AwaitingTaskPortFrom is not { } announcedBy
                || !announcedBy.Equals(token))
            {
                // Only the very process that checked in (same pid and pid version) and announced it may send this.
                ReleaseSend(taskPort);
                Refuse(replyPort, HelperTaskPortRequest.MsgId);
                return;
            }
            if (!IsTaskPortOf(taskPort, pid))
            {
                // A right that is not that process's task port: the helper lied. Nothing it set up is kept.
                ReleaseSend(taskPort);
                Refuse(replyPort, HelperTaskPortRequest.MsgId);
                Drop(registration, exited: false);
                return;
            }
            var ack = new HelperTaskPortReply();
            ack.Prepare(replyPort);
            if (ack.Send(MachMsgOption.SendTimeout, 0) != MachMsgReturn.Success)
            {
                // The helper is no longer waiting (gone, or gave up): it will not use its end. Fail the registration.
                Mach.PortDeallocate(Mach.TaskSelf, replyPort);
                ReleaseSend(taskPort);
                Drop(registration, exited: false);
                return;
            }
            Complete(registration, token, SendRight.Adopt(taskPort));
        }
    }

    /// <summary><c>pid_for_task</c>: whether <paramref name="taskPort"/> is a send right to the task port of <paramref name="pid"/>.</summary>
    private static unsafe bool IsTaskPortOf(uint taskPort, int pid)
    {
        if (!MachPortName.IsValid(taskPort))
        {
            return false;
        }
        int actual;
        return Mach.PidForTask(taskPort, &actual) == KernReturn.Success && actual == pid;
    }

    // ---- Under the lock, acting in the rendezvous's task.

    private void Claim(HelperRegistration registration, AuditToken token, uint replyPort, uint options)
    {
        if (!registration.SendHelperEnds(replyPort))
        {
            // The helper stopped waiting before we answered; the channel stays here for a retry.
            return;
        }
        if ((options & HelperCheckInRequest.TaskPortFollows) != 0)
        {
            registration.AwaitingTaskPortFrom = token; // still watched: dropped if the process exits first
            return;
        }
        Complete(registration, token, taskPort: null);
    }

    private void Complete(HelperRegistration registration, AuditToken token, SendRight? taskPort)
    {
        _registrations.Remove(registration.Pid);
        _exits?.Cancel(registration.Watch);
        registration.Watch = null;
        HelperConnection connection = registration.Connect(token, taskPort);
        if (registration.IsUnexpected)
        {
            lock (_unexpected)
            {
                _unexpected.Enqueue(connection);
            }
            _unexpectedCount.Release();
        }
    }

    private void Drop(HelperRegistration registration, bool exited)
    {
        if (_registrations.TryGetValue(registration.Pid, out var current) && current == registration)
        {
            _registrations.Remove(registration.Pid);
        }
        _exits?.Cancel(registration.Watch);
        registration.Watch = null;
        registration.Close(exited);
    }

    private void AcceptUnexpectedCheckIn(AuditToken token, uint replyPort, uint options)
    {
        HelperRegistration registration;
        try
        {
            registration = new HelperRegistration(this, token.Pid, unexpected: true);
        }
        catch (MachException)
        {
            Refuse(replyPort, HelperCheckInRequest.MsgId); // out of ports: refuse rather than throw with the reply right taken
            return;
        }
        if (!TryWatch(token.Pid, out registration.Watch))
        {
            Refuse(replyPort, HelperCheckInRequest.MsgId); // the process is already gone
            registration.Close(exited: true);
            return;
        }
        if (!registration.SendHelperEnds(replyPort))
        {
            Drop(registration, exited: false);
            return;
        }
        if ((options & HelperCheckInRequest.TaskPortFollows) != 0)
        {
            registration.AwaitingTaskPortFrom = token;
            _registrations.Add(token.Pid, registration);
            return;
        }
        Complete(registration, token, taskPort: null);
    }

    private void Hold(AuditToken token, uint replyPort, uint options)
    {
        int pid = token.Pid;
        if (_options.EarlyCheckInHold <= TimeSpan.Zero)
        {
            Refuse(replyPort, HelperCheckInRequest.MsgId);
            return;
        }
        var held = new HeldCheckIn(token, replyPort, options);
        // The latest check-in from a pid wins: an older one is a retry whose reply port is gone or, with another pid
        // version, a process that no longer exists (a pid has one version at a time).
        if (_held.Remove(pid, out HeldCheckIn? older))
        {
            older.Expiry?.Dispose();
            if (older.Token.PidVersion == token.PidVersion)
            {
                held.Watch = older.Watch;
                older.Watch = null;
            }
            Release(older);
        }
        if (held.Watch is null && !TryWatch(pid, out held.Watch))
        {
            Refuse(replyPort, HelperCheckInRequest.MsgId); // the process is already gone
            return;
        }
        held.Expiry = new Timer(OnHoldExpired, held, _options.EarlyCheckInHold, Timeout.InfiniteTimeSpan);
        _held.Add(pid, held);
    }

    /// <summary>Refuses a held check-in and stops watching its process.</summary>
    private void Release(HeldCheckIn held)
    {
        held.Expiry?.Dispose();
        _exits?.Cancel(held.Watch);
        held.Watch = null;
        Refuse(held.ReplyPort, HelperCheckInRequest.MsgId);
    }

    /// <summary>
    /// False when the process has exited already. True when it is now watched, or when it cannot be: watching is
    /// off, the OS has no way (Linux before 5.3), or it refused (out of descriptors); the pid is then not watched.
    /// </summary>
    private bool TryWatch(int pid, out ProcessExitWatch.Watch? watch)
    {
        watch = null;
        if (_exits is null)
        {
            return true;
        }
        try
        {
            watch = _exits.TryWatch(pid, out var outcome);
            return outcome != ProcessExitWatch.Outcome.NoSuchProcess;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return true;
        }
    }

    /// <summary>Answers <c>BOOTSTRAP_NOT_PRIVILEGED</c> on a send-once reply right, or releases it if it is dead.</summary>
    private static unsafe void Refuse(uint replyPort, int requestId)
    {
        var header = new MachMsgHeader
        {
            Bits = MachMsgBits.Make(MachMsgType.PortSendOnce, MachMsgType.None),
            RemotePort = replyPort,
            Id = requestId,
        };
        if (!MigReply.TrySendError(&header, (int)BootstrapReturn.NotPrivileged) && MachPortName.IsValid(header.RemotePort))
        {
            Mach.PortDeallocate(Mach.TaskSelf, header.RemotePort);
        }
    }

    private static void ReleaseSend(uint name)
    {
        if (MachPortName.IsValid(name))
        {
            Mach.PortDeallocate(Mach.TaskSelf, name);
        }
    }

    // ---- Timer and exit-watch threads.

    private void OnHoldExpired(object? state)
    {
        var held = (HeldCheckIn)state!;
        lock (Gate)
        {
            if (_held.TryGetValue(held.Token.Pid, out var current) && current == held)
            {
                _held.Remove(held.Token.Pid);
                using var _ = _owner.Enter();
                Release(held);
            }
        }
    }

    private void OnProcessExit(ProcessExitWatch.Watch watch)
    {
        lock (Gate)
        {
            using var _ = _owner.Enter();
            if (_registrations.TryGetValue(watch.Pid, out var registration) && registration.Watch == watch)
            {
                registration.Watch = null;
                Drop(registration, exited: true);
            }
            else if (_held.TryGetValue(watch.Pid, out var held) && held.Watch == watch)
            {
                _held.Remove(watch.Pid);
                held.Watch = null;
                Release(held); // its reply right is dead by now: released, not answered
            }
        }
    }
}
