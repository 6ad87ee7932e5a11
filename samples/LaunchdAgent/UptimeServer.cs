using System;
using System.Diagnostics;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Samples.LaunchdAgent;

[MachMessage(4000, Local = MachMsgType.MakeSendOnce)]
public partial struct UptimeRequest
{
    public MachMsgHeader Header;
}

[MachMessage(4100, Remote = MachMsgType.MoveSendOnce)]
public partial struct UptimeReply
{
    public MachMsgHeader Header;
    public int AgentPid;
    public int Served;
    public long UptimeMs;
}

/// <summary>Answers how long the agent has been up, and tells the agent when it has been idle long enough to exit.</summary>
[MachServer]
public partial class UptimeServer
{
    private readonly Stopwatch _up = Stopwatch.StartNew();
    private readonly AutoResetEvent _activity = new(false);
    private int _served;

    /// <summary>Returns once no request has arrived for <paramref name="idle"/>.</summary>
    public void WaitUntilIdle(TimeSpan idle)
    {
        while (_activity.WaitOne(idle))
        {
        }
    }

    private void OnUptime(MachReceived<UptimeRequest> request)
    {
        _activity.Set();
        var reply = new UptimeReply { AgentPid = Mach.CurrentPid, Served = Interlocked.Increment(ref _served), UptimeMs = _up.ElapsedMilliseconds };
        reply.Prepare(MachPortName.Null);
        MachMsgReturn sent = request.Reply(ref reply);
        if (sent != MachMsgReturn.Success) throw new MachException("reply", sent);
    }
}
