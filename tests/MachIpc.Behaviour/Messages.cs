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
