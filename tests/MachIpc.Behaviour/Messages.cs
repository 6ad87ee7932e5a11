using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Behaviour;

// The behaviour suite's messages, shared by the tests and their child process (MachIpc.Behaviour.Peer).
// Ids 0x4D420000.. ("MB").

/// <summary>A value, nothing else.</summary>
[MachMessage(0x4D420001)]
public partial struct Note
{
    public MachMsgHeader Header;
    public int Value;
}

/// <summary>Out-of-line bytes, a send right to answer on, and a checksum of the bytes.</summary>
[MachMessage(0x4D420002)]
public partial struct Parcel
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor ReplyTo;
    [MachOol(MaxSize = 1 << 20, Copy = MachMsgCopy.Virtual)] public MachMsgOolDescriptor Data;
    public int Checksum;
}

/// <summary>Moves one end of a channel to another task.</summary>
[MachMessage(0x4D420003)]
public partial struct ChannelTransfer
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor Inbound;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor Outbound;
}

/// <summary>Carries a file descriptor as a fileport.</summary>
[MachMessage(0x4D420004)]
public partial struct FileAttachment
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor Fileport;
}

public static class Checksums
{
    public static int Of(System.ReadOnlySpan<byte> data)
    {
        int sum = 17;
        foreach (byte b in data)
        {
            sum = unchecked(sum * 31 + b);
        }
        return sum;
    }
}

/// <summary>A request <see cref="EchoServer"/> answers with <see cref="EchoReply"/>.</summary>
[MachMessage(0x4D420010, Local = MachMsgType.MakeSendOnce)]
public partial struct Echo
{
    public MachMsgHeader Header;
    public int Value;
}

/// <summary>The answer to <see cref="Echo"/>: the value plus one, and the sender's pid from the request's audit token.</summary>
[MachMessage(0x4D420074, Remote = MachMsgType.MoveSendOnce)]
public partial struct EchoReply
{
    public MachMsgHeader Header;
    public int Value;
    public int SenderPid;
}

/// <summary>A request <see cref="EchoServer"/> holds (its handler blocks) and never answers.</summary>
[MachMessage(0x4D420011, Local = MachMsgType.MakeSendOnce)]
public partial struct Hold
{
    public MachMsgHeader Header;
}

/// <summary>A request with a send right made from the sender's port; anything else in that descriptor is malformed.</summary>
[MachMessage(0x4D420012, Local = MachMsgType.MakeSendOnce)]
public partial struct PortGift
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Port;
}
