using System;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Samples.ConnectionPatterns;

/// <summary>A request: the caller's reply port goes as a send-once right.</summary>
[MachMessage(3000, Local = MachMsgType.MakeSendOnce)]
public partial struct Ping
{
    public MachMsgHeader Header;
    public int Value;
}

/// <summary>The answer: <c>Value + 1</c>, on the request's send-once right.</summary>
[MachMessage(3100, Remote = MachMsgType.MoveSendOnce)]
public partial struct Pong
{
    public MachMsgHeader Header;
    public int Value;
}

/// <summary>
/// Answers pings from one process only: the one whose pid the kernel's audit token names, which this side learnt
/// from something it trusts (a socket's peer credentials, or its parent). A ping from anyone else is refused with
/// a MIG error and counted.
/// </summary>
[MachServer]
public partial class PingServer(int callerPid, int expected)
{
    private int _answered;
    private readonly ManualResetEventSlim _done = new();

    /// <summary>Pings refused because they came from another process.</summary>
    public int Refused { get; private set; }

    /// <summary>Waits until <c>expected</c> pings have been answered.</summary>
    public bool WaitForAll(TimeSpan timeout) => _done.Wait(timeout);

    private void OnPing(MachReceived<Ping> request)
    {
        if (request.SenderPid != callerPid)
        {
            Refused++;
            request.ReplyError((int)KernReturn.Failure);
            return;
        }
        var pong = new Pong { Value = request.Message.Value + 1 };
        pong.Prepare(MachPortName.Null);
        MachMsgReturn sent = request.Reply(ref pong);
        if (sent != MachMsgReturn.Success) throw new MachException("reply", sent);
        if (Interlocked.Increment(ref _answered) == expected) _done.Set();
    }
}
