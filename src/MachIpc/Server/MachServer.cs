using System;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Microsoft.Extensions.Logging;

namespace MachIpc.Server;

/// <summary>
/// A receive loop on one service port, dispatching by <c>msgh_id</c> through a generated
/// <see cref="IMachDispatcher"/>. Unlike Ladybird's <c>MachPortServer</c>, nothing a peer sends can stop it:
/// unknown, malformed, too-large and partially delivered messages are destroyed (their rights released, their
/// regions freed) and counted, and <see cref="Stop"/> wakes the blocked receive through a private port and joins
/// the thread.
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

    private readonly IMachDispatcher _dispatcher;
    private readonly MachServerOptions _options;
    private readonly ReceiveRight _service;
    private readonly ReceiveRight _wake;
    private readonly PortSet _portSet;
    private readonly object _gate = new();
    private readonly CurrentTaskContext _owner;
    private readonly NotificationScope _notification = new();
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile bool _disposed;
    private int _released;
    private byte* _buffer;
    private int _bufferSize;
    private int _backoffMs;

    /// <summary>
    /// The receive calls go through here, so that tests can inject results the simulated kernel cannot produce
    /// (a <c>MACH_RCV_BODY_ERROR</c> from a full name space, B21). Always <c>mach_msg</c> outside tests.
    /// </summary>
    internal delegate*<MachMsgHeader*, MachMsgOption, uint, uint, uint, uint, uint, MachMsgReturn> ReceiveCall = &Mach.Msg;

    /// <summary>
    /// Creates a server on <paramref name="service"/> (ownership moves to the server, and if the constructor throws
    /// the right is released); call <see cref="Start"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The dispatcher's <see cref="IMachDispatcher.MaxRequestSize"/> is not a message size.</exception>
    public MachServer(IMachDispatcher dispatcher, ReceiveRight service, MachServerOptions? options = null)
    {
        ReceiveRight? wake = null;
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
            _service = service;
            _owner = CurrentTaskContext.Capture();
            Metrics = new MachServerMetrics(_options.Name);
            wake = ReceiveRight.Allocate();
            portSet = PortSet.Allocate();
            portSet.Add(service);
            portSet.Add(wake);
            _bufferSize = Math.Max(maxRequest, MinBufferSize) + TrailerSize;
            _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)_bufferSize, 8);
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

    /// <summary>The private port <see cref="Stop"/> wakes the loop through (for tests).</summary>
    internal uint WakePort => _wake.Name;

    /// <summary>The server's name for its service port.</summary>
    public uint ServicePort => _service.Name;

    /// <summary>Counters for received, dispatched and rejected messages.</summary>
    public MachServerMetrics Metrics { get; }

    /// <summary>Whether the receive thread is running.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _thread is not null;
            }
        }
    }

    /// <summary>The receive error that ended the loop, if it ended on its own (for example the port was destroyed).</summary>
    public MachMsgReturn? Fault { get; private set; }

    /// <summary>Makes a send right to the service port (for clients in the same task, or to hand out in a message).</summary>
    public SendRight MakeSend() => _service.MakeSend();

    /// <summary>Starts the receive thread. Idempotent; after a <see cref="Stop"/> it starts a new one.</summary>
    /// <exception cref="InvalidOperationException">Called from the server's own thread (a handler).</exception>
    public void Start()
    {
        Thread? stopping;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_thread == Thread.CurrentThread)
            {
                throw new InvalidOperationException("a handler cannot restart its own server");
            }
            if (_thread is not null && !_stopping)
            {
                return;
            }
            stopping = _thread;
        }
        stopping?.Join(); // a Stop from a handler left its loop finishing: let it finish first
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_thread is not null)
            {
                return;
            }
            _stopping = false;
            Fault = null;
            _thread = new Thread(Run) { IsBackground = true, Name = _options.Name };
            _thread.Start();
        }
    }

    /// <summary>
    /// Stops the server: wakes the blocked receive and joins the thread, so no handler runs after this returns.
    /// Called from a handler, it cannot wait for itself: the loop ends when that handler returns. Idempotent.
    /// </summary>
    public void Stop()
    {
        Thread? thread;
        lock (_gate)
        {
            thread = _thread;
            if (thread is null)
            {
                return;
            }
            if (!_stopping)
            {
                _stopping = true;
                Wake();
            }
        }
        if (thread != Thread.CurrentThread)
        {
            thread.Join();
        }
    }

    /// <summary>
    /// Stops the server and releases its ports and buffer. Called from a handler, the release waits until that
    /// handler has returned (its message lives in the buffer).
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
        bool loopGone;
        lock (_gate)
        {
            loopGone = _thread is null;
        }
        if (loopGone)
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
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferSize = 0;
    }

    private void Wake()
    {
        // An empty message to the wake port, whose send right MAKE_SEND creates in the send. Timeout 0: if the wake
        // port's queue is full the loop is already being woken. A send that timed out came back pseudo-received
        // with that send right in it (kernel-semantics I2): release it, or every such wake leaks a uref.
        using var _ = _owner.Enter();
        MachMsgHeader wake = default;
        wake.Bits = MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.None);
        wake.Size = MachMsgHeader.SizeOf;
        wake.RemotePort = _wake.Name;
        var mr = Mach.Msg(&wake, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, MachMsgHeader.SizeOf, 0, MachPortName.Null, 0, MachPortName.Null);
        if (mr.IsPseudoReceived())
        {
            ReceivedMessage.DestroyUnsent(&wake);
        }
        else if (mr != MachMsgReturn.Success && IsLogging(LogLevel.Warning))
        {
            Log(LogLevel.Warning, "could not wake the receive loop: {0}", new MachError((int)mr));
        }
    }

    private void Run()
    {
        // The loop acts in the task that created the server, whose names it uses.
        using var _ = _owner.Enter();
        try
        {
            _backoffMs = 0;
            while (!_stopping)
            {
                var header = (MachMsgHeader*)_buffer;
                var mr = ReceiveCall(header, ReceiveOptions, 0, (uint)_bufferSize, _portSet.Name, MachMsgTimeout.None, MachPortName.Null);
                if (!OnReceived(header, mr, ReceiveOptions))
                {
                    return;
                }
            }
        }
        finally
        {
            DrainWakes();
            bool release;
            lock (_gate)
            {
                _thread = null;
                release = _disposed;
            }
            if (release)
            {
                Release(); // Dispose was called from a handler: it left the release to us
            }
        }
    }

    /// <summary>Acts on what one receive returned; false ends the loop.</summary>
    private bool OnReceived(MachMsgHeader* header, MachMsgReturn mr, MachMsgOption options)
    {
        switch (mr.WithoutResourceBits())
        {
            case MachMsgReturn.Success:
                _backoffMs = 0;
                if (header->LocalPort == _wake.Name)
                {
                    return !_stopping; // a wake carries no right (the receive consumed the one its send made); a stale one is dropped
                }
                Metrics.OnReceived();
                Handle(header);
                return !_stopping;
            case MachMsgReturn.RcvTooLarge when (options & MachMsgOption.RcvLarge) != 0:
                return OnTooLarge(header);
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
                return BackOff();
            case MachMsgReturn.RcvTimedOut:
            case MachMsgReturn.RcvInterrupted:
                return !_stopping;
            case MachMsgReturn.RcvInvalidName:
            case MachMsgReturn.RcvPortChanged:
                if (!_stopping)
                {
                    // The port set is gone: nothing more can arrive.
                    Fault = mr;
                    if (IsLogging(LogLevel.Error)) Log(LogLevel.Error, "receive failed, server loop ends: {0}", new MachError((int)mr));
                }
                return false;
            default:
                if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "receive failed: {0}", new MachError((int)mr));
                return BackOff();
        }
    }

    private bool OnTooLarge(MachMsgHeader* header)
    {
        // B8 with MACH_RCV_LARGE_IDENTITY: the message stays queued, msgh_size says how big it is and msgh_local_port
        // which member holds it.
        uint size = header->Size;
        uint member = header->LocalPort;
        if (size <= (uint)_options.MaxMessageSize)
        {
            long needed = (long)MachTrailerRequest.RoundMsg(size) + TrailerSize;
            if (needed > _bufferSize)
            {
                NativeMemory.AlignedFree(_buffer);
                _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)needed, 8);
                _bufferSize = (int)needed;
            }
            return !_stopping; // the set comes back round to it
        }
        // Too large to accept: receive it on its own member without MACH_RCV_LARGE, so that the kernel dequeues and
        // destroys it with every right it carries (B9). Timeout 0: nothing else receives on our ports, but never block
        // here. Whatever that receive returns is acted on like any other, so nothing that arrives is lost.
        var mr = ReceiveCall(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | MachMsgOption.RcvTrailerAudit, 0, (uint)_bufferSize, member, 0, MachPortName.Null);
        return OnReceived(header, mr, MachMsgOption.RcvMsg);
    }

    /// <summary>Pauses before the next receive, on the wake port so that a Stop ends the pause at once.</summary>
    private bool BackOff()
    {
        _backoffMs = Math.Clamp(_backoffMs * 2, 1, MaxBackoffMs);
        var header = (MachMsgHeader*)_buffer;
        var mr = ReceiveCall(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, (uint)_bufferSize, _wake.Name, (uint)_backoffMs, MachPortName.Null);
        if (mr is not (MachMsgReturn.Success or MachMsgReturn.RcvTimedOut))
        {
            Thread.Sleep(_backoffMs); // the kernel itself is failing (a lost kernel host): still don't spin
        }
        return !_stopping;
    }

    /// <summary>Receives whatever wakes are queued, so that none is left for the next <see cref="Start"/>.</summary>
    private void DrainWakes()
    {
        if (_buffer is null)
        {
            return;
        }
        var header = (MachMsgHeader*)_buffer;
        while (Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, (uint)_bufferSize, _wake.Name, 0, MachPortName.Null) == MachMsgReturn.Success)
        {
        }
    }

    private void Handle(MachMsgHeader* header)
    {
        // Whatever nobody took out of the message is destroyed when this returns, whichever way it returns.
        using var destroy = new ScopedMachMsgDestroy(header);
        if (MachNotify.IsReserved(header->Id))
        {
            HandleNotification(header);
            return;
        }
        MachDispatchResult result;
        try
        {
            // The whole buffer: a short variable-length request is read in place, past its msgh_size.
            result = _dispatcher.Dispatch(header, _bufferSize);
        }
        catch (Exception ex)
        {
            result = MachDispatchResult.HandlerFailed(ex); // a hand-written dispatcher that broke its contract
        }
        if (result.Status == MachDispatchStatus.Handled)
        {
            Metrics.OnDispatched();
            return;
        }
        MigReturn code = result.Status switch
        {
            MachDispatchStatus.UnknownId => MigReturn.BadId,
            MachDispatchStatus.Rejected => MigReturn.BadArguments,
            _ => MigReturn.RemoteError,
        };
        Reject(header, result.Reason, code, result.Status == MachDispatchStatus.HandlerFailed);
        if (result.Exception is not null && IsLogging(LogLevel.Error))
        {
            Log(LogLevel.Error, "handler for msgh_id {0} threw: {1}", header->Id, result.Exception);
        }
    }

    private void HandleNotification(MachMsgHeader* header)
    {
        // Only the kernel may send ids 64..72; a peer can send the same id, but not the kernel's audit token.
        if (!ReceivedMessage.IsFromKernel(header, _bufferSize))
        {
            Reject(header, "forged kernel notification", MigReturn.BadId, handlerFailed: false);
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
        int generation = _notification.Begin(header);
        try
        {
            _options.OnNotification?.Invoke(new MachNotification(header->Id, header->LocalPort, notPort, notCount, carriesRight ? _notification : null, generation));
        }
        catch (Exception ex)
        {
            if (IsLogging(LogLevel.Error)) Log(LogLevel.Error, "notification handler threw: {0}", ex);
        }
        finally
        {
            _notification.End();
        }
        // A port-destroyed notification's receive right that the handler did not take is destroyed with the message.
    }

    private static bool IsPortDestroyed(MachMsgHeader* header)
    {
        var n = (MachPortDestroyedNotification*)header;
        return header->IsComplex && header->Size >= MachPortDestroyedNotification.SizeOf && n->Body.DescriptorCount == 1
               && n->NotPort.Type == MachMsgDescriptorType.Port && n->NotPort.Disposition == MachMsgType.PortReceive;
    }

    private void Reject(MachMsgHeader* header, string reason, MigReturn code, bool handlerFailed)
    {
        Metrics.OnRejected(reason, handlerFailed);
        if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "rejected msgh_id {0}: {1}", header->Id, reason);
        if (_options.ReplyWithMigErrors)
        {
            MigReply.TrySendError(header, (int)code); // consumes the reply right, if the message still has one
        }
    }

    private void Reject(string reason, MachMsgReturn mr)
    {
        Metrics.OnRejected(reason, handlerFailed: false);
        if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "destroyed a message: {0} ({1})", reason, new MachError((int)mr));
    }

    private bool IsLogging(LogLevel level) => _options.Logger?.IsEnabled(level) == true;

    // Callers check IsLogging first, so a disabled logger costs no argument array or boxing.
    private void Log(LogLevel level, string format, params object?[] args)
    {
        var logger = _options.Logger;
        if (logger is not null)
        {
#pragma warning disable CA1848, CA2254 // logging is off the hot path: only rejected messages and failures get here
            logger.Log(level, "[{Server}] " + string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args), _options.Name);
#pragma warning restore CA1848, CA2254
        }
    }
}
