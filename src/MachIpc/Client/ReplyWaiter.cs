using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;

namespace MachIpc.Client;

/// <summary>
/// A <c>CallAsync</c> in flight: its reply port is a member of its task's <see cref="ReplyWaiter"/> set until the reply
/// arrives or the call is aborted (cancelled, timed out), whichever claims it first.
/// </summary>
internal abstract class PendingReply
{
    private int _claimed;

    /// <summary>The reply port, set when the call joins the waiter.</summary>
    public uint ReplyPort { get; set; }

    /// <summary>The trailer the reply must come with.</summary>
    public abstract MachTrailerElements TrailerElements { get; }

    /// <summary>Whether an abort claimed the call; the waiter then finishes it with <see cref="Aborted"/>.</summary>
    public bool IsAborted { get; private set; }

    /// <summary>Claims the call for its reply (the waiter's thread); false when an abort claimed it first.</summary>
    public bool TryClaimForReply() => Interlocked.CompareExchange(ref _claimed, 1, 0) == 0;

    /// <summary>Claims the call for an abort; false when its reply claimed it first.</summary>
    public bool TryClaimForAbort()
    {
        if (Interlocked.CompareExchange(ref _claimed, 1, 0) != 0)
        {
            return false;
        }
        IsAborted = true;
        return true;
    }

    /// <summary>The reply arrived: <paramref name="message"/> is the received message, now the call's to read or destroy.</summary>
    public abstract unsafe void Replied(MachMsgHeader* message, int bufferSize);

    /// <summary>The call was aborted and its reply port is out of the set: the call replaces the port and ends.</summary>
    public abstract void Aborted();

    /// <summary>The wait itself failed (the set or the kernel host is gone): the call ends with <paramref name="code"/>.</summary>
    public abstract void Failed(MachMsgReturn code);
}

/// <summary>
/// Waits for the replies of every <see cref="MachRpcClient.CallAsync{TRequest, TReply}"/> in flight in one task on one
/// thread: their reply ports are members of one port set, received on with <c>MACH_RCV_LARGE</c>, and each message goes
/// to the call whose reply port it arrived on (<c>msgh_local_port</c>). N outstanding calls park one thread, not N; the
/// thread ends, releasing the set, when no call is waiting. This is the readiness a kqueue <c>EVFILT_MACHPORT</c> source gives on macOS, made
/// from <c>mach_msg</c> alone, so it works the same on every kernel.
/// </summary>
/// <remarks>
/// Only this thread receives from the set, in order, so a reply that arrived before an abort is seen before the abort
/// is finished: an aborted call's reply port leaves the set and is destroyed here, on this thread, after every message
/// already received from it, and its name cannot be reused under a message still in flight to the next call.
/// </remarks>
internal sealed unsafe class ReplyWaiter
{
    // One per task: a real process is one task (key null); the simulated kernel's in-process tasks each get their own.
    private static readonly ConditionalWeakTable<object, ReplyWaiter> s_byTask = new();
    private static readonly object s_gate = new();
    private static ReplyWaiter? s_process;

    private readonly object _lock = new();
    private readonly Dictionary<uint, PendingReply> _pending = new();
    private readonly CurrentTaskContext _owner = CurrentTaskContext.Capture();
    private PortSet? _set;
    private WakePort? _wake;
    private bool _running;
    private MachTrailerElements _elements = MachTrailerElements.Audit;

    /// <summary>Threads waiting for replies now, in every task (for tests: N calls in flight in one task hold one).</summary>
    internal static int Threads;

    /// <summary>The current task's waiter.</summary>
    public static ReplyWaiter ForCurrentTask()
    {
        object? task = Mach.Kernel.CaptureTask();
        lock (s_gate)
        {
            if (task is null)
            {
                return s_process ??= new ReplyWaiter();
            }
            return s_byTask.GetValue(task, _ => new ReplyWaiter());
        }
    }

    /// <summary>
    /// Waits for <paramref name="call"/>'s reply on <paramref name="replyPort"/> (a receive right of this task).
    /// Returns the code when the port cannot join the set; the call has then not been registered.
    /// </summary>
    public KernReturn Add(uint replyPort, PendingReply call)
    {
        lock (_lock)
        {
            if (_set is null)
            {
                _set = PortSet.Allocate();
                _wake = new WakePort();
                _set.Add(_wake.Right);
            }
            KernReturn kr = Mach.PortInsertMember(Mach.TaskSelf, replyPort, _set.Name);
            if (kr != KernReturn.Success)
            {
                return kr;
            }
            call.ReplyPort = replyPort;
            _pending.Add(replyPort, call);
            if (call.TrailerElements > _elements)
            {
                _elements = call.TrailerElements;
                if (_running)
                {
                    _wake!.Send(); // a receive already waiting asked for a smaller trailer: start it again
                }
            }
            if (!_running)
            {
                _running = true;
                Interlocked.Increment(ref Threads);
                new Thread(Run, 256 * 1024) { IsBackground = true, Name = "machipc replies" }.Start();
            }
            return KernReturn.Success;
        }
    }

    /// <summary>Asks the waiter to finish an aborted call (already claimed with <see cref="PendingReply.TryClaimForAbort"/>).</summary>
    public void Abort()
    {
        lock (_lock)
        {
            _wake?.Send();
        }
    }

    private void Run()
    {
        using var _ = _owner.Enter();
        int size = 1024;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
        try
        {
            while (true)
            {
                MachTrailerElements elements;
                uint set;
                List<PendingReply>? aborted;
                bool stop;
                lock (_lock)
                {
                    aborted = TakeAborted();
                    stop = StopIfIdle();
                    elements = _elements;
                    set = _set?.Name ?? MachPortName.Null;
                }
                aborted?.ForEach(static call => call.Aborted());
                if (stop)
                {
                    return;
                }
                var header = (MachMsgHeader*)buffer;
                MachMsgReturn mr = Mach.Msg(header, MachMsgOption.RcvMsg | MachMsgOption.RcvLarge | MachTrailerRequest.Option(elements),
                                            0, (uint)size, set, MachMsgTimeout.None, MachPortName.Null);
                if (mr == MachMsgReturn.RcvTooLarge)
                {
                    // MACH_RCV_LARGE: the message stayed queued and msgh_size says how much it needs (kernel-semantics B10).
                    size = (int)MachTrailerRequest.RoundMsg(header->Size) + MachTrailerRequest.MaxSize;
                    NativeMemory.AlignedFree(buffer);
                    buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
                    continue;
                }
                if (mr != MachMsgReturn.Success)
                {
                    FailAll(mr); // the set is gone (a dead task, a lost kernel host): every call waiting ends with it
                    return;
                }
                if (_wake!.IsWake(header))
                {
                    continue; // an abort or a bigger trailer: the loop's top takes care of it
                }
                PendingReply? call = null;
                lock (_lock)
                {
                    // A call an abort claimed first stays listed: the loop's top finishes it, port and all.
                    if (_pending.TryGetValue(header->LocalPort, out PendingReply? waiting) && waiting.TryClaimForReply())
                    {
                        call = waiting;
                        _pending.Remove(header->LocalPort);
                        Mach.PortExtractMember(Mach.TaskSelf, header->LocalPort, _set!.Name);
                        stop = StopIfIdle(); // before the call completes: whoever awaited it finds the task as it left it
                    }
                }
                if (call is null)
                {
                    ReceivedMessage.Destroy(header); // for an aborted call: nobody takes it
                    continue;
                }
                call.Replied(header, size);
                if (stop)
                {
                    return;
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
            Interlocked.Decrement(ref Threads);
        }
    }

    // Under _lock, on the waiter's thread: every aborted call leaves the list and the set; the caller then ends each
    // (its port is replaced, destroying whatever is still queued on it).
    private List<PendingReply>? TakeAborted()
    {
        List<PendingReply>? done = null;
        foreach (KeyValuePair<uint, PendingReply> entry in _pending)
        {
            if (entry.Value.IsAborted)
            {
                (done ??= []).Add(entry.Value);
                Mach.PortExtractMember(Mach.TaskSelf, entry.Key, _set!.Name);
            }
        }
        if (done is not null)
        {
            foreach (PendingReply call in done)
            {
                _pending.Remove(call.ReplyPort);
            }
        }
        return done;
    }

    // Under _lock: when no call waits, the thread ends and gives its set and wake port back (the next call makes new
    // ones), so a task holds no rights for calls it no longer makes.
    private bool StopIfIdle()
    {
        if (_pending.Count != 0)
        {
            return false;
        }
        _running = false;
        ReleasePorts();
        return true;
    }

    private void ReleasePorts()
    {
        _set?.Dispose();
        _wake?.Dispose();
        _set = null;
        _wake = null;
    }

    private void FailAll(MachMsgReturn code)
    {
        List<PendingReply> calls;
        lock (_lock)
        {
            calls = [.. _pending.Values];
            _pending.Clear();
            _running = false;
            ReleasePorts();
        }
        foreach (PendingReply call in calls)
        {
            if (call.TryClaimForReply())
            {
                call.Failed(code);
            }
            else
            {
                call.Aborted();
            }
        }
    }
}
