using System;
using System.IO;
using System.Text;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;
using Microsoft.Win32.SafeHandles;

namespace MachIpc.Samples.HelperPool;

/// <summary>The parent's handlers for one helper's channel. The generator writes the msgh_id dispatch.</summary>
/// <param name="helper">The helper's audit token (pid and pid version) from its check-in, or null to accept anyone.</param>
[MachServer]
public sealed partial class PoolServer(AuditToken? helper = null)
{
    private int _requests;
    private int _foreignSenders;

    /// <summary>Requests answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests whose audit token was not the helper's (another process with a send right, or a reused pid).</summary>
    public int ForeignSenders => Volatile.Read(ref _foreignSenders);

    /// <summary>What the last file the helper passed contained.</summary>
    public string? FileText { get; private set; }

    private void OnCompute(MachReceived<ComputeRequest> request)
    {
        Count(request.AuditToken);
        var reply = new ComputeReply
        {
            Result = request.Message.Operand * request.Message.Operand,
            Sequence = request.Message.Sequence,
            SeenPid = request.SenderPid ?? -1,
        };
        reply.Prepare(MachPortName.Null); // Reply fills in the destination: the request's reply right
        var mr = request.Reply(ref reply);
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("compute reply", mr);
        }
    }

    private unsafe void OnFile(MachReceived<FileRequest> request)
    {
        Count(request.AuditToken);
        // Take the fileport out of the message: it is ours now, released whatever happens. (Untaken, the server
        // would destroy it when the handler returns.)
        using var fileport = request.TakeSendRight(in request.Message.File);
        string text;
        using (var stream = new FileStream(new SafeFileHandle(Fileport.MakeFd(fileport), ownsHandle: true), FileAccess.Read))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            text = reader.ReadToEnd();
        }
        FileText = text;
        var reply = new FileReply { BytesRead = Encoding.UTF8.GetByteCount(text) };
        Encoding.UTF8.GetBytes(text.AsSpan(0, Math.Min(text.Length, 64)), new Span<byte>(reply.FirstBytes, 64));
        reply.Prepare(MachPortName.Null);
        var mr = request.Reply(ref reply);
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("file reply", mr);
        }
    }

    private void Count(AuditToken? sender)
    {
        if (helper is { } expected && !expected.Equals(sender ?? default))
        {
            Interlocked.Increment(ref _foreignSenders);
        }
        Interlocked.Increment(ref _requests);
    }
}
