using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Connections;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Ports;
using MachIpc.ProcessHelper;
using MachIpc.Samples.HelperPool;

// Modes (the kernel socket comes from MACHIPC_KERNEL_SOCKET, set by the parent):
//   rpc <service> <count> [ool-bytes]   check in (pattern 1), <count> round trips, pass a file, echo OOL memory
//                           (100000 bytes unless given), print "ok ..."
//   stream <service>        check in, print "connected", round trips until the parent stops answering
//   connect <service> [task-port]   check in (optionally sending the task port); print "connected" (then wait for a
//                           line on stdin) or "refused <why>"
//   squat <service>         check in the parent's name first, answer one check-in as the parent; print what it got
//   hello <service>         send a well-formed pattern-2 hello to someone else's service; print "sent"
//   bad-fileport <service> fileport_makefd on a name that is not a fileport (the host sets errno EINVAL), prints
//                           "errno <n>", then as hello
//   wait                    read a line from stdin, then exit
//   garbage                 connect raw, break the protocol twice, print "disconnected" if the host hung up each time
//   fuzz <seed> <n>         targeted malformed requests (each must be disconnected), then n random frames after a
//                           valid hello (each disconnected or answered); prints "progress ..." after each request
//                           and then "survived <disconnected> <answered>"
//   host                    share this process's kernel, print "socket <path>", wait to be killed; a stdin line
//                           "await-blocked" prints "blocked" once a joined process's thread blocks in this kernel
//   semantics               receive timeout, A36 pseudo-receive with a right and OOL memory, print "ok" or the failure
//   peer-server <svc> <n>   check in <svc> with the shared bootstrap server, serve n pings, print "served <n>"
//   peer-client <svc> <n> <server pid>   n pings to another helper process; checks both audit-token pids
//   dealloc                 receive an OOL region ("received"), send it on with deallocate = TRUE ("forwarded"),
//                           receive and destroy it ("ok"); waits for a stdin line after each step
//   seam                    mach_port_construct, mach_port_names (+ vm_deallocate), pid_for_task, bootstrap_port
//                           in a joined process; prints "ok" or the failure
//   victim                  block in a receive, then (after the host died) print what each call returned
//   task-port <service>     send a copy of this task's task port to <service>, print "sent", wait to be killed
try
{
    return args[0] switch
    {
        "rpc" => Modes.Rpc(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
            args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 100_000),
        "stream" => Modes.Stream(args[1]),
        "connect" => RendezvousModes.Connect(args[1], args.Length > 2 && args[2] == "task-port"),
        "squat" => RendezvousModes.Squat(args[1]),
        "hello" => RendezvousModes.Hello(args[1]),
        "bad-fileport" => Modes.BadFileport(args[1]),
        "wait" => Modes.Wait(),
        "garbage" => Modes.Garbage(),
        "fuzz" => Modes.Fuzz(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
        "host" => Modes.Host(),
        "victim" => Modes.Victim(),
        "task-port" => Modes.TaskPort(args[1]),
        "semantics" => Modes.Semantics(),
        "seam" => Modes.Seam(),
        "dealloc" => Modes.Dealloc(),
        "peer-server" => Modes.PeerServe(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
        "peer-client" => Modes.PeerClient(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)),
        _ => 2,
    };
}
catch (Exception ex)
{
    Console.WriteLine("error " + ex);
    return 1;
}

internal static unsafe class Modes
{
    public static int BadFileport(string service)
    {
        int fd = Mach.FileportMakeFd(0x0dead103); // no such name: -1 with errno EINVAL, set on the host thread that ran it
        Console.WriteLine(fd == -1 ? $"errno {Mach.LastErrno}" : $"fd {fd}");
        return RendezvousModes.Hello(service);
    }

    public static int Rpc(string service, int count, int oolBytes)
    {
        int pid = Mach.CurrentPid;
        using var channel = HelperRendezvous.Connect(service);
        using (var pool = new PoolClient(channel.Send.Copy())) // the sample's client: its protocol, its checks
        {
            for (int i = 0; i < count; i++)
            {
                pool.Compute(i, i);
            }
            pool.PassFile($"hello from {Environment.ProcessId}"); // a real descriptor, as a fileport
        }
        string? ool = EchoOol(channel.Send.Name, oolBytes);
        if (ool is not null)
        {
            Console.WriteLine("fail ool " + ool);
            return 1;
        }
        Console.WriteLine($"ok pid={pid} ospid={Environment.ProcessId} count={count}");
        return 0;
    }

    /// <summary>Sends <paramref name="size"/> bytes out of line with a reply port; the parent answers with them reversed, out of line.</summary>
    private static string? EchoOol(uint server, int size)
    {
        using var replyPort = ReceiveRight.Allocate();
        byte[] data = new byte[size];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 7);
        }
        byte* buf = stackalloc byte[1024];
        fixed (byte* src = data)
        {
            var m = (XOol*)buf;
            *m = default;
            m->Header.Bits = MachMsgBits.Complex | (uint)MachMsgType.CopySend | ((uint)MachMsgType.MakeSendOnce << 8);
            m->Header.Size = (uint)sizeof(XOol);
            m->Header.RemotePort = server;
            m->Header.LocalPort = replyPort.Name;
            m->Header.Id = XOol.RequestId;
            m->Body.DescriptorCount = 1;
            m->Data.Address = (ulong)src;
            m->Data.Size = (uint)data.Length;
            m->Data.Copy = MachMsgCopy.Virtual;
            m->Data.Type = MachMsgDescriptorType.Ool;
            var mr = Mach.Msg(&m->Header, MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout,
                (uint)sizeof(XOol), 1024, replyPort.Name, 5000, MachPortName.Null);
            if (mr != MachMsgReturn.Success)
            {
                return "msg " + mr;
            }
            if (m->Header.Id != XOol.ReplyId || !m->Header.IsComplex || m->Data.Size != data.Length)
            {
                Mach.MsgDestroy(&m->Header);
                return $"reply id {m->Header.Id} size {m->Data.Size}";
            }
            var back = new ReadOnlySpan<byte>((void*)m->Data.Address, data.Length);
            for (int i = 0; i < data.Length; i++)
            {
                if (back[i] != data[data.Length - 1 - i])
                {
                    Mach.MsgDestroy(&m->Header);
                    return "content at " + i;
                }
            }
            Mach.MsgDestroy(&m->Header); // frees the region here and in the kernel
        }
        return null;
    }

    public static int Wait()
    {
        Console.ReadLine();
        return 0;
    }

    public static int Stream(string service)
    {
        using var channel = HelperRendezvous.Connect(service);
        using var pool = new PoolClient(channel.Send.Copy());
        Console.WriteLine("connected");
        try
        {
            for (int i = 0; ; i++)
            {
                pool.Compute(i, i);
            }
        }
        catch (MachException)
        {
            return 3; // the parent stopped answering
        }
    }

    public static int Garbage()
    {
        string path = Environment.GetEnvironmentVariable(Mach.KernelSocketVariable)!;
        bool first = Hangs(path, s =>
        {
            // A valid hello, then an unknown op.
            s.Send(Frame(1, 0x4E524B4D, 1));
            byte[] reply = new byte[12];
            ReadFully(s, reply);
            s.Send(Frame(0xDEADBEEF, 1, 2, 3));
        });
        bool second = Hangs(path, s =>
        {
            // No hello; a length far past the limit.
            s.Send([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]);
        });
        Console.WriteLine(first && second ? "disconnected" : $"not disconnected {first} {second}");
        return first && second ? 0 : 1;
    }

    public static int Fuzz(int seed, int n)
    {
        string path = Environment.GetEnvironmentVariable(Mach.KernelSocketVariable)!;
        byte[] hello = Frame(1, 0x4E524B4D, 1);
        // Each of these breaks one validation rule of an otherwise well-formed request.
        uint[][] targeted =
        [
            [2, 1, 64 * 1024 * 1024 + 1, 0, 0, 0, 0, 0],              // Msg: send size past the limit
            [2, 1, 24, 0, 0, 0, 0, 0],                                // Msg: prefix missing
            [12, 3, 0x103, 1, 65],                                    // PortSetAttributes: count past 64
            [21, 0, 129],                                             // BootstrapLookUp: name longer than name_t
            [3, 3, 1, 99],                                            // PortAllocate: trailing bytes
            [24, 2, 7],                                               // MsgDestroyOps: unknown op kind
            [0xDEADBEEF],                                             // unknown op
        ];
        int disconnected = 0, answered = 0;
        foreach (uint[] words in targeted)
        {
            if (!Hangs(path, s => { s.Send(hello); ReadFully(s, new byte[12]); s.Send(Frame(words)); }))
            {
                Console.WriteLine($"not disconnected: op {words[0]}");
                return 1;
            }
            Console.WriteLine($"progress op {words[0]} disconnected");
        }
        // A Msg whose out-of-line region is shorter than its descriptor says (5 bytes shipped, descriptor says 100).
        {
            var bytes = new System.Collections.Generic.List<byte>();
            void U32(uint v) => bytes.AddRange(BitConverter.GetBytes(v));
            foreach (uint v in new uint[] { 2, 1, 44, 0, 0, 0, 0, 0 })
            {
                U32(v); // op Msg, MACH_SEND_MSG, send size 44, rcv size, rcv name, timeout, notify, flags
            }
            foreach (uint v in new uint[] { 0x80000000u | 0x13u, 44, 0, 0, 0, 1, 1, 0, 0, 0x01000000u, 100 })
            {
                U32(v); // header (complex, COPY_SEND), descriptor count 1, OOL descriptor of 100 bytes
            }
            U32(1);
            bytes.Add(0); // region kind: data
            U32(5);
            bytes.AddRange(new byte[] { 1, 2, 3, 4, 5 });
            byte[] frame = new byte[4 + bytes.Count];
            BitConverter.TryWriteBytes(frame.AsSpan(0), (uint)bytes.Count);
            bytes.CopyTo(frame, 4);
            if (!Hangs(path, s => { s.Send(hello); ReadFully(s, new byte[12]); s.Send(frame); }))
            {
                Console.WriteLine("not disconnected: short region");
                return 1;
            }
        }
        var random = new Random(seed);
        for (int i = 0; i < n; i++)
        {
            byte[] payload = new byte[4 + random.Next(0, 48)];
            random.NextBytes(payload);
            BitConverter.TryWriteBytes(payload.AsSpan(0), (uint)random.Next(2, 26));
            byte[] frame = new byte[4 + payload.Length];
            BitConverter.TryWriteBytes(frame.AsSpan(0), (uint)payload.Length);
            payload.CopyTo(frame, 4);
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(path));
            s.ReceiveTimeout = 3000;
            try
            {
                // The previous connection was this pid's lifeline; if the host sees its end after this one
                // attached, it shuts this one down too (the process's task died): that is a disconnect.
                s.Send(hello);
                ReadFully(s, new byte[12]);
                s.Send(frame);
                if (s.Receive(new byte[4096]) == 0)
                {
                    disconnected++;
                }
                else
                {
                    answered++;
                }
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock)
            {
                answered++; // still waiting in the kernel (a receive with a long timeout): not a crash
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                disconnected++;
            }
            Console.WriteLine($"progress frame {i}");
        }
        Console.WriteLine($"survived {disconnected} {answered}");
        return 0;
    }

    private static byte[] Frame(params uint[] words)
    {
        var b = new byte[4 + words.Length * 4];
        BitConverter.TryWriteBytes(b.AsSpan(0), (uint)(words.Length * 4));
        for (int i = 0; i < words.Length; i++)
        {
            BitConverter.TryWriteBytes(b.AsSpan(4 + i * 4), words[i]);
        }
        return b;
    }

    private static void ReadFully(Socket s, byte[] b)
    {
        int n = 0;
        while (n < b.Length)
        {
            int r = s.Receive(b, n, b.Length - n, SocketFlags.None);
            if (r <= 0)
            {
                throw new IOException("eof");
            }
            n += r;
        }
    }

    /// <summary>True when the host closes the connection within 5 s of <paramref name="abuse"/>.</summary>
    private static bool Hangs(string path, Action<Socket> abuse)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = 5000;
        try
        {
            abuse(s);
            return s.Receive(new byte[64]) == 0;
        }
        catch (SocketException ex)
        {
            // Reset or broken pipe: closed by the host (the test checks the host counted the violations).
            return ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public static int Seam()
    {
        string? failure = CheckSeam();
        Console.WriteLine(failure ?? "ok");
        return failure is null ? 0 : 1;
    }

    private static string? CheckSeam()
    {
        var options = new MachPortOptions { Flags = MachPortConstructFlags.QLimit | MachPortConstructFlags.InsertSendRight, QLimit = 9 };
        uint port;
        var kr = Mach.PortConstruct(Mach.TaskSelf, &options, 0, &port);
        if (kr != KernReturn.Success)
        {
            return $"construct {kr}";
        }
        uint* names;
        MachPortType* types;
        uint count, typesCount;
        kr = Mach.PortNames(Mach.TaskSelf, &names, &count, &types, &typesCount);
        if (kr != KernReturn.Success || count != typesCount)
        {
            return $"names {kr}";
        }
        bool sawPort = false, sawBootstrap = false;
        for (int i = 0; i < count; i++)
        {
            sawPort |= names[i] == port && types[i] == MachPortType.SendReceive;
            sawBootstrap |= names[i] == Mach.BootstrapPort && types[i] == MachPortType.Send;
        }
        Mach.VmDeallocate(Mach.TaskSelf, (ulong)names, count * 4ul);
        Mach.VmDeallocate(Mach.TaskSelf, (ulong)types, count * 4ul);
        if (!sawPort || !sawBootstrap)
        {
            return $"names listed port={sawPort} bootstrap={sawBootstrap}";
        }
        int pid = 0;
        kr = Mach.PidForTask(Mach.TaskSelf, &pid);
        if (kr != KernReturn.Success || pid != Environment.ProcessId)
        {
            return $"pid_for_task {kr} {pid}";
        }
        kr = Mach.PidForTask(port, &pid);
        if (kr != KernReturn.Failure || pid != -1)
        {
            return $"pid_for_task(port) {kr} {pid}";
        }
        Mach.PortDeallocate(Mach.TaskSelf, port);
        Mach.PortModRefs(Mach.TaskSelf, port, MachPortRight.Receive, -1);
        using var service = BootstrapServer.CheckIn($"org.machipc.tests.seam.{Environment.ProcessId}");
        return null;
    }

    public static int Semantics()
    {
        string? failure = CheckSemantics();
        Console.WriteLine(failure ?? "ok");
        return failure is null ? 0 : 1;
    }

    private static string? CheckSemantics()
    {
        using var port = ReceiveRight.Allocate();
        using var replyPort = ReceiveRight.Allocate();
        byte* buf = stackalloc byte[256];
        var h = (MachMsgHeader*)buf;

        // A receive timeout holds across the socket: the host thread waits, not this one spinning.
        var clock = Stopwatch.StartNew();
        var mr = Mach.Msg(h, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port.Name, 150, 0);
        double ms = clock.Elapsed.TotalMilliseconds;
        if (mr != MachMsgReturn.RcvTimedOut || ms < 140 || ms > 3000)
        {
            return $"receive timeout: {mr} after {ms:F0} ms";
        }

        // Fill a queue of one; the next send with a zero send timeout is pseudo-received back (A36).
        int limit = 1;
        if (Mach.PortSetAttributes(Mach.TaskSelf, port.Name, MachPortLimits.LimitsInfoFlavor, &limit, 1) != KernReturn.Success)
        {
            return "set qlimit";
        }
        *h = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.MakeSend, 0), Size = 24, RemotePort = port.Name, Id = 1 };
        if ((mr = Mach.Msg(h, MachMsgOption.SendMsg, 24, 0, 0, 0, 0)) != MachMsgReturn.Success)
        {
            return "first send " + mr;
        }
        byte[] data = new byte[5000];
        new Random(5).NextBytes(data);
        fixed (byte* src = data)
        {
            var m = (XOol*)buf;
            *m = default;
            m->Header.Bits = MachMsgBits.Complex | MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.MakeSend);
            m->Header.Size = (uint)sizeof(XOol);
            m->Header.RemotePort = port.Name;
            m->Header.LocalPort = replyPort.Name;
            m->Header.Id = 2;
            m->Body.DescriptorCount = 1;
            m->Data.Address = (ulong)src;
            m->Data.Size = (uint)data.Length;
            m->Data.Type = MachMsgDescriptorType.Ool;
            mr = Mach.Msg(&m->Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, (uint)sizeof(XOol), 0, 0, 0, 0);
            if (mr != MachMsgReturn.SendTimedOut)
            {
                return "second send " + mr;
            }
            uint refs;
            Mach.PortGetRefs(Mach.TaskSelf, replyPort.Name, MachPortRight.Send, &refs);
            if (m->Header.RemoteDisposition != MachMsgType.PortSend || m->Header.LocalDisposition != MachMsgType.PortSend
                || m->Header.LocalPort != replyPort.Name || refs != 1)
            {
                return $"pseudo-received header: bits 0x{m->Header.Bits:x} local {m->Header.LocalPort} refs {refs}";
            }
            if (m->Data.Address == (ulong)src || !new ReadOnlySpan<byte>((void*)m->Data.Address, data.Length).SequenceEqual(data))
            {
                return "pseudo-received out-of-line memory";
            }
            // mach_msg_destroy releases msgh_remote_port and the OOL region; msgh_local_port holds a right too
            // after a pseudo-receive, which (as libsyscall's walk, and the in-process simulator) it leaves alone.
            Mach.MsgDestroy(&m->Header);
            Mach.PortDeallocate(Mach.TaskSelf, replyPort.Name);
            uint destRefs;
            Mach.PortGetRefs(Mach.TaskSelf, replyPort.Name, MachPortRight.Send, &refs);
            Mach.PortGetRefs(Mach.TaskSelf, port.Name, MachPortRight.Send, &destRefs);
            if (refs != 0 || destRefs != 0)
            {
                return $"rights left after mach_msg_destroy: reply {refs} dest {destRefs}";
            }
        }
        // Drain the first message.
        if ((mr = Mach.Msg(h, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 256, port.Name, 1000, 0)) != MachMsgReturn.Success || h->Id != 1)
        {
            return "drain " + mr;
        }
        return null;
    }

    public static int PeerServe(string service, int count)
    {
        var handlers = new PoolServer(); // the sample's handlers, serving anyone who looks the name up
        using var server = MachIpc.Server.MachServer.CheckIn(service, handlers);
        server.Start();
        Console.WriteLine("listening");
        SpinWait.SpinUntil(() => handlers.Requests >= count, 20_000);
        server.Stop();
        Console.WriteLine($"served {handlers.Requests}");
        return handlers.Requests == count ? 0 : 1;
    }

    public static int PeerClient(string service, int count, int serverPid)
    {
        using var pool = new PoolClient(BootstrapServer.LookUp(service));
        for (int i = 0; i < count; i++)
        {
            pool.Compute(i, i); // checks the result and that the server saw our pid
            if (pool.LastReplier.Pid != serverPid)
            {
                Console.WriteLine($"fail {i}: answered by pid {pool.LastReplier.Pid}");
                return 1;
            }
        }
        Console.WriteLine("ok");
        return 0;
    }

    public static int Dealloc()
    {
        using var port = ReceiveRight.Allocate();
        byte* buf = stackalloc byte[512];
        var m = (XOol*)buf;
        byte[] data = new byte[3000];
        new Random(9).NextBytes(data);
        fixed (byte* src = data)
        {
            if (SendOol(m, port.Name, (ulong)src, deallocate: false) is { } e1)
            {
                Console.WriteLine(e1);
                return 1;
            }
        }
        var mr = Mach.Msg(&m->Header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 512, port.Name, 1000, 0);
        ulong region = m->Data.Address;
        if (mr != MachMsgReturn.Success || !new ReadOnlySpan<byte>((void*)region, data.Length).SequenceEqual(data))
        {
            Console.WriteLine("receive " + mr);
            return 1;
        }
        Console.WriteLine("received");
        Console.ReadLine();
        if (SendOol(m, port.Name, region, deallocate: true) is { } e2) // region is freed by copyin, here and in the host
        {
            Console.WriteLine(e2);
            return 1;
        }
        Console.WriteLine("forwarded");
        Console.ReadLine();
        mr = Mach.Msg(&m->Header, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 512, port.Name, 1000, 0);
        if (mr != MachMsgReturn.Success || !new ReadOnlySpan<byte>((void*)m->Data.Address, data.Length).SequenceEqual(data))
        {
            Console.WriteLine("second receive " + mr);
            return 1;
        }
        Mach.MsgDestroy(&m->Header);
        Console.WriteLine("ok");
        return 0;
    }

    private static string? SendOol(XOol* m, uint port, ulong address, bool deallocate)
    {
        *m = default;
        m->Header.Bits = MachMsgBits.Complex | MachMsgBits.Make(MachMsgType.MakeSend, 0);
        m->Header.Size = (uint)sizeof(XOol);
        m->Header.RemotePort = port;
        m->Header.Id = 7;
        m->Body.DescriptorCount = 1;
        m->Data.Address = address;
        m->Data.Size = 3000;
        m->Data.Deallocate = deallocate ? (byte)1 : (byte)0;
        m->Data.Type = MachMsgDescriptorType.Ool;
        var mr = Mach.Msg(&m->Header, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, (uint)sizeof(XOol), 0, 0, 1000, 0);
        return mr == MachMsgReturn.Success ? null : "send " + mr;
    }

    public static int Host()
    {
        Console.WriteLine("socket " + SimulatedMach.ShareWithChildren());
        // "await-blocked": answer "blocked" once a thread of a joined process is blocked in this kernel.
        while (Console.ReadLine() is string line)
        {
            if (line == "await-blocked")
            {
                Console.WriteLine(SpinWait.SpinUntil(() => SimulatedMach.BlockedThreads > 0, 20_000) ? "blocked" : "nothing blocked");
            }
        }
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }

    public static int TaskPort(string service)
    {
        using var server = BootstrapServer.LookUp(service);
        byte* buf = stackalloc byte[MachMsgBase.SizeOf + MachMsgPortDescriptor.SizeOf];
        var header = (MachMsgHeader*)buf;
        header->Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.None, MachMsgType.None, complex: true);
        header->Size = MachMsgBase.SizeOf + MachMsgPortDescriptor.SizeOf;
        header->RemotePort = server.Name;
        header->Id = 5303;
        ((MachMsgBase*)buf)->Body.DescriptorCount = 1;
        var port = (MachMsgPortDescriptor*)(buf + MachMsgBase.SizeOf);
        port->Name = Mach.TaskSelf;
        port->Disposition = MachMsgType.CopySend;
        port->Type = MachMsgDescriptorType.Port;
        var mr = Mach.Msg(header, MachMsgOption.SendMsg, header->Size, 0, 0, 0, 0);
        Console.WriteLine(mr == MachMsgReturn.Success ? "sent" : $"send failed {new MachError((int)mr)}");
        Console.ReadLine(); // until killed
        return 0;
    }

    public static int Victim()
    {
        using var port = ReceiveRight.Allocate();
        MachMsgReturn received = 0;
        var receiver = new Thread(() =>
        {
            byte* buf = stackalloc byte[256];
            received = Mach.Msg((MachMsgHeader*)buf, MachMsgOption.RcvMsg, 0, 256, port.Name, 0, MachPortName.Null);
        }) { IsBackground = true };
        receiver.Start();
        // A request/reply call waiting for an answer that the host's death interrupts: a result, never an exception.
        using var silent = ReceiveRight.Allocate();
        using var client = new MachRpcClient(silent.MakeSend());
        string call = "none";
        var caller = new Thread(() =>
        {
            var ping = new ComputeRequest();
            ping.Prepare(MachPortName.Null, MachPortName.Null);
            try
            {
                client.TryCall<ComputeRequest, ComputeReply>(ping, out _, out _, out var r, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60));
                call = r.Status.ToString();
            }
            catch (Exception ex)
            {
                call = "threw " + ex.GetType().Name + ": " + ex.Message;
            }
        }) { IsBackground = true };
        caller.Start();
        Console.WriteLine("ready");
        var clock = Stopwatch.StartNew();
        if (!receiver.Join(20_000) || !caller.Join(20_000))
        {
            Console.WriteLine("receive still blocked");
            return 1;
        }
        string call2;
        try
        {
            var ping = new ComputeRequest();
            ping.Prepare(MachPortName.Null, MachPortName.Null);
            client.TryCall<ComputeRequest, ComputeReply>(ping, out _, out _, out var result);
            call2 = $"{result.Status}:{result.Code}";
        }
        catch (Exception ex)
        {
            call2 = "threw " + ex.GetType().Name + ": " + ex.Message;
        }
        double blockedMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var header = new MachMsgHeader { Bits = (uint)MachMsgType.MakeSend, Size = (uint)sizeof(MachMsgHeader), RemotePort = port.Name, Id = 1 };
        var sent = Mach.Msg(&header, MachMsgOption.SendMsg, header.Size, 0, 0, 0, 0);
        uint name;
        var allocated = Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &name);
        BootstrapServer.TryLookUp("anything", out _, out BootstrapReturn lookup);
        double callsMs = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine($"receive=0x{(int)received:x} send=0x{(int)sent:x} allocate={(int)allocated} lookup=0x{(int)lookup:x} call={call} call2={call2} callsMs={callsMs:F0} reason={SimulatedMach.KernelHostLostReason}");
        return 0;
    }
}
