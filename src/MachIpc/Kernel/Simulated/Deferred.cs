using System;

namespace MachIpc.Kernel.Simulated;

// Work XNU does after dropping its locks, queued per thread and run by Flush at the end of every kernel entry
// point and before a thread blocks, when the thread holds no kernel lock. It keeps the lock order (space, port,
// set) free of port-to-port nesting: whatever one port's state change does to another port (a notification, a
// message destroyed with the rights it carried, a right released) runs later with that port's lock alone. As in
// ipc_port_destroy, ipc_port_release_send_and_unlock and ipc_mqueue_post, notifications are sent and messages
// destroyed once the port that caused them is unlocked.
internal sealed unsafe partial class SimulatedKernel
{
    internal enum DeferredKind : byte
    {
        /// <summary>A kernel-generated message to its notify port (ipc_notify_*).</summary>
        Notify,
        /// <summary>ipc_kmsg_destroy: every right and region the message holds is released.</summary>
        DestroyMsg,
        /// <summary>ipc_object_destroy of one right.</summary>
        Release,
        /// <summary>A blocked receiver was given a message: copy it out into its buffer, then wake it.</summary>
        HandOff,
        /// <summary>launchd's dead-name handling for a port that died (F6a).</summary>
        BootstrapPortDied,
    }

    /// <summary>One piece of deferred work (kept in the thread's <see cref="Waiter.Ops"/>).</summary>
    internal struct DeferredOp
    {
        internal DeferredKind Kind;
        internal IpcPort? Port;
        internal KMsg? Msg;
        internal Waiter? Waiter;
        internal KRight Right;
    }

    private static void Defer(in DeferredOp op)
    {
        Waiter self = Waiter.Current;
        if (self.OpCount == self.Ops.Length)
        {
            Array.Resize(ref self.Ops, self.Ops.Length * 2);
        }
        self.Ops[self.OpCount++] = op;
    }

    private static void DeferNotify(IpcPort notify, KMsg m) => Defer(new DeferredOp { Kind = DeferredKind.Notify, Port = notify, Msg = m });

    private static void DeferDestroy(KMsg m) => Defer(new DeferredOp { Kind = DeferredKind.DestroyMsg, Msg = m });

    private static void DeferRelease(in KRight r)
    {
        if (r.Port is not null)
        {
            Defer(new DeferredOp { Kind = DeferredKind.Release, Right = r });
        }
    }

    private static void DeferHandOff(Waiter w) => Defer(new DeferredOp { Kind = DeferredKind.HandOff, Waiter = w });

    private static void DeferBootstrapPortDied(IpcPort p) => Defer(new DeferredOp { Kind = DeferredKind.BootstrapPortDied, Port = p });

    /// <summary>Runs this thread's deferred work, in order (work it causes runs too). No kernel lock may be held.</summary>
    private void Flush() => Flush(Waiter.Current);

    private void Flush(Waiter self)
    {
        if (self.OpCount == 0)
        {
            self.FlushWakes();
            return;
        }
        if (self.Flushing)
        {
            return; // a nested entry point: the outer flush is already draining the queue
        }
        self.Flushing = true;
        try
        {
            for (int i = 0; i < self.OpCount; i++)
            {
                DeferredOp op = self.Ops[i];
                self.Ops[i] = default;
                Run(op);
                self.FlushWakes(); // a receiver that was just handed its message runs at once
            }
        }
        finally
        {
            Array.Clear(self.Ops, 0, self.OpCount); // only non-empty if an operation threw: drop the rest, never rerun it
            self.OpCount = 0;
            self.Flushing = false;
        }
    }

    private void Run(in DeferredOp op)
    {
        switch (op.Kind)
        {
            case DeferredKind.Notify:
                SendKernelMessage(op.Port!, op.Msg!);
                break;
            case DeferredKind.DestroyMsg:
                DestroyMsg(op.Msg!);
                break;
            case DeferredKind.Release:
                ReleaseKRight(op.Right);
                break;
            case DeferredKind.HandOff:
                HandOff(op.Waiter!);
                break;
            case DeferredKind.BootstrapPortDied:
                BootstrapPortDied(op.Port!);
                break;
        }
    }
}
