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
/// unknown, malformed and too-large messages are destroyed (their rights released) and counted, and
/// <see cref="Stop"/> wakes the blocked receive through a private port and joins the thread.
/// </summary>
/// <remarks>
/// Ownership follows MIG: a handler that returns normally owns every right the message carried; in every
/// other case the server destroys the message with <see cref="ReceivedMessage.Destroy"/>.
/// </remarks>
public sealed unsafe class MachServer : IDisposable
{
    // The audit trailer tells a genuine kernel notification from a peer's forgery, and gives handlers the pid.
    private const MachMsgOption ReceiveOptions = MachMsgOption.RcvMsg | MachMsgOption.RcvLarge | MachMsgOption.RcvTrailerAudit;
    private const int TrailerSize = MachMsgAuditTrailer.SizeOf;
    // Room for every kernel notification, whatever the dispatcher declares.
    private const int MinBufferSize = MachPortDestroyedNotification.SizeOf;

    private readonly IMachDispatcher _dispatcher;
    private readonly MachServerOptions _options;
    private readonly ReceiveRight _service;
    private readonly ReceiveRight _wake;
    private readonly PortSet _portSet;
    private readonly object _gate = new();
    private readonly CurrentTaskContext _owner;
    private Thread? _thread;
    private volatile bool _stopping;
    private bool _disposed;
    private byte* _buffer;
    private int _bufferSize;

    /// <summary>Creates a server on <paramref name="service"/> (ownership moves to the server); call <see cref="Start"/>.</summary>
    public MachServer(IMachDispatcher dispatcher, ReceiveRight service, MachServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        ArgumentNullException.ThrowIfNull(service);
        _dispatcher = dispatcher;
        _options = options ?? new MachServerOptions();
        _service = service;
        _owner = CurrentTaskContext.Capture();
        Metrics = new MachServerMetrics(_options.Name);
        _wake = ReceiveRight.Allocate();
        _portSet = PortSet.Allocate();
        try
        {
            _portSet.Add(_service);
            _portSet.Add(_wake);
        }
        catch
        {
            _portSet.Dispose();
            _wake.Dispose();
            throw;
        }
        _bufferSize = Math.Max(dispatcher.MaxRequestSize, MinBufferSize) + TrailerSize;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)_bufferSize, 8);
    }

    /// <summary>Checks <paramref name="serviceName"/> in with the bootstrap server and serves it.</summary>
    public static MachServer CheckIn(string serviceName, IMachDispatcher dispatcher, MachServerOptions? options = null) =>
        new(dispatcher, BootstrapServer.CheckIn(serviceName), options);

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

    /// <summary>Starts the receive thread. Idempotent.</summary>
    public void Start()
    {
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
    /// Stops the server: wakes the blocked receive and joins the thread, so no handler runs after this
    /// returns (unless called from a handler, which cannot wait for itself). Idempotent.
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
            _stopping = true;
            Wake();
        }
        if (thread != Thread.CurrentThread)
        {
            thread.Join();
        }
        lock (_gate)
        {
            if (_thread == thread)
            {
                _thread = null;
            }
        }
    }

    /// <summary>Stops the server and releases its ports and buffer.</summary>
    public void Dispose()
    {
        Stop();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _portSet.Dispose();
        _wake.Dispose();
        _service.Dispose();
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
    }

    private void Wake()
    {
        // An empty message with a MAKE_SEND destination: it carries no rights, so it needs no cleanup.
        // Timeout 0: if the wake port's queue is full the loop is already being woken.
        using var _ = _owner.Enter();
        MachMsgHeader wake = default;
        wake.Bits = MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.None);
        wake.Size = MachMsgHeader.SizeOf;
        wake.RemotePort = _wake.Name;
        Mach.Msg(&wake, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, MachMsgHeader.SizeOf, 0, MachPortName.Null, 0, MachPortName.Null);
    }

    private void Run()
    {
        // The loop acts in the task that created the server, whose names it uses.
        using var _ = _owner.Enter();
        uint portSet = _portSet.Name;
        uint wake = _wake.Name;
        while (true)
        {
            var header = (MachMsgHeader*)_buffer;
            var mr = Mach.Msg(header, ReceiveOptions, 0, (uint)_bufferSize, portSet, MachMsgTimeout.None, MachPortName.Null);
            if (mr == MachMsgReturn.RcvTooLarge)
            {
                OnTooLarge(header, portSet);
                continue;
            }
            if (mr != MachMsgReturn.Success)
            {
                if (_stopping)
                {
                    return;
                }
                if (mr is MachMsgReturn.RcvInvalidName or MachMsgReturn.RcvPortChanged)
                {
                    // The port set is gone: nothing more can arrive.
                    Fault = mr;
                    if (IsLogging(LogLevel.Error)) Log(LogLevel.Error, "receive failed, server loop ends: {0}", new MachError((int)mr));
                    return;
                }
                if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "receive failed: {0}", new MachError((int)mr));
                continue;
            }
            if (header->LocalPort == wake)
            {
                if (_stopping)
                {
                    return;
                }
                continue;
            }
            Metrics.OnReceived();
            Handle(header);
        }
    }

    private void OnTooLarge(MachMsgHeader* header, uint portSet)
    {
        // With MACH_RCV_LARGE the message stays queued and msgh_size says how big it is (B8).
        long needed = (long)header->Size + TrailerSize;
        if (header->Size <= (uint)_options.MaxMessageSize && needed > _bufferSize)
        {
            NativeMemory.AlignedFree(_buffer);
            _bufferSize = (int)needed;
            _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)_bufferSize, 8);
            return;
        }
        // Too large to accept: receive it without MACH_RCV_LARGE so that the kernel destroys it and every
        // right it carried (B9). Timeout 0: another thread of ours cannot have taken it, but never block here.
        var mr = Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | MachMsgOption.RcvTrailerAudit, 0, (uint)_bufferSize, portSet, 0, MachPortName.Null);
        Metrics.OnReceived();
        Metrics.OnRejected("message too large", handlerFailed: false);
        if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "destroyed a message larger than MaxMessageSize ({0})", new MachError((int)mr));
    }

    private void Handle(MachMsgHeader* header)
    {
        int length = ReceivedLength(header);
        if (MachNotify.IsReserved(header->Id))
        {
            HandleNotification(header, length);
            return;
        }
        var result = _dispatcher.Dispatch(header, length);
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
        if (result.Exception is not null)
        {
            if (IsLogging(LogLevel.Error)) Log(LogLevel.Error, "handler for msgh_id {0} threw: {1}", header->Id, result.Exception);
        }
    }

    private void HandleNotification(MachMsgHeader* header, int length)
    {
        // Only the kernel may send ids 64..72; a peer can send the same id, but not the kernel's audit token.
        bool fromKernel = KernelSender.IsKernel(header, length);
        if (!fromKernel)
        {
            Reject(header, "forged kernel notification", MigReturn.BadId, handlerFailed: false);
            return;
        }
        Metrics.OnNotification();
        uint word = header->Size >= 36 ? *(uint*)((byte*)header + 32) : 0;
        var notification = new MachNotification(header->Id, header->LocalPort,
            header->Id == MachNotify.NoSenders ? 0 : word,
            header->Id == MachNotify.NoSenders ? word : 0);
        try
        {
            _options.OnNotification?.Invoke(in notification);
        }
        catch (Exception ex)
        {
            if (IsLogging(LogLevel.Error)) Log(LogLevel.Error, "notification handler threw: {0}", ex);
        }
        // A port-destroyed notification carries a receive right: nobody adopted it, so release it.
        ReceivedMessage.Destroy(header);
    }

    private void Reject(MachMsgHeader* header, string reason, MigReturn code, bool handlerFailed)
    {
        Metrics.OnRejected(reason, handlerFailed);
        if (IsLogging(LogLevel.Warning)) Log(LogLevel.Warning, "rejected msgh_id {0}: {1}", header->Id, reason);
        if (_options.ReplyWithMigErrors)
        {
            MigReply.TrySendError(header, (int)code);
        }
        ReceivedMessage.Destroy(header);
    }

    private int ReceivedLength(MachMsgHeader* header)
    {
        // The kernel wrote the trailer at round_msg(msgh_size); never report more than the buffer holds.
        uint start = MachTrailerRequest.RoundMsg(header->Size);
        if (start + MachMsgTrailer.SizeOf > (uint)_bufferSize)
        {
            return (int)Math.Min(start, (uint)_bufferSize);
        }
        var trailer = (MachMsgTrailer*)((byte*)header + start);
        return (int)Math.Min(start + trailer->Size, (uint)_bufferSize);
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
