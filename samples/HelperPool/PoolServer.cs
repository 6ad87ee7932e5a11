using System;
using System.IO;
using System.Text;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;
using Microsoft.Win32.SafeHandles;

namespace MachIpc.Samples.HelperPool;

/// <summary>The parent's handlers for one helper's channel. The generator writes the msgh_id dispatch.</summary>
[MachServer]
public sealed partial class PoolServer
{
    private readonly int _expectedPid;

    public PoolServer(int expectedPid) => _expectedPid = expectedPid;

    public int ForeignSenders { get; private set; }

    public string? FileText { get; private set; }

    private void OnCompute(MachReceived<ComputeRequest> request)
    {
        int pid = request.SenderPid ?? -1;
        if (pid != _expectedPid)
        {
            ForeignSenders++;
        }
        var reply = new ComputeReply
        {
            Result = request.Message.Operand * request.Message.Operand,
            Sequence = request.Message.Sequence,
            SeenPid = pid,
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
        // Take the fileport out of the message: it is ours now, released whatever happens. (Untaken, the server
        // would destroy it when the handler returns.)
        using var fileport = request.TakeSendRight(in request.Message.File);
        int fd = Fileport.MakeFd(fileport);
        string text;
        using (var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read))
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
}
