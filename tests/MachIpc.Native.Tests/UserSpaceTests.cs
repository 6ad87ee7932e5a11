using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Native.Tests;

/// <summary>
/// libsyscall's user-space parts as the library does them (xnu-11417.101.15 libsyscall/mach/mach_msg.c), seen from a
/// scripted kernel host: exactly which traps and calls reach the kernel.
/// </summary>
public sealed class UserSpaceTests
{
    private const uint MsgOp = 2;
    private const uint SendInterrupted = 0x10000007, RcvInterrupted = 0x10004005;

    private static Dictionary<string, string> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(' ', StringComparison.Ordinal) && !l.StartsWith("machipc:", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(' ', StringComparison.Ordinal)], l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..]);

    private static (int Code, string Output) RunProbe(string mode, string? socket) =>
        Shim.Run(Shim.Probe, [mode], new Dictionary<string, string?> { ["MACHIPC_KERNEL_SOCKET"] = socket });

    [Fact]
    public void MachMsg_RetriesInterruptedTraps_UnlessTheCallerAskedToSeeThem()
    {
        var results = new Queue<uint>([SendInterrupted, RcvInterrupted, 0, SendInterrupted, RcvInterrupted]);
        using var host = new ScriptedHost(r => r.Op == MsgOp ? ScriptedHost.Words(results.Dequeue(), 0, 0, 0) : null);
        var (code, output) = RunProbe("retry", host.SocketPath);
        Assert.True(code == 0, output);
        var lines = Lines(output);
        Assert.Equal("0x0", lines["plain"]);
        Assert.Equal("0x10000007", lines["send_interrupt"]);
        Assert.Equal("0x10004005", lines["rcv_interrupt"]);

        // option, send_size, rcv_size, rcv_name of each trap.
        var traps = host.Requests.Select(r => (Option: r.U32(0), SendSize: r.U32(1), RcvSize: r.U32(2), RcvName: r.U32(3))).ToList();
        Assert.Equal(5, traps.Count);
        Assert.Equal((3u, 24u, 128u, 0x1307u), traps[0]);   // MACH_SEND_MSG | MACH_RCV_MSG
        Assert.Equal(traps[0], traps[1]);                     // :120-131 the send again, as it was
        Assert.Equal((2u, 0u, 128u, 0x1307u), traps[2]);   // :133-144 then a receive only, send size 0
        Assert.Equal(3u, traps[3].Option);                    // :106 MACH_SEND_INTERRUPT never reaches the trap ...
        Assert.Equal(3u, traps[4].Option);                    // ... nor MACH_RCV_INTERRUPT; no retries for either
    }

    [Fact]
    public void MachMsgDestroy_ReleasesByReceivedType_FreesOnlyDeallocatableMemory_SkipsVolatileAndTheLocalPort()
    {
        using var host = new ScriptedHost(r => r.Op == 8 ? ScriptedHost.Words(0, 0x4444, 18) : ScriptedHost.Words(0));
        var (code, output) = RunProbe("destroy", host.SocketPath);
        Assert.True(code == 0, output);
        var lines = Lines(output);
        Assert.Equal("0x103", lines["self"]);
        ulong freed = ulong.Parse(lines["freed"], System.Globalization.CultureInfo.InvariantCulture);
        ulong names = ulong.Parse(lines["names"], System.Globalization.CultureInfo.InvariantCulture);

        string Describe(Request r) => r.Op switch
        {
            4 => $"deallocate 0x{r.U32(1):x}",
            6 => $"mod_refs 0x{r.U32(1):x} right {r.U32(2)} delta {(int)r.U32(3)}",
            7 => $"insert_right 0x{r.U32(1):x} 0x{r.U32(2):x} {r.U32(3)}",
            8 => $"extract_right 0x{r.U32(1):x} {r.U32(2)}",
            17 => $"vm_deallocate {(r.U64At(4) == freed ? "freed" : r.U64At(4) == names ? "names" : r.U64At(4).ToString(System.Globalization.CultureInfo.InvariantCulture))} {r.U64At(12)}",
            _ => r.ToString(),
        };
        Assert.All(host.Requests, r => Assert.Equal(ScriptedHost.Self, r.U32(0))); // every call names mach_task_self_
        Assert.Equal(
        [
            "deallocate 0x1111",                 // :401 remote, MOVE_SEND
            "deallocate 0x5555",                 // :402 voucher, MOVE_SEND (local 0x9999 untouched, :396-399)
            "mod_refs 0x1212 right 1 delta -1",  // :342-345 MOVE_RECEIVE
            "vm_deallocate freed 200",           // :434 deallocate set (the 100 bytes without it stay, :433)
                                                 // :442-451 the volatile region is skipped
            "insert_right 0x2221 0x2221 20",     // :348-352 MAKE_SEND in an OOL port array: make, then release
            "deallocate 0x2221",
            "insert_right 0x2222 0x2222 20",
            "deallocate 0x2222",
            "vm_deallocate names 8",             // :470-473 the array itself
                                                 // MACH_PORT_DEAD is not a valid name: nothing (:334)
            "extract_right 0x3333 21",           // :355-360 MAKE_SEND_ONCE: make one, then release it
            "deallocate 0x4444",
        ], host.Requests.Select(Describe).ToList());
    }

    [Fact]
    public void AfterTheHostHangsUp_EveryCallFailsFast_WithTheDocumentedResult()
    {
        using var host = new ScriptedHost(_ => null);
        var (code, output) = RunProbe("lost", host.SocketPath);
        Assert.True(code == 0, output);
        var lines = Lines(output);
        Assert.Equal("0x10000003", lines["send"]);          // MACH_SEND_INVALID_DEST
        Assert.Equal("0x10004006", lines["receive"]);       // MACH_RCV_PORT_CHANGED
        Assert.Equal("16", lines["allocate"]);              // KERN_INVALID_TASK
        Assert.Equal("16", lines["special"]);
        Assert.Equal("5 -1", lines["pid_for_task"]);        // KERN_FAILURE, pid -1
        Assert.Equal("0x10000003", lines["look_up"]);
        Assert.Equal("-1 32", lines["fileport"]);           // EPIPE
        Assert.Equal("0", lines["vm_deallocate"]);          // the caller's own task: the local copy is freed
        Assert.Contains("machipc: lost the kernel host", output, StringComparison.Ordinal);
    }

    [Fact]
    public void BeforeJoining_DataSymbolsAreNull_AndCallsFail_ThenAnExplicitJoinWorks_OnceAndForOneHost()
    {
        var (code, output) = Shim.Run(Shim.Probe, ["unjoined", SimulatedMach.ShareWithChildren()]);
        Assert.True(code == 0, output);
        var lines = Lines(output);
        Assert.Equal("0x0 bootstrap 0x0", lines["self"]);
        Assert.Equal("16", lines["allocate"]);        // KERN_INVALID_TASK
        Assert.Equal("0x10000003", lines["send"]);    // MACH_SEND_INVALID_DEST
        Assert.Contains("has not joined a kernel host", output, StringComparison.Ordinal);
        Assert.Equal("0", lines["join"]);
        Assert.Equal("1 0", lines["joined"]);         // data symbols set, calls served
        Assert.Equal("0", lines["again"]);            // the same host again: nothing to do
        Assert.Equal("-1 1", lines["other"]);         // another host: EISCONN
    }

    [Fact]
    public void AForkedChild_IsItsOwnTask_AndItsParentsTaskSurvivesIt()
    {
        // The simulated kernel of this test process serves the probe (Linux: SO_PEERCRED gives each process its task).
        string socket = SimulatedMach.ShareWithChildren();
        var (code, output) = RunProbe("fork", socket);
        Assert.True(code == 0, output);
        var lines = Lines(output);
        Assert.Equal("0", lines["child"]);       // pid_for_task(mach_task_self()) in the child is the child's pid
        Assert.Equal("0 1", lines["parent"]);    // and the parent is still its own task afterwards
    }
}
