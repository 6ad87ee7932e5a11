using System;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Samples.MachExceptionServer;

/// <summary>
/// The exception handler: the server routines of mach_exc.defs, which the generated <see cref="MachExcDispatcher"/>
/// calls with the request already checked as MIG checks it. Returning 0 sends the reply (and, for the state routines,
/// the new thread state the kernel resumes the thread with); any other code is sent back as mig_reply_error_t, which
/// tells the kernel to try the next handler (in the end, the crash reporter).
/// </summary>
internal sealed class ExceptionCatcher : IMachExcHandler
{
    // <mach/exception_types.h> and <mach/kern_return.h>.
    public const int ExcBadAccess = 1;
    public const int ExcBadInstruction = 2;
    public const int KernInvalidAddress = 1;
    public const int KernFailure = 5;

    // ARM_THREAD_STATE64: x0-x28, fp, lr, sp, pc (64 bits each), cpsr, pad: 68 words; pc is words 64-65.
    public const int ArmThreadState64 = 6;
    public const int PcWord = 64;

    public int Handled { get; private set; }

    public int Declined { get; private set; }

    public int CatchMachExceptionRaise(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code, AuditToken atoken)
    {
        Console.WriteLine($"  catcher: exception {exception} from pid {atoken.Pid}, codes [{string.Join(", ", code.ToArray())}]");
        Release(thread, task);
        Handled++;
        return 0;
    }

    public int CatchMachExceptionRaiseState(uint exceptionPort, int exception, ReadOnlySpan<long> code, ref int flavor,
        ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt, AuditToken atoken)
    {
        newStateCnt = 0;
        Declined++;
        return KernFailure;
    }

    public int CatchMachExceptionRaiseStateIdentity(uint exceptionPort, uint thread, uint task, int exception, ReadOnlySpan<long> code,
        ref int flavor, ReadOnlySpan<uint> oldState, Span<uint> newState, out int newStateCnt, AuditToken atoken)
    {
        newStateCnt = 0;
        Console.WriteLine($"  catcher: exception {exception} from pid {atoken.Pid} (audit token), codes [{string.Join(", ", code.ToArray())}], flavor {flavor}, {oldState.Length} state words");
        if (exception != ExcBadAccess || flavor != ArmThreadState64 || oldState.Length <= PcWord + 1)
        {
            // Not ours: refuse it, and leave the rights with the request, which the dispatcher destroys.
            Console.WriteLine("  catcher: declining (KERN_FAILURE)");
            Declined++;
            return KernFailure;
        }
        // Resume the thread after the faulting 4-byte instruction: the new state is the old one with pc + 4.
        oldState.CopyTo(newState);
        ulong pc = oldState[PcWord] | ((ulong)oldState[PcWord + 1] << 32);
        pc += 4;
        newState[PcWord] = (uint)pc;
        newState[PcWord + 1] = (uint)(pc >> 32);
        newStateCnt = oldState.Length;
        Console.WriteLine($"  catcher: skipping the faulting instruction: pc 0x{pc - 4:x} -> 0x{pc:x}");
        Release(thread, task);
        Handled++;
        return 0;
    }

    /// <summary>A handler that returns 0 owns the thread and task rights the message carried.</summary>
    private static void Release(uint thread, uint task)
    {
        Mach.PortDeallocate(Mach.TaskSelf, thread);
        Mach.PortDeallocate(Mach.TaskSelf, task);
    }
}
