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
/// <c>MAKE_SEND_ONCE</c> reply port and a timeout. A reply port that might still receive a late reply (after a
/// timeout) is destroyed and replaced, never reused. Not thread-safe: use one client per thread.
/// </summary>
public sealed unsafe class MachRpcClient : IDisposable
{
    private readonly SendRight _server;
    private ReceiveRight _replyPort;
    private byte* _buffer;
    private int _bufferSize;

    /// <summary>Creates a client for <paramref name="server"/>; the client takes ownership of the right.</summary>
    public MachRpcClient(SendRight server)
    {
        ArgumentNullException.ThrowIfNull(server);
        _server = server;
        _replyPort = ReceiveRight.Allocate();
    }

    /// <summary>The server's send right.</summary>
    public SendRight Server => _server;

    /// <summary>The current reply port (replaced after a call that may still receive a late reply).</summary>
    public uint ReplyPort => _replyPort.Name;

    /// <summary>
    /// Sends <paramref name="request"/> (prepared with its generated <c>Prepare</c>, which must declare
    /// <c>Local = MakeSendOnce</c>; the client fills in the destination and reply ports) and waits up to
    /// <paramref name="timeoutMs"/> for a <typeparamref name="TReply"/>. On success the caller owns the
    /// rights and out-of-line memory in <paramref name="reply"/>; otherwise anything that arrived was destroyed.
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
        header->RemotePort = _server.Name;
        header->LocalPort = _replyPort.Name;

        // Ask for the audit trailer at least, so the caller learns who answered.
        var elements = TReply.TrailerElements < MachTrailerElements.Audit ? MachTrailerElements.Audit : TReply.TrailerElements;
        var options = MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout
                      | MachTrailerRequest.Option(elements);
        var mr = Mach.Msg(header, options, (uint)TRequest.SendSize, (uint)_bufferSize, _replyPort.Name, timeoutMs, MachPortName.Null);
        if (mr != MachMsgReturn.Success)
        {
            if (((int)mr & 0x4000) == 0)
            {
                // A send error (B6: the receive never ran). After a send timeout the kernel pseudo-received the
                // request's rights back into our buffer (A36); release them there.
                if (mr.IsPseudoReceived())
                {
                    ReceivedMessage.DestroyUnsent(header);
                }
                return new MachRpcResult(MachRpcStatus.SendFailed, (int)mr);
            }
            // The request went out; a late reply may still arrive on this port. Never reuse it.
            ReplaceReplyPort();
            return new MachRpcResult(MachRpcStatus.ReceiveFailed, (int)mr);
        }

        var received = new ReadOnlySpan<byte>(_buffer, _bufferSize);
        if (header->Id == MachNotify.SendOnce && header->Size == MachSendOnceNotification.SizeOf && KernelSender.IsKernel(header, _bufferSize))
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
        var old = _replyPort;
        _replyPort = ReceiveRight.Allocate();
        old.Dispose();
    }

    /// <summary>Releases the reply port, the server right and the buffer.</summary>
    public void Dispose()
    {
        _replyPort.Dispose();
        _server.Dispose();
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferSize = 0;
    }
}
