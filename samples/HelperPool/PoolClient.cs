using System;
using System.IO;
using System.Text;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.Samples.HelperPool;

/// <summary>The helper's side of the protocol: request/reply calls to the parent over the channel it was given.</summary>
public sealed class PoolClient : IDisposable
{
    private readonly MachRpcClient _client;
    private readonly int _pid = Mach.CurrentPid;

    /// <summary>Calls the parent through <paramref name="parent"/> (the client owns the right).</summary>
    public PoolClient(SendRight parent) => _client = new MachRpcClient(parent);

    /// <summary>Who answered the last call (from the kernel's audit token of the reply).</summary>
    public AuditToken LastReplier { get; private set; }

    /// <summary>Asks the parent for <paramref name="operand"/> squared; checks the answer and that the parent saw our pid.</summary>
    /// <exception cref="MachException">The call failed or the answer is wrong.</exception>
    public long Compute(long operand, int sequence)
    {
        var request = new ComputeRequest { Operand = operand, Sequence = sequence };
        request.Prepare(MachPortName.Null, MachPortName.Null);
        _client.TryCall<ComputeRequest, ComputeReply>(request, out var reply, out var replier, out var result);
        LastReplier = replier;
        if (!result.IsSuccess || reply.Result != operand * operand || reply.Sequence != sequence || reply.SeenPid != _pid)
        {
            throw new MachException($"compute {sequence}: {result}, result {reply.Result}, the parent saw pid {reply.SeenPid}");
        }
        return reply.Result;
    }

    /// <summary>
    /// Hands the parent an open file holding <paramref name="text"/> as a fileport: the file is closed and deleted here
    /// before the parent reads it through the fileport.
    /// </summary>
    /// <exception cref="MachException">The call failed or the parent read something else.</exception>
    public void PassFile(string text)
    {
        string path = Path.GetTempFileName();
        SendRight fileport;
        try
        {
            File.WriteAllText(path, text);
            using var handle = File.OpenHandle(path);
            fileport = Fileport.MakePort(handle);
        }
        finally
        {
            File.Delete(path);
        }
        var request = new FileRequest();
        request.Prepare(MachPortName.Null, MachPortName.Null);
        request.File.Name = fileport.TakeName(); // MOVE_SEND: the message owns it now
        _client.TryCall<FileRequest, FileReply>(request, out var reply, out var replier, out var result);
        LastReplier = replier;
        if (!result.IsSuccess || reply.BytesRead != Encoding.UTF8.GetByteCount(text))
        {
            throw new MachException($"file passing: {result}, the parent read {reply.BytesRead} bytes");
        }
    }

    /// <summary>Releases the reply port and the right to the parent.</summary>
    public void Dispose() => _client.Dispose();
}
