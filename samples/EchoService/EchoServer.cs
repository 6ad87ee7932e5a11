using System;
using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

[MachMessage(2000, Local = MachMsgType.MakeSendOnce)]      // the client's reply port goes as a send-once right
public partial struct Echo
{
    public MachMsgHeader Header;
    public int Value;
}

[MachMessage(2100, Remote = MachMsgType.MoveSendOnce)]     // the reply consumes that send-once right
public partial struct EchoReply
{
    public MachMsgHeader Header;
    public int Value;
}

[MachServer]                                                // the generator writes the msgh_id switch
public partial class EchoServer
{
    private void OnEcho(MachReceived<Echo> request)
    {
        Console.WriteLine($"server: {request.Message.Value} from pid {request.SenderPid}");
        var reply = new EchoReply { Value = request.Message.Value * 2 };
        reply.Prepare(MachPortName.Null);                   // Reply fills in the destination
        MachMsgReturn sent = request.Reply(ref reply);
        if (sent != MachMsgReturn.Success) throw new MachException("reply", sent);
    }
}
