using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Fuzz.Messages;

// One message of each shape the generator validates differently: fixed and variable size, simple and complex,
// every descriptor kind, both layouts, and trailers from none to audit.

[MachMessage(7100)]
public partial struct FuzzSimple
{
    public MachMsgHeader Header;
    public int Value;
    public long Stamp;
}

[MachMessage(7101, Local = MachMsgType.MakeSendOnce)]
public partial struct FuzzCarriesAll
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor SendPort;
    [MachPort(MachMsgType.MakeSendOnce)] public MachMsgPortDescriptor SendOncePort;
    [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor ReceivePort;
    [MachOol(MinSize = 1, MaxSize = 4096, Copy = MachMsgCopy.Physical)] public MachMsgOolDescriptor Data;
    [MachOolPorts(MachMsgType.CopySend, MaxCount = 4)] public MachMsgOolPortsDescriptor Ports;
    public int Tag;
}

[MachMessage(7102, Local = MachMsgType.MakeSendOnce, MinSize = 28)]
public unsafe partial struct FuzzVariable
{
    public MachMsgHeader Header;
    public uint Length;
    public fixed byte Text[64];
}

[MachMessage(7103, MinSize = 48, Trailer = MachTrailerElements.Seqno)]
public unsafe partial struct FuzzVariableWithPort
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Port;
    public ulong Cookie;
    public fixed byte Data[32];
}

[MachMessage(7104, Layout = MachMessageLayout.Natural, Trailer = MachTrailerElements.Null)]
public partial struct FuzzNatural
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachOol(MaxSize = 64)] public MachMsgOolDescriptor Blob;
    public byte Flag;
    public ulong Aligned;
}

/// <summary>
/// The generated dispatcher the validators target runs: each handler reads everything a handler can read of a
/// validated message (it takes no right: the target runs no kernel, so whatever would be destroyed stays in the bytes).
/// </summary>
[MachServer]
public sealed partial class FuzzServer
{
    public long Checksum;

    private void OnSimple(MachReceived<FuzzSimple> m) => Read(m.Message.Value + m.Message.Stamp, m.Trailer, m.SenderPid);

    private void OnCarriesAll(MachReceived<FuzzCarriesAll> m) =>
        Read(m.Message.Data.Size + m.Message.Ports.Count + m.Message.Tag, m.Trailer, m.SenderPid);

    private unsafe void OnVariable(MachReceived<FuzzVariable> m) => Read(m.Message.Length + m.Message.Text[0], m.Trailer, m.Seqno);

    private void OnVariableWithPort(MachReceived<FuzzVariableWithPort> m) => Read((long)m.Message.Cookie, m.Trailer, m.Seqno);

    private void OnNatural(MachReceived<FuzzNatural> m) => Read((long)m.Message.Aligned + m.Message.Flag, m.Trailer, m.MessageSize);

    private void Read(long value, System.ReadOnlySpan<byte> trailer, long? extra)
    {
        long sum = value + (extra ?? 0);
        foreach (byte b in trailer)
        {
            sum += b;
        }
        Checksum += sum;
    }
}
