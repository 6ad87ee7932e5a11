using System.Threading;
using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;
using Microsoft.Extensions.Logging;

namespace MachIpc.Samples.HostedService;

// The protocol: two requests, each answered on the send-once reply right the client's MAKE_SEND_ONCE made.

[MachMessage(3000, Local = MachMsgType.MakeSendOnce)]
public partial struct AddRequest
{
    public MachMsgHeader Header;
    public int A;
    public int B;
}

[MachMessage(3100, Remote = MachMsgType.MoveSendOnce)]
public partial struct AddReply
{
    public MachMsgHeader Header;
    public int Sum;
}

[MachMessage(3001, Local = MachMsgType.MakeSendOnce)]
public partial struct CountRequest
{
    public MachMsgHeader Header;
}

[MachMessage(3101, Remote = MachMsgType.MoveSendOnce)]
public partial struct CountReply
{
    public MachMsgHeader Header;
    public int Served;
    /// <summary>The pid the server saw in the request's audit trailer.</summary>
    public int CallerPid;
}

/// <summary>
/// The handlers. The generator writes the msgh_id dispatch; the host constructs this class with its services
/// (here a logger) and serves it on the service name given to AddMachServer.
/// </summary>
[MachServer]
public sealed partial class Greeter(ILogger<Greeter> logger)
{
    private int _served;

    private void OnAdd(MachReceived<AddRequest> request)
    {
        Interlocked.Increment(ref _served);
        var reply = new AddReply { Sum = request.Message.A + request.Message.B };
        reply.Prepare(MachPortName.Null); // Reply fills in the destination: the request's reply right
        Check(request.Reply(ref reply));
    }

    private void OnCount(MachReceived<CountRequest> request)
    {
        int served = Interlocked.Increment(ref _served);
        logger.LogInformation("count asked by pid {Pid}", request.SenderPid);
        var reply = new CountReply { Served = served, CallerPid = request.SenderPid ?? -1 };
        reply.Prepare(MachPortName.Null);
        Check(request.Reply(ref reply));
    }

    // A reply that cannot be sent (the client gave up and destroyed its reply port) fails the handler: the server
    // logs it and counts it.
    private static void Check(MachMsgReturn mr)
    {
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("reply", mr);
        }
    }
}
