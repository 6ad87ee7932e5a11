using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Tests.Messages;

// Natural layout with tail padding: 36 bytes of fields, sizeof 40 (8-byte alignment). The kernel puts the trailer at
// round_msg(40) = 40, while a C receiver that declares the trailer as its struct's last member reads it at 36 (the
// README's natural-layout note; the C oracle prints both).
[MachMessage(7300, Layout = MachMessageLayout.Natural)]
public partial struct NaturalTail
{
    public MachMsgHeader Header;
    public ulong Cookie;
    public uint Width;
}
