using System;
using System.Net.Sockets;
using System.Threading;
using System.Text;
using MachIpc.Abi;
using MachIpc.Behaviour;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;
using Microsoft.Win32.SafeHandles;

// The behaviour suite's other task. It inherits its parent's kernel through Mach.ConfigureChild, so it runs on the
// parent's backend. Modes:
//   send-note <service> <value>   look up <service>, send a Note, print "sent on <its backend>"
//   read-file <inbox>             register an inbox, print "ready", receive a FileAttachment, print "text <contents>"
//   channel <inbox>               register an inbox, print "ready", receive a ChannelTransfer, read two Notes from it,
//                                 answer with their sum on it, print "ok"
//   serve <service>               serve an EchoServer on <service>, print "ready"; a Hold prints "holding" and waits
//                                 for a stdin line "release"; the line "stop" stops the server, prints "stopped"
//   call <service>                call an EchoServer: an Echo, then a PortGift whose right has the wrong disposition;
//                                 print "ok <reply value> <pid the server saw> <replier's pid> <gift result> <note id>",
//                                 the last the notification that the gift's send-once right was destroyed
//   helper <service>              after a stdin line, check in with a HelperRendezvous; print "refused <why>", or send
//                                 a Note (7) on the channel, receive one and print "ok <its value>"
//   socket-peer <path> <service>  connect to the Unix socket, run a SocketRendezvous, send a Note (7) on the channel,
//                                 receive one and print "ok <its sender's pid>"
try
{
    return args[0] switch
    {
        "send-note" => SendNote(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
        "read-file" => ReadFile(args[1]),
        "channel" => Channel(args[1]),
        "serve" => Serve(args[1]),
        "call" => Call(args[1]),
        "helper" => Helper(args[1]),
        "socket-peer" => SocketPeer(args[1], args[2]),
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

static int Serve(string service)
{
    using var released = new SemaphoreSlim(0);
    var handlers = new EchoServer
    {
        Holding = () =>
        {
            Console.WriteLine("holding");
            released.Wait();
        },
    };
    using MachServer server = MachServer.CheckIn(service, handlers);
    server.Start();
    Console.WriteLine("ready");
    for (string? line; (line = Console.ReadLine()) != "stop";)
    {
        if (line is null)
        {
            return 1;
        }
        released.Release();
    }
    server.Stop();
    Console.WriteLine("stopped");
    return 0;
}

static unsafe int Call(string service)
{
    using var client = new MachRpcClient(BootstrapServer.LookUp(service));
    var echo = new Echo { Value = 41 };
    echo.Prepare(MachPortName.Null, MachPortName.Null);
    client.TryCall<Echo, EchoReply>(echo, out EchoReply reply, out AuditToken replier, out var result, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
    if (!result.IsSuccess)
    {
        throw new InvalidOperationException("echo: " + result);
    }

    // Malformed: a send-once right where the server declares a send right. The server must refuse it and destroy
    // the right, which the kernel reports here with a send-once notification.
    using ReceiveRight mine = ReceiveRight.Allocate();
    var gift = new PortGift();
    gift.Prepare(MachPortName.Null, MachPortName.Null);
    gift.Port.Name = mine.Name;
    gift.Port.Disposition = MachMsgType.MakeSendOnce;
    client.TryCall<PortGift, EchoReply>(gift, out _, out _, out var refused, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
    byte* buffer = stackalloc byte[256];
    var notification = (MachMsgHeader*)buffer;
    Check(Mach.Msg(notification, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, mine.Name, 30_000, MachPortName.Null), "receive notification");
    Mach.MsgDestroy(notification);
    Console.WriteLine($"ok {reply.Value} {reply.SenderPid} {replier.Pid} {refused.Status} {refused.Code} {notification->Id}");
    return 0;
}

static int Helper(string service)
{
    Console.ReadLine();
    MachChannel channel;
    try
    {
        channel = HelperRendezvous.Connect(service, new HelperConnectOptions { Timeout = TimeSpan.FromSeconds(30) });
    }
    catch (MachException ex)
    {
        Console.WriteLine("refused " + ex.Message);
        return 0;
    }
    using (channel)
    {
        Console.WriteLine("ok " + Converse(channel).Value);
    }
    return 0;
}

static int SocketPeer(string path, string service)
{
    using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    socket.Connect(new UnixDomainSocketEndPoint(path));
    using MachChannel channel = SocketRendezvous.Exchange(socket, service, TimeSpan.FromSeconds(30));
    Console.WriteLine("ok " + Converse(channel).SenderPid);
    return 0;
}

// Sends a Note (7) on the channel and returns the one that comes back.
static (int Value, int SenderPid) Converse(MachChannel channel)
{
    var note = new Note { Value = 7 };
    note.Prepare(channel.Send.Name);
    Check(note.Send(), "send note");
    Span<byte> buffer = stackalloc byte[Note.ReceiveBufferSize];
    Check(Note.Receive(channel.Receive.Name, buffer, MachMsgOption.RcvTimeout, 30_000), "receive note");
    if (Note.TryRead(buffer, out var answer) != MachValidationError.None)
    {
        throw new InvalidOperationException("invalid note");
    }
    return (answer.Message.Value, answer.SenderPid ?? -1);
}

static void Check(MachMsgReturn mr, string what)
{
    if (mr != MachMsgReturn.Success)
    {
        throw new MachException(what, mr);
    }
}
