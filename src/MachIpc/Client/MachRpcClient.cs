using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using MachIpc.Abi;
using MachIpc.Diagnostics;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Client;

/// <summary>
/// Request/reply calls to a server in one combined <c>mach_msg</c> (send + receive, as MIG clients do; an async call
/// sends, and its task's one reply waiter receives), with a
/// <c>MAKE_SEND_ONCE</c> reply port (<see cref="ReceiveRight.AllocateReplyPort"/>) and separate send and receive
/// timeouts. A reply port that might still receive something from a failed or cancelled call (a late reply, or the
/// send-once notification of a reply right the kernel destroyed) is destroyed and replaced, never reused, by MIG's rule.
/// </summary>
/// <remarks>
/// Errors follow the SDK's one model: <see cref="TryCall{TRequest, TReply}"/> reports a failure the caller can act on
/// (no reply, the server's error, an invalid reply) as <c>false</c> and a <see cref="MachRpcResult"/>;
/// <see cref="Call{TRequest, TReply}"/> and <see cref="CallAsync{TRequest, TReply}"/> throw a
/// <see cref="MachException"/> carrying the same code; a request that is not prepared, a disposed client or a second
/// call while one is running throw <see cref="ArgumentException"/>, <see cref="ObjectDisposedException"/> and
/// <see cref="InvalidOperationException"/>. One call at a time: use one client per concurrent caller.
/// </remarks>
public sealed unsafe class MachRpcClient : IDisposable
{
    /// <summary>The send timeout when none is given: 100 ms, Ladybird's (a server's queue stays full no longer unless it is stuck).</summary>
    public static readonly TimeSpan DefaultSendTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>The receive timeout when none is given: 5 s, Ladybird's.</summary>
    public static readonly TimeSpan DefaultReceiveTimeout = TimeSpan.FromSeconds(5);

    private readonly SendRight _server;
    private readonly CurrentTaskContext _owner;
    private ReceiveRight? _replyPort;
    private byte* _buffer;
    private int _bufferSize;
    private int _busy;
    private bool _disposed;

    /// <summary>Creates a client for <paramref name="server"/>; the client takes ownership of the right.</summary>
    public MachRpcClient(SendRight server)
    {
        ArgumentNullException.ThrowIfNull(server);
        _server = server;
        _owner = CurrentTaskContext.Capture();
        ReceiveRight.TryAllocateReplyPort(out _replyPort); // a failure is reported by the first call
    }

    /// <summary>The server's send right.</summary>
    public SendRight Server => _server;

    /// <summary>The current reply port (replaced after a call that may have left something on it; 0 while none could be made).</summary>
    public uint ReplyPort => _replyPort?.Name ?? MachPortName.Null;

    /// <summary>
    /// Sends <paramref name="request"/> (prepared with its generated <c>Prepare</c>, which must declare
    /// <c>Local = MakeSendOnce</c>; the client fills in the destination and reply ports) and waits for a
    /// <typeparamref name="TReply"/>. On success the caller owns the rights and out-of-line memory in
    /// <paramref name="reply"/>; otherwise anything that arrived was destroyed and <paramref name="reason"/> says why.
    /// The rights the request carried go as after any <c>mach_msg</c> send: with the message, or, after a send that
    /// timed out (pseudo-received), destroyed here.
    /// </summary>
    /// <param name="request">The prepared request.</param>
    /// <param name="reply">The reply, when the call succeeded.</param>
    /// <param name="sender">The replier's audit token (from the kernel's trailer), when the call succeeded.</param>
    /// <param name="reason">Why the call failed; <see cref="MachRpcStatus.Success"/> when it did not.</param>
    /// <param name="sendTimeout">How long the send may wait for room in the server's queue (<see cref="DefaultSendTimeout"/> when null;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever, <see cref="TimeSpan.Zero"/> not at all; rounded up to whole milliseconds).</param>
    /// <param name="receiveTimeout">How long to wait for the reply (<see cref="DefaultReceiveTimeout"/> when null; same rules).</param>
    /// <exception cref="ArgumentException">The request is not prepared, or not prepared for a reply port.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A timeout is negative (other than infinite) or longer than <c>mach_msg</c> can wait.</exception>
    /// <exception cref="InvalidOperationException">Another call on this client is running.</exception>
    /// <exception cref="ObjectDisposedException">The client is disposed.</exception>
    public bool TryCall<TRequest, TReply>(in TRequest request, out TReply reply, out AuditToken sender, out MachRpcResult reason,
                                          TimeSpan? sendTimeout = null, TimeSpan? receiveTimeout = null)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        var timeouts = new CallTimeouts(sendTimeout, receiveTimeout);
        BeginCall();
        try
        {
            uint sendSize = Stage<TRequest, TReply>(in request);
            reason = Invoke<TRequest, TReply>(sendSize, timeouts, out reply, out sender);
        }
        finally
        {
            EndCall();
        }
        return reason.IsSuccess;
    }

    /// <summary>
    /// <see cref="TryCall{TRequest, TReply}"/> that throws when no valid reply arrives.
    /// </summary>
    /// <exception cref="MachException">No valid reply: <see cref="MachException.Error"/> is the <see cref="MachRpcResult.Code"/>
    /// <see cref="TryCall{TRequest, TReply}"/> would have reported.</exception>
    /// <exception cref="ArgumentException">The request is not prepared, or not prepared for a reply port.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A timeout is negative (other than infinite) or too long.</exception>
    /// <exception cref="InvalidOperationException">Another call on this client is running.</exception>
    /// <exception cref="ObjectDisposedException">The client is disposed.</exception>
    public MachRpcReply<TReply> Call<TRequest, TReply>(in TRequest request, TimeSpan? sendTimeout = null, TimeSpan? receiveTimeout = null)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        if (!TryCall(in request, out TReply reply, out AuditToken sender, out MachRpcResult reason, sendTimeout, receiveTimeout))
        {
            throw Failure<TRequest, TReply>(reason);
        }
        return new MachRpcReply<TReply>(reply, sender);
    }

    /// <summary>
    /// <see cref="Call{TRequest, TReply}"/> without blocking the caller. Cancelling <paramref name="cancellationToken"/>
    /// ends the wait for the reply: the reply port is destroyed and replaced (a reply that comes later is destroyed
    /// with it, never taken for the next call's), and the task is cancelled. A token already cancelled when the call
    /// starts sends nothing.
    /// </summary>
    /// <remarks>
    /// The request is sent on the caller's thread (waiting at most the send timeout for room in the server's queue); no
    /// thread waits for this call's reply: one thread per task receives the replies of every call in flight
    /// (<c>ReplyWaiter</c>), and the task completes from there, its continuations queued to the thread pool.
    /// </remarks>
    /// <exception cref="MachException">(From the task.) No valid reply, as for <see cref="Call{TRequest, TReply}"/>.</exception>
    /// <exception cref="OperationCanceledException">(From the task.) <paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="ArgumentException">The request is not prepared, or not prepared for a reply port.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A timeout is negative (other than infinite) or too long.</exception>
    /// <exception cref="InvalidOperationException">Another call on this client is running.</exception>
    /// <exception cref="ObjectDisposedException">The client is disposed.</exception>
    public Task<MachRpcReply<TReply>> CallAsync<TRequest, TReply>(TRequest request, TimeSpan? sendTimeout = null, TimeSpan? receiveTimeout = null,
                                                                  CancellationToken cancellationToken = default)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        var timeouts = new CallTimeouts(sendTimeout, receiveTimeout);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<MachRpcReply<TReply>>(cancellationToken);
        }
        BeginCall();
        AsyncCall<TRequest, TReply>? call = null;
        try
        {
            uint sendSize = Stage<TRequest, TReply>(in request);
            using var scope = _owner.Enter(); // the client's names are in the task that made it
            call = new AsyncCall<TRequest, TReply>(this, cancellationToken);
            MachRpcResult sent = SendRequest(sendSize, timeouts);
            if (!sent.IsSuccess)
            {
                call.Finish(sent, default, default);
                return call.Task;
            }
            // The request is out: from here the reply port may receive, so it joins the task's reply waiter.
            ReplyWaiter waiter = ReplyWaiter.ForCurrentTask();
            KernReturn kr = waiter.Add(_replyPort!.Name, call);
            if (kr != KernReturn.Success)
            {
                TryReplaceReplyPort(out _); // a reply may still come to it: never reuse it
                call.Finish(new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)kr), default, default);
                return call.Task;
            }
            call.Arm(waiter, timeouts);
            return call.Task;
        }
        catch
        {
            if (call is null)
            {
                EndCall(); // the request was refused before anything was sent
            }
            throw;
        }
    }

    /// <summary>
    /// A <see cref="CallAsync{TRequest, TReply}"/> waiting for its reply. Exactly one of the reply, a cancellation, the
    /// receive timeout and a failed wait ends it (<see cref="PendingReply"/> claims), on the reply waiter's thread.
    /// </summary>
    private sealed class AsyncCall<TRequest, TReply>(MachRpcClient client, CancellationToken cancellationToken) : PendingReply
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        private readonly TaskCompletionSource<MachRpcReply<TReply>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Activity? _activity = StartCallActivity(TRequest.MsgId);
        private ReplyWaiter? _waiter;
        private CancellationTokenRegistration _registration;
        private Timer? _timer;
        private bool _timedOut;
        private volatile bool _done;

        public Task<MachRpcReply<TReply>> Task => _completion.Task;

        public override MachTrailerElements TrailerElements =>
            TReply.TrailerElements < MachTrailerElements.Audit ? MachTrailerElements.Audit : TReply.TrailerElements;

        /// <summary>Starts the cancellation and the receive timeout, once the call is waiting.</summary>
        public void Arm(ReplyWaiter waiter, CallTimeouts timeouts)
        {
            _waiter = waiter;
            _registration = cancellationToken.Register(static state => ((AsyncCall<TRequest, TReply>)state!).Abort(timedOut: false), this);
            if (timeouts.ReceiveMilliseconds is uint ms)
            {
                _timer = new Timer(static state => ((AsyncCall<TRequest, TReply>)state!).Abort(timedOut: true), this, ms, Timeout.Infinite);
            }
            if (_done)
            {
                StopTriggers(); // the reply beat the arming
            }
        }

        private void Abort(bool timedOut)
        {
            if (TryClaimForAbort())
            {
                _timedOut = timedOut;
                _waiter!.Abort();
            }
        }

        public override unsafe void Replied(MachMsgHeader* message, int bufferSize)
        {
            TReply reply = default;
            AuditToken sender = default;
            MachRpcResult result = Interpret<TRequest, TReply>(message, bufferSize, ref reply, ref sender);
            Finish(result, reply, sender);
        }

        public override void Aborted()
        {
            // As after a timeout: the reply may still come, so the port goes (MIG's rule), and whatever is queued on it.
            client.TryReplaceReplyPort(out _);
            var result = new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)(_timedOut ? MachMsgReturn.RcvTimedOut : MachMsgReturn.RcvInterrupted));
            Finish(result, default, default, cancelled: !_timedOut);
        }

        public override void Failed(MachMsgReturn code)
        {
            client.TryReplaceReplyPort(out _);
            Finish(new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)code), default, default);
        }

        public void Finish(MachRpcResult result, TReply reply, AuditToken sender, bool cancelled = false)
        {
            _done = true;
            StopTriggers();
            EndCallActivity(_activity, result, sender);
            client.EndCall(); // before the task completes: its continuation may call again
            if (cancelled)
            {
                _completion.TrySetCanceled(cancellationToken);
            }
            else if (result.IsSuccess)
            {
                _completion.TrySetResult(new MachRpcReply<TReply>(reply, sender));
            }
            else
            {
                _completion.TrySetException(Failure<TRequest, TReply>(result));
            }
        }

        private void StopTriggers()
        {
            _registration.Dispose();
            _timer?.Dispose();
        }
    }

    private void BeginCall()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("a call on this MachRpcClient is already running: use one client per concurrent caller");
        }
    }

    private void EndCall() => Volatile.Write(ref _busy, 0);

    /// <summary>Copies the request into the buffer and checks it; returns the size to send.</summary>
    private uint Stage<TRequest, TReply>(in TRequest request)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        int size = Math.Max(Math.Max(TRequest.SendSize, TReply.ReceiveBufferSize), MigReplyError.SizeOf + MachTrailerRequest.MaxSize);
        EnsureBuffer(size);
        Unsafe.WriteUnaligned(_buffer, request);
        var header = (MachMsgHeader*)_buffer;
        if (header->LocalDisposition != MachMsgType.MakeSendOnce)
        {
            throw new ArgumentException("The request must be prepared and declare Local = MachMsgType.MakeSendOnce.", nameof(request));
        }
        // A variable-length request goes out at its msgh_size, as its generated Send would send it.
        uint sendSize = header->Size;
        if (sendSize < TRequest.MinSize || sendSize > TRequest.SendSize || (sendSize & 3) != 0)
        {
            throw new ArgumentException($"msgh_size {sendSize} is not a size of {typeof(TRequest).Name}.", nameof(request));
        }
        return sendSize;
    }

    private MachRpcResult Invoke<TRequest, TReply>(uint sendSize, CallTimeouts timeouts, out TReply reply, out AuditToken sender)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        reply = default;
        sender = default;
        Activity? activity = StartCallActivity(TRequest.MsgId);
        MachRpcResult result = Exchange<TRequest, TReply>(sendSize, timeouts, ref reply, ref sender);
        EndCallActivity(activity, result, sender);
        return result;
    }

    /// <summary>A <c>machipc.call</c> activity, or null without listeners; it does not become <see cref="Activity.Current"/>.</summary>
    private static Activity? StartCallActivity(int msgId)
    {
        if (!MachTelemetry.Source.HasListeners())
        {
            return null;
        }
        Activity? previous = Activity.Current;
        Activity? activity = MachTelemetry.Source.StartActivity("machipc.call", ActivityKind.Client);
        activity?.SetTag(MachTelemetry.MsghIdTag, msgId);
        Activity.Current = previous; // an async call ends on another thread; the caller's current activity stays its own
        return activity;
    }

    private static void EndCallActivity(Activity? activity, MachRpcResult result, AuditToken sender)
    {
        if (activity is null)
        {
            return;
        }
        if (result.IsSuccess)
        {
            activity.SetTag(MachTelemetry.SenderPidTag, sender.Pid);
        }
        else
        {
            activity.SetTag(MachTelemetry.ReasonTag, result.Status == MachRpcStatus.InvalidReply ? MachValidation.Describe(result.ValidationError) : result.Error.Name);
            activity.SetStatus(ActivityStatusCode.Error, result.ToString());
        }
        activity.Dispose();
    }

    /// <summary>Fills in the server and reply ports of the staged request; false with the reason when no reply port can be made.</summary>
    private bool TryAddress(out MachRpcResult noPort)
    {
        noPort = default;
        if (_replyPort is null && !TryReplaceReplyPort(out noPort))
        {
            return false;
        }
        var header = (MachMsgHeader*)_buffer;
        header->RemotePort = _server.Name;
        header->LocalPort = _replyPort!.Name;
        return true;
    }

    private MachRpcResult Exchange<TRequest, TReply>(uint sendSize, CallTimeouts timeouts, ref TReply reply, ref AuditToken sender)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        if (!TryAddress(out MachRpcResult noPort))
        {
            return noPort;
        }
        var header = (MachMsgHeader*)_buffer;
        // Ask for the audit trailer at least, so the caller learns who answered.
        var elements = TReply.TrailerElements < MachTrailerElements.Audit ? MachTrailerElements.Audit : TReply.TrailerElements;
        var receiveOptions = MachMsgOption.RcvMsg | MachTrailerRequest.Option(elements);
        var mr = timeouts.Exchange(header, sendSize, (uint)_bufferSize, _replyPort!.Name, receiveOptions);
        return mr == MachMsgReturn.Success ? Interpret<TRequest, TReply>(header, _bufferSize, ref reply, ref sender) : AfterFailure(header, mr);
    }

    /// <summary>The send half alone (<see cref="CallAsync{TRequest, TReply}"/>): success once the request is queued.</summary>
    private MachRpcResult SendRequest(uint sendSize, CallTimeouts timeouts)
    {
        if (!TryAddress(out MachRpcResult noPort))
        {
            return noPort;
        }
        var header = (MachMsgHeader*)_buffer;
        MachMsgReturn mr = timeouts.Send(header, sendSize);
        return mr == MachMsgReturn.Success ? default : AfterFailure(header, mr);
    }

    /// <summary>What a failed <c>mach_msg</c> of a call leaves: the request's rights released, the reply port kept or replaced.</summary>
    private MachRpcResult AfterFailure(MachMsgHeader* header, MachMsgReturn mr)
    {
        MachMsgReturn code = mr.WithoutResourceBits();
        if (((int)code & 0x4000) == 0)
        {
            // A send error (B6: the receive never ran). After a send that gave up after copyin the kernel
            // pseudo-received the request, its rights and our reply right included, back into our buffer (I2).
            if (mr.IsPseudoReceived())
            {
                ReceivedMessage.DestroyUnsent(header);
            }
            // MIG keeps the reply port only after MACH_SEND_INVALID_DATA / INVALID_DEST / INVALID_HEADER, where
            // nothing was copied in (migcom user.c WriteOneMachErrorDefine: mig_put_reply_port); after any other
            // send error the kernel may have destroyed the reply right, which queues a send-once notification on
            // the port (kernel-semantics A31, I3), so the port is replaced (mig_dealloc_reply_port).
            if (code is not (MachMsgReturn.SendInvalidData or MachMsgReturn.SendInvalidDest or MachMsgReturn.SendInvalidHeader))
            {
                TryReplaceReplyPort(out _);
            }
            return new MachRpcResult(MachRpcStatus.SendFailed, (int)mr);
        }
        // The request went out; a late reply may still arrive on this port. Never reuse it.
        TryReplaceReplyPort(out _);
        return new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)mr);
    }

    /// <summary>Reads a received reply: a send-once notification, a MIG error or the reply itself; anything else is destroyed.</summary>
    private static MachRpcResult Interpret<TRequest, TReply>(MachMsgHeader* header, int bufferSize, ref TReply reply, ref AuditToken sender)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        var received = new ReadOnlySpan<byte>(header, bufferSize);
        if (header->Id == MachNotify.SendOnce && header->Size == MachSendOnceNotification.SizeOf && ReceivedMessage.IsFromKernel(header, bufferSize))
        {
            // The server destroyed our send-once reply right without answering: the kernel told us so. MIG
            // clients report this as MIG_SERVER_DIED.
            return new MachRpcResult(MachRpcStatus.RemoteError, (int)MigReturn.ServerDied);
        }
        if (header->Id == TRequest.MsgId + MigReplyError.ReplyIdOffset && header->Size == MigReplyError.SizeOf && !header->IsComplex)
        {
            int retCode = ((MigReplyError*)header)->RetCode;
            ReceivedMessage.Destroy(header);
            return new MachRpcResult(MachRpcStatus.RemoteError, retCode);
        }
        var error = TReply.TryRead(received, out var view);
        if (error != MachValidationError.None)
        {
            ReceivedMessage.Destroy(header);
            return new MachRpcResult(MachRpcStatus.InvalidReply, (int)MigReturn.ReplyMismatch, error);
        }
        reply = view.Message;
        sender = view.AuditToken ?? default;
        return new MachRpcResult(MachRpcStatus.Success, 0);
    }

    private static MachException Failure<TRequest, TReply>(MachRpcResult reason) =>
        new($"{typeof(TRequest).Name} → {typeof(TReply).Name} call ({(reason.Status == MachRpcStatus.InvalidReply ? reason.ToString() : reason.Status.ToString())})", reason.Error);

    private void EnsureBuffer(int size)
    {
        if (_bufferSize >= size)
        {
            return;
        }
        NativeMemory.AlignedFree(_buffer);
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
        _bufferSize = size;
    }

    private bool TryReplaceReplyPort(out MachRpcResult reason)
    {
        // Destroying the old port destroys whatever is queued on it (and takes it out of the wait set). If no new one
        // can be made (the kernel host of a joined process is gone), the call says so in its result.
        ReceiveRight? old = _replyPort;
        KernReturn kr = ReceiveRight.TryAllocateReplyPort(out _replyPort);
        old?.Dispose();
        reason = new MachRpcResult(MachRpcStatus.SendFailed, (int)kr);
        return kr == KernReturn.Success;
    }

    /// <summary>Releases the reply port, the server right and the buffer. Not while a call is running.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        if (Volatile.Read(ref _busy) != 0)
        {
            throw new InvalidOperationException("a call on this MachRpcClient is still running: cancel it and wait for it first");
        }
        _disposed = true;
        using var _ = _owner.Enter();
        _replyPort?.Dispose();
        _replyPort = null;
        _server.Dispose();
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferSize = 0;
    }

    /// <summary>A timeout as <c>mach_msg</c> takes it: milliseconds, and whether the *_TIMEOUT option bounds the wait.</summary>
    internal static (uint Milliseconds, bool Bounded) ToMachTimeout(TimeSpan timeout, string parameter)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return (MachMsgTimeout.None, false); // MACH_MSG_TIMEOUT_NONE without the *_TIMEOUT option: wait forever
        }
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(parameter, timeout, "A timeout is zero or more, or Timeout.InfiniteTimeSpan.");
        }
        // Round up: a sub-millisecond timeout must wait, not become 0 (which means "do not wait at all").
        long ms = (timeout.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
        if (ms > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(parameter, timeout, "mach_msg waits at most 2^32 - 1 ms.");
        }
        return ((uint)ms, true);
    }

    /// <summary>
    /// A call's send and receive timeouts as <c>mach_msg</c> takes them. One <c>mach_msg</c> has one timeout for both
    /// halves (osfmk/ipc/mach_msg.c mach_msg_trap), each bounded only when its *_TIMEOUT option is set; so the common
    /// case, a send timeout no longer than the receive timeout, is one combined call bounded by the send timeout, whose
    /// receive, if it times out, continues for the rest of the receive timeout.
    /// </summary>
    internal readonly struct CallTimeouts
    {
        private readonly uint _send;
        private readonly uint _receive;
        private readonly bool _sendBounded;
        private readonly bool _receiveBounded;

        public CallTimeouts(TimeSpan? send, TimeSpan? receive)
        {
            (_send, _sendBounded) = ToMachTimeout(send ?? DefaultSendTimeout, "sendTimeout");
            (_receive, _receiveBounded) = ToMachTimeout(receive ?? DefaultReceiveTimeout, "receiveTimeout");
        }

        /// <summary>The receive timeout in milliseconds, or null when the receive waits forever.</summary>
        public uint? ReceiveMilliseconds => _receiveBounded ? _receive : null;

        /// <summary>The send alone, bounded by the send timeout.</summary>
        public MachMsgReturn Send(MachMsgHeader* header, uint sendSize) =>
            Mach.Msg(header, MachMsgOption.SendMsg | (_sendBounded ? MachMsgOption.SendTimeout : 0), sendSize, 0, MachPortName.Null,
                     _sendBounded ? _send : MachMsgTimeout.None, MachPortName.Null);

        public MachMsgReturn Exchange(MachMsgHeader* header, uint sendSize, uint bufferSize, uint receiveName, MachMsgOption receiveOptions)
        {
            if (_sendBounded && _receiveBounded && _send > _receive)
            {
                // The rare longer send timeout: the send and the receive as two calls, each with its own timeout.
                var sent = Mach.Msg(header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, sendSize, 0, MachPortName.Null, _send, MachPortName.Null);
                return sent != MachMsgReturn.Success ? sent
                     : Mach.Msg(header, receiveOptions | MachMsgOption.RcvTimeout, 0, bufferSize, receiveName, _receive, MachPortName.Null);
            }
            var options = MachMsgOption.SendMsg | receiveOptions
                          | (_sendBounded ? MachMsgOption.SendTimeout : 0) | (_receiveBounded ? MachMsgOption.RcvTimeout : 0);
            uint timeout = _sendBounded ? _send : _receive;
            var mr = Mach.Msg(header, options, sendSize, bufferSize, receiveName, timeout, MachPortName.Null);
            if (mr == MachMsgReturn.RcvTimedOut && _sendBounded && _receiveBounded && _receive > _send)
            {
                mr = Mach.Msg(header, receiveOptions | MachMsgOption.RcvTimeout, 0, bufferSize, receiveName, _receive - _send, MachPortName.Null);
            }
            return mr;
        }
    }
}
