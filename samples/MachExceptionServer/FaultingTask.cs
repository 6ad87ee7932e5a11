using System;
using MachIpc.Bootstrap;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Mig;
using MachIpc.Ports;

namespace MachIpc.Samples.MachExceptionServer;

/// <summary>
/// Plays the kernel's part: when a thread faults, XNU's exception_deliver sends mach_exception_raise_state_identity
/// (with the thread and task ports, the codes and the thread state) to the task's exception port and waits for the
/// reply. The generated client speaks exactly that wire format. On Linux the raising task is a simulated task of its
/// own (so the handler sees another pid in the audit token); on a Mac it is this process.
/// </summary>
internal static class FaultingTask
{
    public static bool AllAsExpected { get; private set; }

    public static void Raise(SendRight exceptionPort, bool simulated)
    {
        if (!simulated)
        {
            AllAsExpected = RaiseFrom(exceptionPort.Name);
            return;
        }
        // The faulting task finds the port through the bootstrap server (on a Mac the kernel holds the send right).
        string service = "org.machipc.samples.exceptions." + Environment.ProcessId;
        BootstrapServer.Register(service, exceptionPort);
        using SimulatedTask task = SimulatedMach.CreateTask("faulting-app");
        using (task.Enter())
        {
            using SendRight port = BootstrapServer.LookUp(service);
            AllAsExpected = RaiseFrom(port.Name);
            MigReplyPort.Destroy();
        }
    }

    private static bool RaiseFrom(uint exceptionPort)
    {
        // A port standing for the faulting thread; the task's own port for the task.
        using ReceiveRight thread = ReceiveRight.Allocate();
        using SendRight threadSend = thread.MakeSend();
        uint task = Mach.TaskSelf;

        var oldState = new uint[68];
        ulong pc = 0x1_0000_4f20;
        oldState[ExceptionCatcher.PcWord] = unchecked((uint)pc);
        oldState[ExceptionCatcher.PcWord + 1] = (uint)(pc >> 32);
        var newState = new uint[1296];
        int flavor = ExceptionCatcher.ArmThreadState64;

        // EXC_BAD_ACCESS at address 0xdead: the catcher answers with the thread state to resume with.
        Console.WriteLine($"raise EXC_BAD_ACCESS (KERN_INVALID_ADDRESS at 0xdead), pc 0x{pc:x}");
        int kr = MachExcClient.MachExceptionRaiseStateIdentity(exceptionPort, threadSend.Name, task, ExceptionCatcher.ExcBadAccess,
            new long[] { ExceptionCatcher.KernInvalidAddress, 0xdead }, ref flavor, oldState, newState, out int newStateCnt, timeoutMs: 5000);
        ulong resumed = newState[ExceptionCatcher.PcWord] | ((ulong)newState[ExceptionCatcher.PcWord + 1] << 32);
        Console.WriteLine($"  reply: kern_return {kr}, {newStateCnt} state words, resume at pc 0x{resumed:x}");
        bool ok = kr == 0 && newStateCnt == 68 && resumed == pc + 4;

        // EXC_BAD_INSTRUCTION: the catcher declines; the error comes back as mig_reply_error_t.
        Console.WriteLine("raise EXC_BAD_INSTRUCTION");
        flavor = ExceptionCatcher.ArmThreadState64;
        kr = MachExcClient.MachExceptionRaiseStateIdentity(exceptionPort, threadSend.Name, task, ExceptionCatcher.ExcBadInstruction,
            new long[] { 1 }, ref flavor, oldState, newState, out _, timeoutMs: 5000);
        Console.WriteLine($"  reply: kern_return {kr} (KERN_FAILURE: the kernel would try the next handler)");
        ok &= kr == ExceptionCatcher.KernFailure;

        // The plain raise, without state.
        Console.WriteLine("raise EXC_BAD_ACCESS without state (mach_exception_raise)");
        kr = MachExcClient.MachExceptionRaise(exceptionPort, threadSend.Name, task, ExceptionCatcher.ExcBadAccess,
            new long[] { ExceptionCatcher.KernInvalidAddress, 0xdead }, timeoutMs: 5000);
        Console.WriteLine($"  reply: kern_return {kr}");
        return ok && kr == 0;
    }
}
