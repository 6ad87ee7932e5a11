using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using MachIpc.Abi;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;
using Xunit;
using MachIpc.Tests.Shared;

namespace MachIpc.Tests.CrossProcess;

/// <summary>
/// What a connection that has not proved anything can cost the kernel host: its first frame is a hello (12 bytes), so
/// a longer length is refused before any payload is buffered, and only <see cref="Wire.MaxPendingHellos"/> connections
/// may wait to say hello at once. The connections here come from this process (the host's own pid), which is allowed
/// to connect as its main task.
/// </summary>
[Collection("cross-process")]
public sealed class KernelHostLimitsTests : ChildProcessTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5); // well under the host's 10 s hello timeout

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = (int)Prompt.TotalMilliseconds;
        return s;
    }

    /// <summary>Sends a frame header (and payload) and returns how many bytes came back before the host hung up.</summary>
    private static int SendAndDrain(Socket s, uint length, ReadOnlySpan<uint> payload)
    {
        var frame = new byte[4 + payload.Length * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, length);
        for (int i = 0; i < payload.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4 + i * 4), payload[i]);
        }
        var buf = new byte[64];
        int total = 0;
        try
        {
            s.Send(frame);
            int n;
            while ((n = s.Receive(buf)) > 0) // a timeout here means the host kept waiting: the test fails
            {
                total += n;
                if (total >= 16)
                {
                    break; // a hello reply: length + pid, self, bootstrap
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            // The host closed with our bytes unread: a reset is its hang-up too.
        }
        return total;
    }

    private static void WaitForPendingHellos(KernelHost host, Func<int, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done(host.PendingHellos))
        {
            Assert.True(clock.Elapsed < ChildTimeout, $"the host has {host.PendingHellos} pending hellos");
            Thread.Yield();
        }
    }

    [Fact]
    public void AFirstFrameLongerThanAHello_IsRefusedBeforeItsPayload()
    {
        string path = SimulatedMach.ShareWithChildren();
        int rejected = SimulatedMach.RejectedClients;
        using (Socket s = Connect(path))
        {
            // Claims 64 MiB and sends none of it: the host must not wait for (or buffer) the payload.
            Assert.Equal(0, SendAndDrain(s, 64 * 1024 * 1024, ReadOnlySpan<uint>.Empty));
        }
        Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        AssertNoLeaks();
    }

    [Fact]
    public void ConnectionsWaitingToSayHello_AreCapped_AndAHelloStillGetsThroughAfterwards()
    {
        string path = SimulatedMach.ShareWithChildren();
        KernelHost host = KernelHost.Current!;
        int rejected = SimulatedMach.RejectedClients;
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < Wire.MaxPendingHellos; i++)
            {
                idle.Add(Connect(path));
            }
            WaitForPendingHellos(host, n => n == Wire.MaxPendingHellos);
            using (Socket extra = Connect(path))
            {
                Assert.Equal(0, SendAndDrain(extra, 12, [1, Wire.Magic, Wire.Version])); // refused, hello or not
            }
            Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        }
        finally
        {
            foreach (Socket s in idle)
            {
                s.Dispose();
            }
        }
        WaitForPendingHellos(host, n => n == 0);
        using (Socket s = Connect(path))
        {
            Assert.Equal(16, SendAndDrain(s, 12, [1, Wire.Magic, Wire.Version]));
        }
        AssertNoLeaks();
    }

    /// <summary>
    /// <see cref="HostThreads"/> once any thread the loop thread just started has taken its own name: on Linux a new
    /// thread inherits its creator's comm until the runtime names it, so a thread-pool thread injected from the loop
    /// is counted as a host thread for a moment. A host with a thread per connection stays far over the bound.
    /// </summary>
    private static int SettledHostThreads()
    {
        int n = HostThreads();
        for (int i = 0; i < 100 && n > EventLoop.Threads; i++)
        {
            Thread.Sleep(10);
            n = HostThreads();
        }
        return n;
    }

    /// <summary>Threads of the kernel host: the ones it names "machipc kernel …" (Linux's comm keeps 15 characters).</summary>
    private static int HostThreads()
    {
        int n = 0;
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("machipc kernel", StringComparison.Ordinal))
                {
                    n++;
                }
            }
            catch (IOException)
            {
                // the thread exited meanwhile
            }
        }
        return n;
    }

    private static byte[] Frame(params uint[] words)
    {
        var frame = new byte[4 + words.Length * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(words.Length * 4));
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4 + i * 4), words[i]);
        }
        return frame;
    }

    private static byte[] ReadFrame(Socket s)
    {
        var len = new byte[4];
        SocketReads.ReceiveExactly(s, len);
        var payload = new byte[BinaryPrimitives.ReadUInt32LittleEndian(len)];
        SocketReads.ReceiveExactly(s, payload);
        return payload;
    }

    [Fact]
    public unsafe void ConnectionsWaitingInAReceive_HoldNoHostThread_AndAllGetTheirResult()
    {
        string path = SimulatedMach.ShareWithChildren();
        SimulatedKernel kernel = SimulatedKernel.Shared;
        uint self = kernel.TaskSelf();
        uint port = 0;
        Assert.Equal(KernReturn.Success, kernel.PortAllocate(self, MachPortRight.Receive, &port));
        const int Waiting = 256, Silent = 32;
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < Waiting; i++)
            {
                Socket s = Connect(path);
                sockets.Add(s);
                s.Send(Frame(1, Wire.Magic, Wire.Version));
                Assert.Equal(12, ReadFrame(s).Length);
                // mach_msg(MACH_RCV_MSG, rcv_size 64, port, no timeout): prefix = 64 bytes (PROTOCOL.md, Msg)
                var msg = new uint[8 + 16];
                msg[0] = (uint)Wire.Op.Msg;
                msg[1] = (uint)MachMsgOption.RcvMsg;
                msg[3] = 64;
                msg[4] = port;
                s.Send(Frame(msg));
            }
            for (int i = 0; i < Silent; i++)
            {
                sockets.Add(Connect(path)); // never says hello
            }
            uint name = port;
            Kernel.SendPathTests.WaitUntil(() => kernel.ReceiversBlockedOn(kernel.MainTask, name) == Waiting);
            WaitForPendingHellos(KernelHost.Current!, n => n == Silent);
            // The thread-per-connection host had one thread per connection here (Waiting + Silent + its acceptor).
            Assert.InRange(SettledHostThreads(), 1, EventLoop.Threads);

            // Destroying the receive right ends every wait with MACH_RCV_PORT_CHANGED (B5), each answered on its own connection.
            Assert.Equal(KernReturn.Success, kernel.PortDestroy(self, port));
            for (int i = 0; i < Waiting; i++)
            {
                Assert.Equal((int)MachMsgReturn.RcvPortChanged, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(sockets[i])));
            }
        }
        finally
        {
            foreach (Socket s in sockets)
            {
                s.Dispose();
            }
        }
        WaitForPendingHellos(KernelHost.Current!, n => n == 0);
        AssertNoLeaks();
    }

    /// <summary>A connection that has said hello (as this process's main task).</summary>
    private static Socket Joined(string path)
    {
        Socket s = Connect(path);
        s.Send(Frame(1, Wire.Magic, Wire.Version));
        Assert.Equal(12, ReadFrame(s).Length);
        return s;
    }

    /// <summary>mach_msg(MACH_SEND_MSG) of a 24-byte simple message made from a receive right (PROTOCOL.md, Msg).</summary>
    private static byte[] SendRequest(uint port, int id) =>
        Frame((uint)Wire.Op.Msg, (uint)MachMsgOption.SendMsg, 24, 0, 0, 0, 0, 0,
            (uint)MachMsgType.MakeSend, 24, port, 0, 0, (uint)id, 0);

    /// <summary>A receive right of this process's main task whose queue holds one message.</summary>
    private static unsafe uint PortWithOneSlot(SimulatedKernel kernel)
    {
        uint port = 0;
        Assert.Equal(KernReturn.Success, kernel.PortAllocate(kernel.TaskSelf(), MachPortRight.Receive, &port));
        int qlimit = 1;
        Assert.Equal(KernReturn.Success, kernel.PortSetAttributes(kernel.TaskSelf(), port, MachPortLimits.LimitsInfoFlavor, &qlimit, 1));
        return port;
    }

    [Fact]
    public unsafe void ATimedReceive_TimesOut_AndASenderBlockedOnAFullQueue_HoldsNoHostThread()
    {
        string path = SimulatedMach.ShareWithChildren();
        SimulatedKernel kernel = SimulatedKernel.Shared;
        uint self = kernel.TaskSelf();
        uint port = PortWithOneSlot(kernel);
        try
        {
            using Socket s = Joined(path);
            // B4 with a timeout: the host's timer ends the wait (the receive holds no thread meanwhile).
            var receive = new uint[8 + 16];
            receive[0] = (uint)Wire.Op.Msg;
            receive[1] = (uint)(MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout);
            receive[3] = 64;
            receive[4] = port;
            receive[5] = 20; // ms
            s.Send(Frame(receive));
            Assert.Equal((int)MachMsgReturn.RcvTimedOut, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(s)));

            // A37: the first message fills the queue, the second sender waits for a slot, with no host thread.
            s.Send(SendRequest(port, 1));
            Assert.Equal((int)MachMsgReturn.Success, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(s)));
            s.Send(SendRequest(port, 2));
            uint name = port;
            Kernel.SendPathTests.WaitUntil(() => kernel.SendersBlockedOn(kernel.MainTask, name) == 1);
            Assert.InRange(SettledHostThreads(), 1, EventLoop.Threads);

            // A receive here frees the slot: the blocked send completes and its reply arrives, then its message.
            byte* buf = stackalloc byte[256];
            Assert.Equal(MachMsgReturn.Success, kernel.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 5000, 0));
            Assert.Equal(1, ((MachMsgHeader*)buf)->Id);
            Assert.Equal((int)MachMsgReturn.Success, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(s)));
            Assert.Equal(MachMsgReturn.Success, kernel.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 5000, 0));
            Assert.Equal(2, ((MachMsgHeader*)buf)->Id);
        }
        finally
        {
            kernel.PortDestroy(self, port);
        }
        AssertNoLeaks();
    }

    [Fact]
    public unsafe void AConnectionClosedWhileItsSendWaits_LeavesNothingQueuedOrLeaked()
    {
        string path = SimulatedMach.ShareWithChildren();
        SimulatedKernel kernel = SimulatedKernel.Shared;
        uint self = kernel.TaskSelf();
        uint port = PortWithOneSlot(kernel);
        uint name = port;
        using (Socket s = Joined(path))
        {
            s.Send(SendRequest(port, 1));
            Assert.Equal((int)MachMsgReturn.Success, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(s)));
            s.Send(SendRequest(port, 2));
            Kernel.SendPathTests.WaitUntil(() => kernel.SendersBlockedOn(kernel.MainTask, name) == 1);
        }
        // The hang-up aborts the wait (thread_abort): the blocked message is destroyed, not delivered later.
        Kernel.SendPathTests.WaitUntil(() => kernel.SendersBlockedOn(kernel.MainTask, name) == 0);
        byte* buf = stackalloc byte[256];
        Assert.Equal(MachMsgReturn.Success, kernel.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 5000, 0));
        Assert.Equal(1, ((MachMsgHeader*)buf)->Id);
        Assert.Equal(MachMsgReturn.RcvTimedOut, kernel.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port, 0, 0));
        kernel.PortDestroy(self, port);
        AssertNoLeaks();
    }

    [Fact]
    public void AConnectionDisconnectedForAViolation_FreesItsMessageBuffer()
    {
        string path = SimulatedMach.ShareWithChildren();
        int before = KernelHost.RequestHandler.LiveBuffers;
        int rejected = SimulatedMach.RejectedClients;
        using (Socket s = Joined(path))
        {
            // A receive that times out at once (B4) gives the connection its message buffer...
            var receive = new uint[8 + 16];
            receive[0] = (uint)Wire.Op.Msg;
            receive[1] = (uint)(MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout);
            receive[3] = 64;
            receive[4] = MachPortName.Null;
            s.Send(Frame(receive));
            Assert.Equal((int)MachMsgReturn.RcvInvalidName, BinaryPrimitives.ReadInt32LittleEndian(ReadFrame(s)));
            Assert.Equal(before + 1, KernelHost.RequestHandler.LiveBuffers);
            // ...then a malformed one (an unknown op): the host disconnects, and must free it.
            Assert.Equal(0, SendAndDrain(s, 4, [999]));
        }
        Assert.Equal(rejected + 1, SimulatedMach.RejectedClients);
        Kernel.SendPathTests.WaitUntil(() => KernelHost.RequestHandler.LiveBuffers == before);
        AssertNoLeaks();
    }
}
