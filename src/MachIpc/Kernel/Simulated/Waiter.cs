using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>Why a blocked thread was woken.</summary>
internal enum WakeReason
{
    None,
    /// <summary>A receiver was handed a message and the sender already copied it out into its buffer (<see cref="Waiter.Result"/>).</summary>
    Completed,
    /// <summary>A MACH_RCV_LARGE receiver met a message too large for it (B10); the message stayed queued.</summary>
    TooLarge,
    /// <summary>The receive right or port set went away (B5).</summary>
    PortChanged,
    /// <summary>A blocked sender was given a queue slot (A37, E2).</summary>
    SlotGranted,
    /// <summary>A blocked sender's destination died (A33).</summary>
    PortDied,
}

/// <summary>
/// One blocked thread (<c>thread_t</c> waiting on a <c>waitq</c>). Each thread owns one, reused for every
/// wait, so blocking allocates nothing. State changes happen under the kernel lock; the thread sleeps on
/// its own monitor so a wake-up disturbs no other thread.
/// </summary>
internal sealed class Waiter
{
    [System.ThreadStatic] private static Waiter? t_current;

    internal static Waiter Current => t_current ??= new Waiter();

    private readonly object _gate = new();
    private volatile bool _done;

    internal Waiter? Prev, Next;
    internal WaitList? List;

    internal WakeReason Reason;
    internal MachMsgReturn Result;
    internal IpcPort? MsgPort;      // the port the too-large message came from
    internal uint TooLargeSize;

    // Receive parameters: a sender handing a message over applies B10 and copies the message out into the
    // blocked receiver's buffer itself, so the receiver wakes with nothing left to do (direct hand-off).
    internal MachMsgOption Option;
    internal uint RcvSize;
    internal SimulatedTask? RcvTask;
    internal unsafe byte* RcvBuf;

    internal void Reset()
    {
        _done = false;
        Reason = WakeReason.None;
        Result = MachMsgReturn.Success;
        MsgPort = null;
        TooLargeSize = 0;
        RcvTask = null;
    }

    internal bool Done => _done;

    /// <summary>Called with the kernel lock held: records the outcome and wakes the thread.</summary>
    internal void Wake(WakeReason reason)
    {
        List?.Remove(this);
        Reason = reason;
        _done = true;
        lock (_gate)
        {
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Sleeps (kernel lock NOT held) until woken or <paramref name="deadline"/> (Environment.TickCount64; long.MaxValue = forever).</summary>
    internal void Sleep(long deadline)
    {
        // A short spin first (as ManualResetEventSlim does): a reply usually arrives within microseconds,
        // and catching it here saves two context switches. Then sleep on the monitor.
        var spin = default(SpinWait);
        while (!spin.NextSpinWillYield)
        {
            if (_done)
            {
                return;
            }
            spin.SpinOnce(-1);
        }
        lock (_gate)
        {
            while (!_done)
            {
                if (deadline == long.MaxValue)
                {
                    Monitor.Wait(_gate);
                }
                else
                {
                    long left = deadline - System.Environment.TickCount64;
                    if (left <= 0)
                    {
                        return;
                    }
                    Monitor.Wait(_gate, (int)System.Math.Min(left, int.MaxValue));
                }
            }
        }
    }
}

/// <summary>A FIFO of blocked threads (<c>waitq</c>), intrusive so it never allocates.</summary>
internal sealed class WaitList
{
    private Waiter? _head, _tail;

    internal bool IsEmpty => _head is null;
    internal Waiter? First => _head;

    internal void Add(Waiter w)
    {
        w.List = this;
        w.Next = null;
        w.Prev = _tail;
        if (_tail is null)
        {
            _head = w;
        }
        else
        {
            _tail.Next = w;
        }
        _tail = w;
    }

    internal void Remove(Waiter w)
    {
        if (w.List != this)
        {
            return;
        }
        if (w.Prev is null)
        {
            _head = w.Next;
        }
        else
        {
            w.Prev.Next = w.Next;
        }
        if (w.Next is null)
        {
            _tail = w.Prev;
        }
        else
        {
            w.Next.Prev = w.Prev;
        }
        w.Prev = w.Next = null;
        w.List = null;
    }

    internal void WakeAll(WakeReason reason)
    {
        while (_head is not null)
        {
            _head.Wake(reason);
        }
    }
}
