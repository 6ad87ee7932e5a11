using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.ProcessHelper;

// Shared by the helper and the tests (linked into MachIpc.Tests). The request/reply protocol is the HelperPool
// sample's (samples/HelperPool/Protocol.cs, linked into both); this adds what the sample does not do.

/// <summary>A message with one out-of-line region, built by hand (msgh_id 5302 request, 5402 reply); packed as in C.</summary>
[StructLayout(LayoutKind.Explicit, Size = 44)]
public struct XOol
{
    public const int RequestId = 5302;
    public const int ReplyId = 5402;
    [FieldOffset(0)] public MachMsgHeader Header;
    [FieldOffset(24)] public MachMsgBody Body;
    [FieldOffset(28)] public MachMsgOolDescriptor Data;
}
