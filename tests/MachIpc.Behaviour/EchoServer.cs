using System;
using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Behaviour;

/// <summary>
/// The behaviour suite's server (its dispatch is generated), run in the test process or in the peer: it answers
/// <see cref="Echo"/> with the sender's audited pid, blocks in <see cref="Holding"/> on <see cref="Hold"/> without
/// answering, and takes a well-formed <see cref="PortGift"/>'s right.
/// </summary>
[MachServer]
public partial class EchoServer
{
    /// <summary>The audit-token pid of the last <see cref="Echo"/>.</summary>
    public int LastSenderPid { get; private set; }

    /// <summary>Runs on the server thread while a <see cref="Hold"/> is held; the request's reply right dies unanswered after it.</summary>
    public Action? Holding { get; set; }

    private void OnEcho(MachReceived<Echo> request)
    {
        LastSenderPid = request.SenderPid ?? -1;
        var reply = new EchoReply { Value = request.Message.Value + 1, SenderPid = LastSenderPid };
        reply.Prepare(MachPortName.Null);
        MachMsgReturn mr = request.Reply(ref reply);
        if (mr != MachMsgReturn.Success)
        {
            throw new MachException("reply", mr);
        }
    }

    private void OnHold(MachReceived<Hold> request) => Holding?.Invoke();

    private void OnPortGift(MachReceived<PortGift> request)
    {
        // Takes nothing: the server destroys the right and the unanswered reply right.
    }
}
