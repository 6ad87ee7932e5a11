using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// A <c>mach_msg</c> trap that does not hold a thread while it waits: the kernel host runs every joined task's
/// calls on a few event-loop threads, so a receive with nothing queued (or a send to a full queue, A37) must park
/// its state, not its thread. XNU does the same for a blocked receive: <c>ipc_mqueue_receive</c>
/// (osfmk/ipc/ipc_mqueue.c) blocks with <c>thread_block(ipc_mqueue_receive_continue)</c>, giving up the thread's
/// kernel stack, and the continuation finishes the receive (<c>ipc_mqueue_receive_continue</c>:
/// <c>ipc_mqueue_receive_results</c>, then <c>mach_msg_receive_continue</c>) when the thread is made runnable. XNU's
/// blocked sender keeps its stack (ipc_mqueue_send_locked blocks with THREAD_CONTINUE_NULL); here it parks the same
/// way as a receive, because a host thread held per blocked sender would be a thread per hostile connection again. Here the waiter carries this object instead
/// of a sleeping thread; whoever wakes it (a sender handing it a message and copying it out, a port's death, a
/// queue slot freed) runs <see cref="Resume"/> on its own thread once it holds no kernel lock, and the trap's
/// result reaches <see cref="Completed"/> there. One object per connection, reused for every trap.
/// </summary>
internal abstract unsafe class AsyncMsg
{
    /// <summary>What <see cref="SimulatedKernel.MsgAsync"/> returns when the result will come through <see cref="Completed"/>.</summary>
    internal const MachMsgReturn Pending = (MachMsgReturn)(-1);

    internal readonly SimulatedKernel Kernel;
    internal readonly SimulatedTask Task;
    internal readonly Waiter Waiter;

    protected AsyncMsg(SimulatedKernel kernel, SimulatedTask task)
    {
        Kernel = kernel;
        Task = task;
        Waiter = new Waiter(this);
    }

    // The trap's arguments, kept while it waits (the receive half runs after a blocked send completes).
    internal byte* Buf;
    internal MachMsgOption Option;
    internal uint RcvSize, RcvName, Timeout;

    // A send waiting for a queue slot (A37): the message and its destination.
    internal KMsg? BlockedSend;
    internal IpcPort? BlockedDest;

    // The wait in progress: the lock of the port or set whose list holds the waiter, armed under that lock, and a
    // generation so a stale timer finds nothing to do. Sync orders those fields against a timer (after the owner's lock).
    internal readonly object Sync = new();
    internal KernelLock Owner;
    internal bool Armed;
    internal int Generation;

    /// <summary>The trap finished with <paramref name="mr"/> (no kernel lock held; any thread).</summary>
    protected internal abstract void Completed(MachMsgReturn mr);

    /// <summary>The waiter is about to go on <paramref name="owner"/>'s wait list (owner locked). Returns its generation.</summary>
    internal int Arm(KernelLock owner)
    {
        lock (Sync)
        {
            Owner = owner;
            Armed = true;
            return ++Generation;
        }
    }

    /// <summary>The trap is waiting; a timed one (<paramref name="deadline"/> in Environment.TickCount64) needs a timer that calls <see cref="SimulatedKernel.AbortWait"/>.</summary>
    protected internal abstract void Waiting(int generation, long deadline);

    /// <summary>Woken (see <see cref="Waiter.FlushWakes"/>): finishes the trap on this thread.</summary>
    internal void Resume() => Kernel.Resume(this);
}

// The kernel's side of an asynchronous trap: the same send and receive paths as SimulatedKernel.Msg, with the
// connection's waiter in place of the thread's, so only the point where a thread would sleep differs (WaitOn,
// Deliver) and the in-process path is unchanged.
internal sealed unsafe partial class SimulatedKernel
{
    /// <summary>
    /// <c>mach_msg</c> in <paramref name="op"/>'s task; returns the result, or <see cref="AsyncMsg.Pending"/> when it
    /// waits and <see cref="AsyncMsg.Completed"/> will report it. Call with no kernel lock held.
    /// </summary>
    internal MachMsgReturn MsgAsync(AsyncMsg op, MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout)
    {
        SimulatedTask task = op.Task;
        Waiter self = Waiter.Current;
        try
        {
            if (!task.Space.Active)
            {
                return (option & MachMsgOption.SendMsg) != 0 ? MachMsgReturn.SendInvalidDest : MachMsgReturn.RcvInvalidName;
            }
            op.Buf = (byte*)msg;
            op.Option = option;
            op.RcvSize = rcvSize;
            op.RcvName = rcvName;
            op.Timeout = timeout;
            if ((option & MachMsgOption.SendMsg) != 0)
            {
                KMsg? m = null;
                MachMsgReturn mr = msg is null ? MachMsgReturn.SendInvalidData : Copyin(task, self, (byte*)msg, sendSize, out m);
                if (mr == MachMsgReturn.Success)
                {
                    mr = Deliver(task, op.Waiter, m!, (byte*)msg, option, timeout);
                }
                if (mr != MachMsgReturn.Success)
                {
                    return mr; // B6, or Pending: the receive half runs in Resume
                }
                Flush(self);
            }
            return (option & MachMsgOption.RcvMsg) != 0
                ? Receive(task, op.Waiter, (byte*)msg, option, rcvSize, rcvName, timeout)
                : MachMsgReturn.Success;
        }
        finally
        {
            Flush(self);
        }
    }

    /// <summary>
    /// The waiter was woken (no lock held): a blocked send finishes (and its receive half starts), a receive takes
    /// what the waker left it (<see cref="AfterWake"/>), as ipc_mqueue_receive_continue does.
    /// </summary>
    internal void Resume(AsyncMsg op)
    {
        MachMsgReturn mr;
        try
        {
            if (op.BlockedSend is KMsg m)
            {
                IpcPort dest = op.BlockedDest!;
                op.BlockedSend = null;
                op.BlockedDest = null;
                mr = AfterSendWake(op.Waiter, dest, m);
                if ((op.Option & MachMsgOption.RcvMsg) != 0)
                {
                    Flush();
                    mr = Receive(op.Task, op.Waiter, op.Buf, op.Option, op.RcvSize, op.RcvName, op.Timeout);
                }
            }
            else
            {
                mr = AfterWake(op.Waiter, op.Buf, op.Option, op.RcvSize);
            }
        }
        finally
        {
            Flush();
        }
        if (mr != AsyncMsg.Pending)
        {
            op.Completed(mr);
        }
    }

    /// <summary>
    /// Takes a waiting trap back off its wait list: its timeout expired (<paramref name="generation"/> is the wait's,
    /// from <see cref="AsyncMsg.Waiting"/>), or with <paramref name="abort"/> its caller went away. That is a
    /// thread_abort of the waiting thread: ipc_mqueue_send_locked returns MACH_SEND_INTERRUPTED with the message still
    /// the caller's (osfmk/ipc/ipc_mqueue.c, "Caller still has message"), and as the caller is gone it is destroyed; a
    /// receive just ends (MACH_RCV_INTERRUPTED, nothing dequeued). False if the wait is over or a waker already holds
    /// the waiter (its Resume follows). On a timeout the trap completes with MACH_SEND_TIMED_OUT (the message
    /// pseudo-received, A36) or MACH_RCV_TIMED_OUT, as <see cref="Block"/>'s callers do.
    /// </summary>
    internal bool AbortWait(AsyncMsg op, int generation, bool abort)
    {
        KernelLock owner;
        lock (op.Sync)
        {
            if (!op.Armed || (!abort && op.Generation != generation))
            {
                return false;
            }
            owner = op.Owner;
        }
        bool removed = false;
        owner.Enter();
        lock (op.Sync)
        {
            if (op.Armed && (abort || op.Generation == generation) && op.Waiter.List is WaitList list)
            {
                list.Remove(op.Waiter);
                op.Armed = false;
                removed = true;
            }
        }
        owner.Exit();
        if (!removed)
        {
            return false;
        }
        MachMsgReturn mr = MachMsgReturn.RcvTimedOut;
        if (op.BlockedSend is KMsg m)
        {
            op.BlockedSend = null;
            op.BlockedDest = null;
            if (abort)
            {
                DestroyMsg(m);
            }
            else
            {
                PseudoReceive(op.Task, m, op.Buf);
                mr = MachMsgReturn.SendTimedOut;
            }
        }
        Flush();
        if (!abort)
        {
            op.Completed(mr);
        }
        return true;
    }
}
