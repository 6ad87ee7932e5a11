using System;
using System.Text;
using MachIpc.Abi;
using MachIpc.Behaviour;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using Microsoft.Win32.SafeHandles;

// The behaviour suite's other task. It inherits its parent's kernel through Mach.ConfigureChild, so it runs on the
// parent's backend. Modes:
//   send-note <service> <value>   look up <service>, send a Note, print "sent on <its backend>"
//   read-file <inbox>             register an inbox, print "ready", receive a FileAttachment, print "text <contents>"
//   channel <inbox>               register an inbox, print "ready", receive a ChannelTransfer, read two Notes from it,
//                                 answer with their sum on it, print "ok"
try
{
    return args[0] switch
    {
        "send-note" => SendNote(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
        "read-file" => ReadFile(args[1]),
        "channel" => Channel(args[1]),
        _ => 2,
    };
}
catch (Exception ex)
{
    Console.WriteLine("error " + ex.ToString().ReplaceLineEndings(" | "));
    return 1;
}

static int SendNote(string service, int value)
{
    using SendRight send = BootstrapServer.LookUp(service);
    var note = new Note { Value = value };
    note.Prepare(send.Name);
    MachMsgReturn mr = note.Send();
    Console.WriteLine(mr == MachMsgReturn.Success ? "sent on " + Mach.Backend : "send " + mr);
    return mr == MachMsgReturn.Success ? 0 : 1;
}

static ReceiveRight Inbox(string name)
{
    var inbox = ReceiveRight.Allocate();
    using (SendRight send = inbox.MakeSend())
    {
        BootstrapServer.Register(name, send);
    }
    Console.WriteLine("ready");
    return inbox;
}

static unsafe int ReadFile(string name)
{
    using ReceiveRight inbox = Inbox(name);
    Span<byte> buffer = stackalloc byte[FileAttachment.ReceiveBufferSize];
    Check(FileAttachment.Receive(inbox.Name, buffer, MachMsgOption.RcvTimeout, 30_000), "receive");
    if (FileAttachment.TryRead(buffer, out var received) is var error && error != MachValidationError.None)
    {
        throw new InvalidOperationException("invalid attachment: " + error);
    }
    using SendRight port = SendRight.Adopt(received.Message.Fileport.Name);
    using var handle = new SafeFileHandle(Fileport.MakeFd(port), ownsHandle: true);
    var bytes = new byte[256];
    int n = System.IO.RandomAccess.Read(handle, bytes, 0);
    Console.WriteLine("text " + Encoding.UTF8.GetString(bytes, 0, n));
    return 0;
}

static int Channel(string name)
{
    using ReceiveRight inbox = Inbox(name);
    Span<byte> buffer = stackalloc byte[ChannelTransfer.ReceiveBufferSize];
    Check(ChannelTransfer.Receive(inbox.Name, buffer, MachMsgOption.RcvTimeout, 30_000), "receive transfer");
    if (ChannelTransfer.TryRead(buffer, out var transfer) is var error && error != MachValidationError.None)
    {
        throw new InvalidOperationException("invalid transfer: " + error);
    }
    using var channel = new MachChannel(ReceiveRight.Adopt(transfer.Message.Inbound.Name), SendRight.Adopt(transfer.Message.Outbound.Name));
    int sum = 0;
    Span<byte> noteBuffer = stackalloc byte[Note.ReceiveBufferSize];
    for (int i = 0; i < 2; i++)
    {
        Check(Note.Receive(channel.Receive.Name, noteBuffer, MachMsgOption.RcvTimeout, 30_000), "receive note");
        if (Note.TryRead(noteBuffer, out var note) != MachValidationError.None)
        {
            throw new InvalidOperationException("invalid note");
        }
        sum += note.Message.Value;
    }
    var answer = new Note { Value = sum };
    answer.Prepare(channel.Send.Name);
    Check(answer.Send(), "send answer");
    Console.WriteLine("ok");
    return 0;
}

static void Check(MachMsgReturn mr, string what)
{
    if (mr != MachMsgReturn.Success)
    {
        throw new MachException(what, mr);
    }
}
