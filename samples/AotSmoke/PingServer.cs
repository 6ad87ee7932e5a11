using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Samples.AotSmoke;

/// <summary>A request that asks for a send-once reply right.</summary>
[MachMessage(7000, Local = MachMsgType.MakeSendOnce)]
public partial struct Ping
{
    /// <summary>The Mach header.</summary>
    public MachMsgHeader Header;
    /// <summary>The number to double.</summary>
    public int Value;
}

/// <summary>The reply, sent on the request's send-once right.</summary>
[MachMessage(7100, Remote = MachMsgType.MoveSendOnce)]
public partial struct Pong
{
    /// <summary>The Mach header.</summary>
    public MachMsgHeader Header;
    /// <summary>Twice the request's value.</summary>
    public int Value;
}

/// <summary>A server whose dispatch (msgh_id switch, validation) the generator writes.</summary>
[MachServer]
public partial class PingServer
{
    /// <summary>Requests answered.</summary>
    public int Pings { get; private set; }

    private void OnPing(MachReceived<Ping> request)
    {
        var reply = new Pong { Value = request.Message.Value * 2 };
        reply.Prepare(request.ReplyPort);
        var mr = reply.Send();
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("reply", mr);
        }
        Pings++;
    }
}
