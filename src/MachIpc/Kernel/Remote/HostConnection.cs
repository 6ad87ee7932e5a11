using System;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Kernel.Remote;

/// <summary>
/// One client connection of the kernel host, served on the host's loop thread: frames are read without blocking,
/// each request runs inline in the connection's task, and its reply is written without blocking (what the socket
/// does not take now goes on EPOLLOUT). One request at a time: while one is in progress (running, waiting in the
/// kernel as an <see cref="AsyncMsg"/>, or its reply not all written) the connection's next bytes stay unread. A
/// waiting mach_msg is answered by the thread that finishes it (the sender that handed it a message, a port's
/// death, its timer) — the reply goes out on that thread, with no hand-off to another one.
/// </summary>
internal sealed class HostConnection : EventLoop.IHandler
{
    private readonly KernelHost _host;
    private readonly FrameConnection _frames;
    private readonly Native.UCred _cred;
    private readonly string _who;
    private readonly FrameWriter _reply = new();
    private readonly Action _pump;
    private readonly Lock _gate = new();

    // Set once on the loop thread at hello.
    private KernelHost.RequestHandler? _handler;
    private SimulatedTask? _task;
    private bool _lifeline;
    private bool _hello = true;

    // Under _gate (read by whichever thread finishes a waiting request).
    private bool _busy;          // a request is in progress: its next bytes stay unread
    private bool _waiting;       // the kernel holds the request (a mach_msg that waits)
    private bool _replyPending;  // _reply is not all written yet
    private bool _inputSeen;     // bytes arrived while busy: read them once idle
    private bool _closed;
    private bool _freed;
    private int _sent;
    private bool _performing;    // the loop thread is inside Handle for this connection
    private MachMsgReturn? _early; // a result that arrived while _performing
    private int _waitGeneration;
    private long _waitDeadline = long.MaxValue;
    private long _timerDue = long.MaxValue;
    private readonly Action _timer;

    public HostConnection(KernelHost host, FrameConnection frames, Native.UCred cred, string who)
    {
        _host = host;
        _frames = frames;
        _cred = cred;
        _who = who;
        _pump = Pump;
        _timer = OnTimer;
    }

    public int Fd => _frames.Fd;

    /// <summary>
    /// What the loop watches on a connection. Not EPOLLOUT: a Unix socket reports it edge-triggered every time the
    /// peer reads, which would cost the loop an epoll round per reply (and a wake-up if it was sleeping) for nothing;
    /// it is watched only while a reply waits for room (<see cref="WriteMore"/>).
    /// </summary>
    internal const uint Events = EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP;

    private bool _watchingOut; // under _gate

    public void OnEvents(uint events)
    {
        if ((events & EventLoop.EPOLLOUT) != 0)
        {
            WriteMore();
        }
        if ((events & (EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP | EventLoop.EPOLLHUP | EventLoop.EPOLLERR)) == 0)
        {
            return;
        }
        bool busy;
        lock (_gate)
        {
            busy = _busy;
            _inputSeen |= busy;
        }
        if (!busy)
        {
            Pump();
        }
        else if ((events & (EventLoop.EPOLLRDHUP | EventLoop.EPOLLHUP | EventLoop.EPOLLERR)) != 0)
        {
            Close(); // the peer left while its request waits (its process died, or it hung up): abort the wait
        }
    }

    /// <summary>Reads and performs requests until none is complete or one is in progress (loop thread).</summary>
    internal void Pump()
    {
        try
        {
            while (true)
            {
                lock (_gate)
                {
                    if (_busy || _closed)
                    {
                        return;
                    }
                    _busy = true;
                    _inputSeen = false;
                }
                ReadOnlySpan<byte> frame = _frames.TryReceive(out FrameConnection.FrameStatus status, _hello ? Wire.HelloBytes : Wire.MaxFrame);
                if (status == FrameConnection.FrameStatus.WouldBlock)
                {
                    lock (_gate)
                    {
                        _busy = false;
                        if (!_inputSeen)
                        {
                            return; // the next edge brings us back
                        }
                    }
                    continue;
                }
                if (status == FrameConnection.FrameStatus.Eof)
                {
                    Close();
                    return;
                }
                if (_hello)
                {
                    Hello(frame);
                }
                else
                {
                    Perform(frame);
                }
            }
        }
        catch (WireException ex)
        {
            _host.CountRejected();
            Console.Error.WriteLine($"machipc kernel host: disconnected {_who}: protocol violation: {ex.Message}");
            Close();
        }
        catch (Exception ex)
        {
            // Never let one connection take the host down.
            Console.Error.WriteLine($"machipc kernel host: disconnected {_who}: {ex}");
            Close();
        }
    }

    private void Hello(ReadOnlySpan<byte> frame)
    {
        var r = new FrameReader(frame);
        if (r.U32() != (uint)Wire.Op.Hello || r.U32() != Wire.Magic || r.U32() != Wire.Version)
        {
            throw new WireException("bad hello");
        }
        r.End();
        _hello = false;
        LeaveHelloList();
        _task = _host.Join(this, _cred, out _lifeline);
        if (_task is null)
        {
            throw new WireException($"more than {Wire.MaxConnectionsPerTask} connections");
        }
        _handler = new KernelHost.RequestHandler(_host.Kernel, _task, _frames) { OnCompleted = Completed, OnWaiting = Waiting };
        _reply.Begin();
        _reply.I32(_task.Pid);
        _reply.U32(_task.SelfName);
        _reply.U32(_task.BootstrapName);
        _reply.End();
        Send();
    }

    private void Perform(ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            _waiting = true; // set before the kernel can finish it on another thread
            _performing = true;
        }
        bool done = false, pending = false;
        SimulatedTask? previous = SimulatedTask.SetCurrent(_task);
        try
        {
            done = _handler!.Handle(frame, _reply);
            pending = !done;
        }
        finally
        {
            SimulatedTask.SetCurrent(previous);
            _frames.DropFds();
            lock (_gate)
            {
                _performing = false;
                if (!pending)
                {
                    _waiting = false; // done, or Handle threw (a violation): nothing waits, Close may free
                }
                else if (_early is MachMsgReturn mr)
                {
                    // Another thread finished the wait before Handle had returned: the reply is written here.
                    _early = null;
                    _waiting = false;
                    done = true;
                    _waitDeadline = long.MaxValue;
                    _handler!.FinishMsg(_reply, mr);
                }
            }
        }
        if (done)
        {
            Send();
        }
    }

    /// <summary>A mach_msg that waited has its result (any thread, no kernel lock held): reply from here.</summary>
    private void Completed(MachMsgReturn mr)
    {
        lock (_gate)
        {
            if (_performing)
            {
                _early = mr; // the loop thread is still in Handle (it released its copies after the wait began)
                return;
            }
            _waiting = false;
            _waitDeadline = long.MaxValue;
            if (!_closed)
            {
                _handler!.FinishMsg(_reply, mr);
            }
        }
        FreeIfClosed();
        Send();
    }

    /// <summary>
    /// A mach_msg waits with a timeout: make sure a timer fires by <paramref name="deadline"/>. One queued timer per
    /// connection serves every wait (a later wait re-queues it when it fires early), so waits that end before their
    /// timeouts leave nothing behind in the timer queue.
    /// </summary>
    private void Waiting(int generation, long deadline)
    {
        if (deadline == long.MaxValue)
        {
            return;
        }
        bool queue;
        lock (_gate)
        {
            _waitGeneration = generation;
            _waitDeadline = deadline;
            queue = deadline < _timerDue;
            if (queue)
            {
                _timerDue = deadline;
            }
        }
        if (queue)
        {
            _host.Loop.At(deadline, _timer);
        }
    }

    private void OnTimer()
    {
        int generation;
        long deadline;
        lock (_gate)
        {
            _timerDue = long.MaxValue;
            generation = _waitGeneration;
            deadline = _waitDeadline;
            if (_closed || deadline == long.MaxValue)
            {
                return;
            }
            if (deadline > Environment.TickCount64)
            {
                _timerDue = deadline;
            }
        }
        if (deadline > Environment.TickCount64)
        {
            _host.Loop.At(deadline, _timer);
            return;
        }
        _host.Kernel.AbortWait(_handler!, generation, abort: false); // completes with a timeout unless a waker got there first
    }

    /// <summary>Writes the reply in <see cref="_reply"/> as far as the socket takes it. False if the connection is closed or failed.</summary>
    private bool Send()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            _sent = 0;
            _replyPending = true;
        }
        return WriteMore();
    }

    /// <summary>Continues a reply (after EPOLLOUT or from <see cref="Send"/>); once it is all written, the connection reads again.</summary>
    private bool WriteMore()
    {
        bool readAgain;
        lock (_gate)
        {
            if (_closed || !_replyPending)
            {
                return !_closed;
            }
            while (_sent < _reply.Length)
            {
                int n = _frames.TrySend(_reply.Buffer, _sent, _reply.Length, _handler?.ReplyFd ?? -1);
                if (n < 0)
                {
                    _host.Loop.Post(Close); // the peer is gone; closing is the loop's
                    return false;
                }
                if (n == 0)
                {
                    // The socket is full: EPOLLOUT continues (watched from now, and reported at once if room
                    // appeared since the send).
                    if (!_watchingOut)
                    {
                        _watchingOut = true;
                        _host.Loop.Watch(Fd, Events | EventLoop.EPOLLOUT);
                    }
                    return true;
                }
                _sent += n;
            }
            _replyPending = false;
            if (_watchingOut)
            {
                _watchingOut = false;
                _host.Loop.Watch(Fd, Events);
            }
            _handler?.AfterReply();
            _reply.GiveBack();
            _busy = false;
            readAgain = _inputSeen || _frames.MayHaveMore;
        }
        if (readAgain)
        {
            _host.Loop.Post(_pump); // (a Pump in progress on the loop goes on by itself; this one then finds nothing)
        }
        return true;
    }

    /// <summary>The connection's place among those waiting to say hello (KernelHost), null once it has said it or closed.</summary>
    internal System.Collections.Generic.LinkedListNode<(HostConnection, long)>? HelloNode;

    /// <summary>The hello deadline passed (loop thread): the connection is closed.</summary>
    internal void HelloTimedOut()
    {
        Console.Error.WriteLine($"machipc kernel host: disconnected {_who}: no hello within {KernelHost.HelloTimeoutMs / 1000} s");
        Close();
    }

    private void LeaveHelloList()
    {
        if (HelloNode is { } node)
        {
            HelloNode = null;
            _host.HelloDone(node);
        }
    }

    /// <summary>Closes the connection (loop thread): a waiting request is aborted, its task is told (lifeline: task death).</summary>
    internal void Close()
    {
        bool waiting;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            waiting = _waiting;
        }
        _host.Loop.Remove(Fd);
        LeaveHelloList();
        if (waiting && _host.Kernel.AbortWait(_handler!, 0, abort: true))
        {
            lock (_gate)
            {
                _waiting = false; // taken back before anyone finished it: nobody will
            }
        }
        _frames.Dispose();
        FreeIfClosed();
        _host.Closed(this, _task, _lifeline, _hello);
    }

    /// <summary>Frees the request state once the connection is closed and no thread is finishing a request on it.</summary>
    private void FreeIfClosed()
    {
        lock (_gate)
        {
            if (!_closed || _waiting || _freed)
            {
                return;
            }
            _freed = true;
        }
        _handler?.Free();
    }
}
