using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Client;

/// <summary>
/// Request/reply calls to a server in one combined <c>mach_msg</c> (send + receive, as MIG clients do), with a
/// <c>MAKE_SEND_ONCE</c> reply port (<see cref="ReceiveRight.AllocateReplyPort"/>) and a timeout. A reply port that
/// might still receive something from a failed call (a late reply, or the send-once notification of a reply right
/// the kernel destroyed) is destroyed and replaced, never reused, by MIG's rule. Every outcome is a
/// <see cref="MachRpcResult"/>, kernel failures included. Not thread-safe: use one client per thread.
/// </summary>
public sealed unsafe class MachRpcClient : IDisposable
{
    private readonly SendRight _server;
    private ReceiveRight? _replyPort;
    private byte* _buffer;
    private int _bufferSize;

    /// <summary>Creates a client for <paramref name="server"/>; the client takes ownership of the right.</summary>
    public MachRpcClient(SendRight server)
    {
        ArgumentNullException.ThrowIfNull(server);
        _server = server;
        ReceiveRight.TryAllocateReplyPort(out _replyPort); // a failure is reported by the first Call
    }

    /// <summary>The server's send right.</summary>
    public SendRight Server => _server;

    /// <summary>The current reply port (replaced after a call that may have left something on it; 0 while none could be made).</summary>
    public uint ReplyPort => _replyPort?.Name ?? MachPortName.Null;

    /// <summary>
    /// Sends <paramref name="request"/> (prepared with its generated <c>Prepare</c>, which must declare
    /// <c>Local = MakeSendOnce</c>; the client fills in the destination and reply ports) and waits up to
    /// <paramref name="timeoutMs"/> for a <typeparamref name="TReply"/>. On success the caller owns the
    /// rights and out-of-line memory in <paramref name="reply"/>; otherwise anything that arrived was destroyed.
    /// The rights the request carried go as after any <c>mach_msg</c> send: with the message, or, after a send that
    /// timed out (pseudo-received), destroyed here.
    /// </summary>
    public MachRpcResult Call<TRequest, TReply>(in TRequest request, out TReply reply, out AuditToken sender, uint timeoutMs = 5000)
        where TRequest : unmanaged, IMachMessage<TRequest>
        where TReply : unmanaged, IMachMessage<TReply>
    {
        reply = default;
        sender = default;
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
        if (_replyPort is null)
        {
            KernReturn kr = ReceiveRight.TryAllocateReplyPort(out _replyPort);
            if (kr != KernReturn.Success)
            {
                return new MachRpcResult(MachRpcStatus.SendFailed, (int)kr);
            }
        }
        header->RemotePort = _server.Name;
        header->LocalPort = _replyPort!.Name;

        // Ask for the audit trailer at least, so the caller learns who answered.
        var elements = TReply.TrailerElements < MachTrailerElements.Audit ? MachTrailerElements.Audit : TReply.TrailerElements;
        var options = MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout
                      | MachTrailerRequest.Option(elements);
        var mr = Mach.Msg(header, options, sendSize, (uint)_bufferSize, _replyPort.Name, timeoutMs, MachPortName.Null);
        if (mr != MachMsgReturn.Success)
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
                    ReplaceReplyPort();
                }
                return new MachRpcResult(MachRpcStatus.SendFailed, (int)mr);
            }
            // The request went out; a late reply may still arrive on this port. Never reuse it.
            ReplaceReplyPort();
            return new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)mr);
        }

        var received = new ReadOnlySpan<byte>(_buffer, _bufferSize);
        if (header->Id == MachNotify.SendOnce && header->Size == MachSendOnceNotification.SizeOf && ReceivedMessage.IsFromKernel(header, _bufferSize))
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

    private void ReplaceReplyPort()
    {
        // Destroying the old port destroys whatever is queued on it. If no new one can be made (the kernel host of a
        // joined process is gone), the next Call says so in its result.
        ReceiveRight? old = _replyPort;
        ReceiveRight.TryAllocateReplyPort(out _replyPort);
        old?.Dispose();
    }

    /// <summary>Releases the reply port, the server right and the buffer.</summary>
    public void Dispose()
    {
        _replyPort?.Dispose();
        _replyPort = null;
        _server.Dispose();
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferSize = 0;
    }
}
