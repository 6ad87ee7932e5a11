using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Diagnostics;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Microsoft.Extensions.Logging;

namespace MachIpc.Server;

/// <summary>
/// A receive loop on one service port, dispatching by <c>msgh_id</c> through a generated
/// <see cref="IMachDispatcher"/>. Unlike Ladybird's <c>MachPortServer</c>, nothing a peer sends can stop it:
/// unknown, malformed, too-large and partially delivered messages are destroyed (their rights released, their
/// regions freed) and counted, and <see cref="Stop"/> wakes the blocked receives through a private port and joins
/// the threads. <see cref="MachServerOptions.ReceiveThreads"/> threads receive on one port set, as a MIG server's do.
/// </summary>
/// <remarks>
/// Ownership is explicit (<see cref="MachReceived{T}"/>): a handler owns what it takes out of its message, and
/// after it returns or throws the server destroys everything still in the message with
/// <see cref="ReceivedMessage.Destroy(MachMsgHeader*)"/>. A reply right the handler did not use is answered with a MIG error when
/// the handler failed (<see cref="MachServerOptions.ReplyWithMigErrors"/>) and destroyed otherwise, which the
/// client's kernel reports as a send-once notification (<c>MIG_SERVER_DIED</c> to a <c>MachRpcClient</c>).
/// </remarks>
public sealed unsafe class MachServer : IDisposable
{
    // MACH_RCV_LARGE leaves a too-large message queued and reports its size; MACH_RCV_LARGE_IDENTITY also names the
    // member of the set that holds it, so it can be destroyed there: a second receive on the set would be served
    // by the next member in the set's rotation (kernel-semantics I5), perhaps the wake port. The audit trailer
    // tells a genuine kernel notification from a peer's forgery, and gives handlers the pid.
    private const MachMsgOption ReceiveOptions = MachMsgOption.RcvMsg | MachMsgOption.RcvLarge | MachMsgOption.RcvLargeIdentity | MachMsgOption.RcvTrailerAudit;
    private const int TrailerSize = MachMsgAuditTrailer.SizeOf;
    // Room for every kernel notification, whatever the dispatcher declares.
    private const int MinBufferSize = MachPortDestroyedNotification.SizeOf;
    // A receive that keeps failing (a body error while this task is out of names, say) is retried after a pause
    // that doubles up to this, spent waiting on the wake port so that Stop still ends it at once.
    private const int MaxBackoffMs = 50;
    // MIG servers run a handful of threads; more than this on one port set is a mistake.
    private const int MaxReceiveThreads = 256;

    private readonly IMachDispatcher _dispatcher;
    private readonly MachServerOptions _options;
    private readonly string _name;
    private readonly int _threadCount;
    private readonly int _initialBufferSize;
    private readonly ReceiveRight _service;
    private readonly WakePort _wake;
    private readonly PortSet _portSet;
    private readonly object _gate = new();
    private readonly CurrentTaskContext _owner;
    // The running generation of receive threads (null while stopped), how many of them are still in their loop, and
    // the task that completes when the last one has left it.
    private Thread[]? _threads;
    private int _live;
    private TaskCompletionSource? _ended;
    private volatile bool _stopping;
    private volatile bool _disposed;
    private int _released;

    /// <summary>
    /// The receive calls go through here, so that tests can inject results the simulated kernel cannot produce
    /// (a <c>MACH_RCV_BODY_ERROR</c> from a full name space, B21). Always <c>mach_msg</c> outside tests.
    /// </summary>
    internal delegate*<MachMsgHeader*, MachMsgOption, uint, uint, uint, uint, uint, MachMsgReturn> ReceiveCall = &Mach.Msg;

    /// <summary>
    /// Creates a server on <paramref name="service"/> (ownership moves to the server, and if the constructor throws
    /// the right is released); call <see cref="Start"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The dispatcher's <see cref="IMachDispatcher.MaxRequestSize"/> is not a
    /// message size, or <see cref="MachServerOptions.ReceiveThreads"/> is not 1 to 256.</exception>
    public MachServer(IMachDispatcher dispatcher, ReceiveRight service, MachServerOptions? options = null)
    {
        WakePort? wake = null;
        PortSet? portSet = null;
        try
        {
            ArgumentNullException.ThrowIfNull(dispatcher);
            ArgumentNullException.ThrowIfNull(service);
            int maxRequest = dispatcher.MaxRequestSize;
            if (maxRequest < MachMsgHeader.SizeOf || (uint)maxRequest > MachMsgLimits.MaxBodySpace)
            {
                throw new ArgumentOutOfRangeException(nameof(dispatcher), maxRequest, "MaxRequestSize must be a message size");
            }
            _dispatcher = dispatcher;
            _options = options ?? new MachServerOptions();
            _threadCount = _options.ReceiveThreads;
            if (_threadCount is < 1 or > MaxReceiveThreads)
            {
                throw new ArgumentOutOfRangeException(nameof(options), _threadCount, "ReceiveThreads must be 1 to 256");
            }
            _name = _options.Name;
            _service = service;
            _owner = CurrentTaskContext.Capture();
            wake = new WakePort();
            portSet = PortSet.Allocate();
            portSet.Add(service);
            portSet.Add(wake.Right);
            _initialBufferSize = Math.Max(maxRequest, MinBufferSize) + TrailerSize;
            Metrics = new MachServerMetrics(_name, _options.MeterFactory);
            _wake = wake;
            _portSet = portSet;
        }
        catch
        {
            portSet?.Dispose();
            wake?.Dispose();
            service?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks <paramref name="serviceName"/> in with the bootstrap server and serves it. If the server cannot be
    /// created, the checked-in right is released (and with it the name).
    /// </summary>
    public static MachServer CheckIn(string serviceName, IMachDispatcher dispatcher, MachServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        return new MachServer(dispatcher, BootstrapServer.CheckIn(serviceName), options);
    }

    /// <summary>The private port <see cref="Stop"/> wakes the loops through (for tests).</summary>
    internal uint WakePort => _wake.Name;

    /// <summary>The server's name for its service port.</summary>
    public uint ServicePort => _service.Name;

    /// <summary>Counters for received, dispatched and rejected messages.</summary>
    public MachServerMetrics Metrics { get; }

    /// <summary>Whether receive threads are running.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _threads is not null;
            }
        }
    }

    /// <summary>The receive error that ended the loop, if it ended on its own (for example the port was destroyed).</summary>
    public MachMsgReturn? Fault { get; private set; }

    /// <summary>Makes a send right to the service port (for clients in the same task, or to hand out in a message).</summary>
    public SendRight MakeSend() => _service.MakeSend();

    /// <summary>
    /// Starts the receive threads (<see cref="MachServerOptions.ReceiveThreads"/>). Idempotent; after a
    /// <see cref="Stop"/> it starts new ones.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from one of the server's own threads (a handler).</exception>
    /// <exception cref="ObjectDisposedException">The server is disposed.</exception>
    public void Start()
    {
        Thread[]? stopping;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsServerThread(_threads))
            {
                throw new InvalidOperationException("a handler cannot restart its own server");
            }
            if (_threads is not null && !_stopping)
            {
                return;
            }
            stopping = _threads;
        }
        Join(stopping); // a Stop from a handler left its loops finishing: let them finish first
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_threads is not null)
            {
                return;
            }
            _stopping = false;
            Fault = null;
            // Buffers are made here, so that running out of memory is this caller's exception, not a thread's crash.
            var loops = new ReceiveLoop[_threadCount];
            try
            {
                for (int i = 0; i < loops.Length; i++)
                {
                    loops[i] = new ReceiveLoop(_initialBufferSize);
                }
            }
            catch
            {
                foreach (var loop in loops)
                {
                    loop?.Free();
                }
                throw;
            }
            var threads = new Thread[_threadCount];
            for (int i = 0; i < threads.Length; i++)
            {
                var loop = loops[i];
                threads[i] = new Thread(() => Run(loop)) { IsBackground = true, Name = _threadCount == 1 ? _name : $"{_name} {i + 1}" };
            }
            _threads = threads;
            _live = threads.Length;
            _ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var thread in threads)
            {
                thread.Start();
            }
        }
        if (_options.Logger is { } logger)
        {
            MachServerLog.Started(logger, _name, _service.Name, _threadCount);
        }
    }

    /// <summary><see cref="Start"/> for a host: the server runs on its own threads, and the task is complete once they are started.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the server started.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Start();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops the server: wakes the blocked receives and joins the threads, so no handler runs after this returns.
    /// Called from a handler, it cannot wait for itself: the loops end when the handlers running now return. Idempotent.
    /// </summary>
    public void Stop()
    {
        Thread[]? threads = BeginStop(out _);
        if (!IsServerThread(threads))
        {
            Join(threads);
        }
    }

    /// <summary>
    /// Stops the server without blocking: the task completes when every receive loop has ended (no handler runs after
    /// that). Cancelling <paramref name="cancellationToken"/> stops the waiting, not the shutdown, which goes on.
    /// </summary>
    /// <exception cref="OperationCanceledException">(From the task.) <paramref name="cancellationToken"/> was cancelled before the loops ended.</exception>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        BeginStop(out Task? ended);
        return ended?.WaitAsync(cancellationToken) ?? Task.CompletedTask;
    }

    private Thread[]? BeginStop(out Task? ended)
    {
        lock (_gate)
        {
            ended = _ended?.Task;
            if (_threads is null)
            {
                return null;
            }
            if (!_stopping)
            {
                _stopping = true;
                Wake(); // one wake; each loop that takes one passes it on (Run)
            }
            return _threads;
        }
    }

    private static bool IsServerThread(Thread[]? threads) => threads is not null && Array.IndexOf(threads, Thread.CurrentThread) >= 0;

    private static void Join(Thread[]? threads)
    {
        if (threads is not null)
        {
            foreach (var thread in threads)
            {
                thread.Join();
            }
        }
    }

    /// <summary>
    /// Stops the server and releases its ports and meter. Called from a handler, the release waits until the loops
    /// have ended (a handler's message lives in its loop's buffer).
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        Stop();
        bool loopsGone;
        lock (_gate)
        {
            loopsGone = _threads is null;
        }
        if (loopsGone)
        {
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }
        _portSet.Dispose();
        _wake.Dispose();
        _service.Dispose();
        Metrics.Dispose();
    }

    private void Wake()
    {
        var mr = _wake.Send();
        if (mr != MachMsgReturn.Success && !mr.IsPseudoReceived() && _options.Logger is { } logger)
        {
            MachServerLog.WakeFailed(logger, _name, new MachError((int)mr).ToString());
        }
    }

    private void Run(ReceiveLoop loop)
    {
        // The loop acts in the task that created the server, whose names it uses.
        using var _ = _owner.Enter();
        try
        {
            while (!_stopping)
            {
                var mr = ReceiveCall(loop.Header, ReceiveOptions, 0, (uint)loop.Size, _portSet.Name, MachMsgTimeout.None, MachPortName.Null);
                if (!OnReceived(loop, mr, ReceiveOptions))
                {
                    break;
                }
            }
        }
        finally
        {
            loop.Free();
            // One wake ended one blocked receive: pass it on while other loops may still be blocked, before leaving
            // (so that no wake is sent after the last loop has drained them).
            if (_stopping && Volatile.Read(ref _live) > 1)
            {
                Wake();
            }
            bool last, release = false;
            TaskCompletionSource? ended = null;
            lock (_gate)
            {
                last = --_live == 0;
                if (last)
                {
                    _wake.Drain(); // none is left for the next Start
                    _threads = null;
                    ended = _ended;
                    release = _disposed;
                }
            }
            if (last)
            {
                if (_options.Logger is { } logger)
                {
                    MachServerLog.Stopped(logger, _name);
                }
                ended!.TrySetResult();
                if (release)
                {
                    Release(); // Dispose was called from a handler: it left the release to the last loop
                }
            }
        }
    }

    /// <summary>Acts on what one receive returned; false ends the loop.</summary>
    private bool OnReceived(ReceiveLoop loop, MachMsgReturn mr, MachMsgOption options)
    {
        var header = loop.Header;
        switch (mr.WithoutResourceBits())
        {
            case MachMsgReturn.Success:
                loop.BackoffMs = 0;
                if (_wake.IsWake(header))
                {
                    return !_stopping; // a wake carries no right (the receive consumed the one its send made); a stale one is dropped
                }
                Metrics.OnReceived();
                Handle(loop);
                return !_stopping;
            case MachMsgReturn.RcvTooLarge when (options & MachMsgOption.RcvLarge) != 0:
                return OnTooLarge(loop);
            case MachMsgReturn.RcvTooLarge:
                // Received without MACH_RCV_LARGE: the kernel dequeued and destroyed it, every right and region with
                // it, and left a bare header that holds nothing (B9).
                Metrics.OnReceived();
                Reject("message too large", mr);
                return !_stopping;
            case MachMsgReturn.RcvBodyError:
            case MachMsgReturn.RcvHeaderError:
                // Partly delivered (B21; osfmk/ipc/mach_msg.c mach_msg_receive_results): a body error copies out what it
                // could and the rest was destroyed; a header error leaves a bare header. Destroy whatever arrived, and
                // pause: these come from a shortage in this task (names, address space) that the next receive would hit too.
                Metrics.OnReceived();
                ReceivedMessage.Destroy(header);
                Reject("message partly received", mr);
                return BackOff(loop);
            case MachMsgReturn.RcvTimedOut:
            case MachMsgReturn.RcvInterrupted:
                return !_stopping;
            case MachMsgReturn.RcvInvalidName:
            case MachMsgReturn.RcvPortChanged:
                if (!_stopping)
                {
                    // The port set is gone: nothing more can arrive.
                    Fault = mr;
                    if (_options.Logger is { } logger)
                    {
                        MachServerLog.LoopFaulted(logger, _name, new MachError((int)mr).ToString());
                    }
                }
                return false;
            default:
                if (_options.Logger is { } log)
                {
                    MachServerLog.ReceiveFailed(log, _name, new MachError((int)mr).ToString());
                }
                return BackOff(loop);
        }
    }

    private bool OnTooLarge(ReceiveLoop loop)
    {
        // B8 with MACH_RCV_LARGE_IDENTITY: the message stays queued, msgh_size says how big it is and msgh_local_port
        // which member holds it.
        uint size = loop.Header->Size;
        uint member = loop.Header->LocalPort;
        if (size <= (uint)_options.MaxMessageSize)
        {
            loop.Grow((long)MachTrailerRequest.RoundMsg(size) + TrailerSize);
            return !_stopping; // the set comes back round to it (or another loop takes it)
        }
        // Too large to accept: receive it on its own member without MACH_RCV_LARGE, so that the kernel dequeues and
        // destroys it with every right it carries (B9). Timeout 0: another loop may have taken it meanwhile, and this
        // one never blocks here. Whatever that receive returns is acted on like any other, so nothing that arrives is lost.
        var mr = ReceiveCall(loop.Header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | MachMsgOption.RcvTrailerAudit, 0, (uint)loop.Size, member, 0, MachPortName.Null);
        return OnReceived(loop, mr, MachMsgOption.RcvMsg);
    }

    /// <summary>Pauses before the next receive, on the wake port so that a Stop ends the pause at once.</summary>
    private bool BackOff(ReceiveLoop loop)
    {
        loop.BackoffMs = Math.Clamp(loop.BackoffMs * 2, 1, MaxBackoffMs);
        var mr = ReceiveCall(loop.Header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, (uint)loop.Size, _wake.Name, (uint)loop.BackoffMs, MachPortName.Null);
        if (mr is not (MachMsgReturn.Success or MachMsgReturn.RcvTimedOut))
        {
            Thread.Sleep(loop.BackoffMs); // the kernel itself is failing (a lost kernel host): still don't spin
        }
        return !_stopping;
    }

    private void Handle(ReceiveLoop loop)
    {
        var header = loop.Header;
        // Whatever nobody took out of the message is destroyed when this returns, whichever way it returns.
        using var destroy = new ScopedMachMsgDestroy(header);
        if (MachNotify.IsReserved(header->Id))
        {
            HandleNotification(loop);
            return;
        }
        int id = header->Id;
        using Activity? activity = MachTelemetry.Source.HasListeners() ? MachTelemetry.Source.StartActivity("machipc.dispatch", ActivityKind.Server) : null;
        if (activity is not null)
        {
            activity.SetTag(MachTelemetry.MsghIdTag, id);
            activity.SetTag(MachTelemetry.SenderPidTag, ReceivedMessage.SenderPid(header, loop.Size));
        }
        long started = Metrics.MeasuresDuration ? Stopwatch.GetTimestamp() : 0;
        MachDispatchResult result;
        try
        {
            // The whole buffer: a short variable-length request is read in place, past its msgh_size.
            result = _dispatcher.Dispatch(header, loop.Size);
        }
        catch (Exception ex)
        {
            result = MachDispatchResult.HandlerFailed(ex); // a hand-written dispatcher that broke its contract
        }
        if (started != 0)
        {
            Metrics.OnDispatchDuration(Stopwatch.GetElapsedTime(started));
        }
        if (result.Status == MachDispatchStatus.Handled)
        {
            Metrics.OnDispatched();
            return;
        }
        activity?.SetTag(MachTelemetry.ReasonTag, result.Reason);
        activity?.SetStatus(ActivityStatusCode.Error, result.Reason);
        MigReturn code = result.Status switch
        {
            MachDispatchStatus.UnknownId => MigReturn.BadId,
            MachDispatchStatus.Rejected => MigReturn.BadArguments,
            _ => MigReturn.RemoteError,
        };
        Reject(loop, result.Reason, code, result.Status == MachDispatchStatus.HandlerFailed, result.Exception);
    }

    private void HandleNotification(ReceiveLoop loop)
    {
        var header = loop.Header;
        // Only the kernel may send ids 64..72; a peer can send the same id, but not the kernel's audit token.
        if (!ReceivedMessage.IsFromKernel(header, loop.Size))
        {
            Reject(loop, "forged kernel notification", MigReturn.BadId, handlerFailed: false, exception: null);
            return;
        }
        Metrics.OnNotification();
        uint notPort = 0, notCount = 0;
        bool carriesRight = false;
        switch (header->Id)
        {
            case MachNotify.NoSenders when header->Size >= MachNoSendersNotification.SizeOf:
                notCount = ((MachNoSendersNotification*)header)->NotCount;
                break;
            case MachNotify.PortDestroyed when IsPortDestroyed(header):
                // The receive right travels in a port descriptor at offset 28 (mach/notify.h mach_port_destroyed_notification_t).
                notPort = ((MachPortDestroyedNotification*)header)->NotPort.Name;
                carriesRight = true;
                break;
            case MachNotify.DeadName or MachNotify.PortDeleted or MachNotify.SendPossible when header->Size >= MachPortNameNotification.SizeOf:
                notPort = ((MachPortNameNotification*)header)->NotPort;
                break;
        }
        int generation = loop.Notification.Begin(header);
        try
        {
            _options.OnNotification?.Invoke(new MachNotification(header->Id, header->LocalPort, notPort, notCount, carriesRight ? loop.Notification : null, generation));
        }
        catch (Exception ex)
        {
            if (_options.Logger is { } logger)
            {
                MachServerLog.NotificationHandlerFailed(logger, ex, _name, header->Id);
            }
        }
        finally
        {
            loop.Notification.End();
        }
        // A port-destroyed notification's receive right that the handler did not take is destroyed with the message.
    }

    private static bool IsPortDestroyed(MachMsgHeader* header)
    {
        var n = (MachPortDestroyedNotification*)header;
        return header->IsComplex && header->Size >= MachPortDestroyedNotification.SizeOf && n->Body.DescriptorCount == 1
               && n->NotPort.Type == MachMsgDescriptorType.Port && n->NotPort.Disposition == MachMsgType.PortReceive;
    }

    private void Reject(ReceiveLoop loop, string reason, MigReturn code, bool handlerFailed, Exception? exception)
    {
        var header = loop.Header;
        Metrics.OnRejected(reason, handlerFailed);
        if (_options.Logger is { } logger)
        {
            int pid = ReceivedMessage.SenderPid(header, loop.Size);
            if (exception is not null)
            {
                MachServerLog.HandlerFailed(logger, exception, _name, header->Id, pid);
            }
            else
            {
                MachServerLog.MessageRejected(logger, _name, header->Id, pid, reason);
            }
        }
        if (_options.ReplyWithMigErrors)
        {
            MigReply.TrySendError(header, (int)code); // consumes the reply right, if the message still has one
        }
    }

    private void Reject(string reason, MachMsgReturn mr)
    {
        Metrics.OnRejected(reason, handlerFailed: false);
        if (_options.Logger is { } logger)
        {
            MachServerLog.MessageDestroyed(logger, _name, reason, new MachError((int)mr).ToString());
        }
    }

    /// <summary>One receive thread's own state: its buffer (grown for larger messages) and back-off.</summary>
    private sealed class ReceiveLoop
    {
        public ReceiveLoop(int size)
        {
            Buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
            Size = size;
        }

        public byte* Buffer { get; private set; }

        public int Size { get; private set; }

        public MachMsgHeader* Header => (MachMsgHeader*)Buffer;

        public int BackoffMs { get; set; }

        /// <summary>The notification this loop is delivering, for <see cref="MachNotification.TakeReceiveRight"/>.</summary>
        public NotificationScope Notification { get; } = new();

        public void Grow(long size)
        {
            if (size > Size)
            {
                NativeMemory.AlignedFree(Buffer);
                Buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
                Size = (int)size;
            }
        }

        public void Free()
        {
            NativeMemory.AlignedFree(Buffer);
            Buffer = null;
            Size = 0;
        }
    }
}
