using System.IO;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// The MIG-style C peers (Mig/Peers/) that the cross-language round trips will run against the generated C#, once the
/// native libSystem layer is there to link them, compile warning-free now: on Linux against the Mach declarations
/// written beside them, on a Mac against the SDK's own headers.
/// </summary>
public class MigCPeerTests
{
    [Fact]
    public void TheMachExcPeersCompile() => CProgram.CompileOnly(Path.Combine("Mig", "Peers", "mach_exc_peer.c"));
}
