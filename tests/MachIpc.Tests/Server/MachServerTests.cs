using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;
using MachIpc.Ports;
using MachIpc.Server;
using System.Runtime.CompilerServices;
using Xunit;

namespace MachIpc.Tests.Server;

public sealed unsafe class MachServerTests : IDisposable
{
    private readonly ServerTestBed _bed = new("server");

    public void Dispose() => _bed.Dispose();

    private MachServer StartServer(TestDispatcher dispatcher, MachServerOptions? options = null) => _bed.StartServer(dispatcher, options);

    private MachRpcClient Connect() => _bed.Connect();

    private void AssertNoLeaks() => _bed.AssertNoLeaks();

    [Fact]
    public void RoundTrip_HandlerSeesSenderPidFromAuditToken()
    {
        var dispatcher = new TestDispatcher();
        var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            for (int i = 0; i < 100; i++)
            {
                var request = new EchoRequest { Value = i };
                request.Prepare(0, 0);
                client.TryCall<EchoRequest, EchoReply>(request, out var reply, out var sender, out var result);
                Assert.True(result.IsSuccess, result.ToString());
                Assert.Equal(i + 1, reply.Value);
                Assert.Equal(_bed.ClientTask.Pid, reply.SenderPid);
                Assert.Equal(_bed.ServerTask.Pid, sender.Pid);
            }
        }
        // A handler counts as dispatched once it returns, after its reply is out: read the counters after the join.
        server.Dispose();
        Assert.Equal(100, server.Metrics.Dispatched);
        Assert.Equal(0, server.Metrics.Rejected);
        AssertNoLeaks();
    }

    [Fact]
    public void Stop_WakesTheBlockedReceive_JoinsPromptly_AndIsIdempotent()
    {
        var dispatcher = new TestDispatcher();
        var server = StartServer(dispatcher);
        Assert.True(server.IsRunning);
        server.Stop();
        Assert.False(server.IsRunning);
        Assert.Null(server.Fault);
        server.Stop();
        server.Start();
        Assert.True(server.IsRunning);
        server.Dispose();
        server.Dispose();
        Assert.False(server.IsRunning);
        AssertNoLeaks();
    }

    [Fact]
    public void NoHandlerRunsAfterStopReturns()
    {
        var dispatcher = new TestDispatcher();
        var server = StartServer(dispatcher);
        using var client = Connect();
        using var stopClients = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            using (_bed.ClientTask.Enter())
            using (var own = new MachRpcClient(client.Server.Copy()))
            {
                while (!stopClients.IsCancellationRequested)
                {
                    var request = new EchoRequest { Value = 1 };
                    request.Prepare(0, 0);
                    own.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
                }
            }
        })).ToArray();
        foreach (var t in senders)
        {
            t.Start();
        }
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref dispatcher.Handled) > 20, 5000), "the server handled too few requests");
        server.Stop();
        int handledAtStop = Volatile.Read(ref dispatcher.Handled);
        // The senders keep sending: requests now pile up on the service port, since nothing receives them. Once two
        // are queued, a loop still running would have dequeued and handled them.
        int Queued()
        {
            using (_bed.ServerTask.Enter())
            {
                return MachIpc.Tests.Kernel.K.MsgCount(server.ServicePort);
            }
        }
        Assert.True(SpinWait.SpinUntil(() => Queued() >= 2, 5000), "requests did not queue up after Stop");
        Assert.Equal(handledAtStop, Volatile.Read(ref dispatcher.Handled));
        stopClients.Cancel();
        foreach (var t in senders)
        {
            t.Join();
        }
        using (_bed.ClientTask.Enter())
        {
            client.Dispose();
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void UnknownId_IsDestroyed_CountedAndAnsweredWithMigBadId()
    {
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            var request = new Unknown();
            request.Prepare(0, 0);
            request.Port.Name = carried.Name;
            client.TryCall<Unknown, EchoReply>(request, out _, out _, out var result);
            Assert.Equal(MachRpcStatus.RemoteError, result.Status);
            Assert.Equal((int)MigReturn.BadId, result.Code);
            Assert.Equal(1, server.Metrics.RejectedByReason["unknown msgh_id"]);
            // The message's MAKE_SEND made the only send right to `carried`, in the server's space. The server must
            // destroy it: a no-senders notification (armed now: it fires at once if that already happened, D2)
            // observes the release there. A leaked right would leave this receive to time out.
            using var notify = ReceiveRight.Allocate();
            uint previous;
            Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, carried.Name, MachNotify.NoSenders, 0, notify.Name, MachMsgType.MakeSendOnce, &previous));
            byte* buffer = stackalloc byte[128];
            Assert.Equal(MachMsgReturn.Success, Mach.Msg((MachMsgHeader*)buffer, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, 128, notify.Name, 5000, 0));
            Assert.Equal(MachNotify.NoSenders, ((MachMsgHeader*)buffer)->Id);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void MalformedMessage_IsRejectedWithItsReason_AndItsRightsReleased()
    {
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            // Declared as CarriesPort (id 5001, one MAKE_SEND port) but sent with MAKE_SEND_ONCE in the descriptor.
            var request = new CarriesPort();
            request.Prepare(0, 0);
            request.Port.Name = carried.Name;
            request.Port.Disposition = MachMsgType.MakeSendOnce;
            client.TryCall<CarriesPort, EchoReply>(request, out _, out _, out var result);
            Assert.Equal(MachRpcStatus.RemoteError, result.Status);
            Assert.Equal((int)MigReturn.BadArguments, result.Code);
            Assert.Equal(1, server.Metrics.RejectedByReason[MachValidation.Describe(MachValidationError.WrongDescriptorDisposition)]);
            Assert.Equal(0, dispatcher.Handled);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void HandlerThatThrows_IsCounted_AnsweredWithRemoteError_AndTheServerKeepsServing()
    {
        var dispatcher = new TestDispatcher { ThrowInHandler = true };
        using var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out var failed);
            Assert.Equal(MachRpcStatus.RemoteError, failed.Status);
            Assert.Equal((int)MigReturn.RemoteError, failed.Code);
            Assert.Equal(1, server.Metrics.HandlerFailures);

            dispatcher.ThrowInHandler = false;
            client.TryCall<EchoRequest, EchoReply>(request, out var reply, out _, out var ok);
            Assert.True(ok.IsSuccess, ok.ToString());
            Assert.Equal(2, reply.Value);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void LargerMessage_GrowsTheBuffer_InsteadOfEndingTheLoop()
    {
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            var bulk = new Bulk();
            bulk.Prepare(client.Server.Name);
            Assert.Equal(MachMsgReturn.Success, bulk.Send());
            var request = new EchoRequest { Value = 41 };
            request.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(request, out var reply, out _, out var result);
            Assert.True(result.IsSuccess, result.ToString());
            Assert.Equal(42, reply.Value);
            Assert.Equal(2, server.Metrics.Received);
            Assert.Equal(1, server.Metrics.RejectedByReason["unknown msgh_id"]);
            Assert.True(server.IsRunning);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void MessageBeyondMaxMessageSize_IsDestroyedByTheKernel_AndCounted()
    {
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher, new MachServerOptions { MaxMessageSize = 1024 });
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            var bulk = new Bulk();
            bulk.Prepare(client.Server.Name);
            Assert.Equal(MachMsgReturn.Success, bulk.Send());
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            Assert.True(client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _));
            Assert.Equal(1, server.Metrics.RejectedByReason["message too large"]);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Metrics_ArePublishedThroughSystemDiagnosticsMetrics_WithUnitsAndTheRejectionReason()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, string? Unit, long Value, string? Server, string? Reason)>();
        int durations = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MachServerMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? server = null, reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == MachServerMetrics.ServerTag) server = tag.Value as string;
                if (tag.Key == MachIpc.Diagnostics.MachTelemetry.ReasonTag) reason = tag.Value as string;
            }
            seen.Enqueue((instrument.Name, instrument.Unit, value, server, reason));
        });
        string name = "metrics-" + Guid.NewGuid().ToString("N");
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == MachServerMetrics.ServerTag && tag.Value as string == name && instrument.Unit == "s" && value >= 0)
                {
                    Interlocked.Increment(ref durations); // other tests' servers measure meanwhile: count this one's
                }
            }
        });
        listener.Start();

        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher, new MachServerOptions { Name = name });
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            Assert.True(client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _));
            var unknown = new Unknown();
            unknown.Prepare(0, 0);
            unknown.Port.Name = carried.Name;
            Assert.False(client.TryCall<Unknown, EchoReply>(unknown, out _, out _, out var r));
            Assert.Equal(MachRpcStatus.RemoteError, r.Status);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Stop(); // every handler has returned: the counters are final
        }
        // The counters are observed, not counted twice: one observation reads what the server counted.
        listener.RecordObservableInstruments();
        var mine = seen.Where(m => m.Server == name).ToList();
        Assert.Contains(mine, m => m.Instrument == "machipc.server.received" && m.Value == 2 && m.Unit == "{message}");
        Assert.Contains(mine, m => m.Instrument == "machipc.server.dispatched" && m.Value == 1);
        Assert.Contains(mine, m => m.Instrument == "machipc.server.rejected" && m.Reason == "unknown msgh_id" && m.Value == 1);
        Assert.Contains(mine, m => m.Instrument == "machipc.server.notifications" && m.Value == 0 && m.Unit == "{notification}");
        Assert.Equal(2, durations); // one dispatch duration per dispatched message, handled or not
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void Metrics_ComeFromTheGivenMeterFactory_TaggedWithTheServer()
    {
        using var services = new MeterFactoryStub();
        string name = "factory-" + Guid.NewGuid().ToString("N");
        var server = StartServer(new TestDispatcher(), new MachServerOptions { Name = name, MeterFactory = services });
        System.Diagnostics.Metrics.Meter meter = Assert.Single(services.Created);
        Assert.Equal(MachServerMetrics.MeterName, meter.Name);
        Assert.Contains(meter.Tags!, t => t.Key == MachServerMetrics.ServerTag && (string?)t.Value == name);
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    private sealed class MeterFactoryStub : System.Diagnostics.Metrics.IMeterFactory
    {
        public readonly List<System.Diagnostics.Metrics.Meter> Created = new();

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options);
            Created.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Created)
            {
                meter.Dispose();
            }
        }
    }

    private sealed record LogEntry(Microsoft.Extensions.Logging.LogLevel Level, Microsoft.Extensions.Logging.EventId EventId,
                                   IReadOnlyDictionary<string, object?> Fields, Exception? Exception, string Message);

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<LogEntry> Entries = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = (state as IEnumerable<KeyValuePair<string, object?>>)?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? new();
            Entries.Enqueue(new LogEntry(logLevel, eventId, fields, exception, formatter(state, exception)));
        }
    }

    [Fact]
    public void RejectedMessagesAndFailedHandlers_AreLoggedWithEventIdsAndStructuredFields()
    {
        var logger = new ListLogger();
        var dispatcher = new TestDispatcher();
        var server = StartServer(dispatcher, new MachServerOptions { Name = "logged", Logger = logger });
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            var unknown = new Unknown();
            unknown.Prepare(0, 0);
            unknown.Port.Name = carried.Name;
            Assert.False(client.TryCall<Unknown, EchoReply>(unknown, out _, out _, out var r));
            Assert.Equal(MachRpcStatus.RemoteError, r.Status);
            dispatcher.ThrowInHandler = true;
            var echo = new EchoRequest { Value = 1 };
            echo.Prepare(0, 0);
            Assert.False(client.TryCall<EchoRequest, EchoReply>(echo, out _, out _, out _));
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        var entries = logger.Entries.ToList();
        LogEntry started = Assert.Single(entries, e => e.EventId.Id == 1);
        Assert.Equal("Started", started.EventId.Name);
        Assert.Equal(1, started.Fields["ReceiveThreads"]);

        LogEntry rejected = Assert.Single(entries, e => e.EventId.Id == 10);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, rejected.Level);
        Assert.Equal("MessageRejected", rejected.EventId.Name);
        Assert.Equal("logged", rejected.Fields["Server"]);
        Assert.Equal(Unknown.MsgId, rejected.Fields["MsghId"]);
        Assert.Equal(_bed.ClientTask.Pid, rejected.Fields["SenderPid"]);
        Assert.Equal("unknown msgh_id", rejected.Fields["Reason"]);
        Assert.Equal($"[logged] rejected msgh_id {Unknown.MsgId} from pid {_bed.ClientTask.Pid}: unknown msgh_id", rejected.Message);

        LogEntry failed = Assert.Single(entries, e => e.EventId.Id == 11);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, failed.Level);
        Assert.Equal(EchoRequest.MsgId, failed.Fields["MsghId"]);
        Assert.Equal(_bed.ClientTask.Pid, failed.Fields["SenderPid"]);
        Assert.IsType<InvalidOperationException>(failed.Exception);

        Assert.Single(entries, e => e.EventId.Id == 2); // stopped, once, however many threads
        AssertNoLeaks();
    }

    [Fact]
    public void ForgedKernelNotification_IsRejected_NotDeliveredAsANotification()
    {
        int notifications = 0;
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher, new MachServerOptions
        {
            OnNotification = (in MachNotification _) => Interlocked.Increment(ref notifications),
        });
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            var forged = new MachPortNameNotification();
            forged.Header.Bits = MachMsgBits.Make(MachMsgType.CopySend, MachMsgType.None);
            forged.Header.Size = MachPortNameNotification.SizeOf;
            forged.Header.RemotePort = client.Server.Name;
            forged.Header.Id = MachNotify.DeadName;
            forged.Ndr = NdrRecord.Native;
            forged.NotPort = 0x1234;
            Assert.Equal(MachMsgReturn.Success, Mach.Msg(&forged.Header, MachMsgOption.SendMsg, MachPortNameNotification.SizeOf, 0, 0, 0, 0));
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            Assert.True(client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _));
        }
        Assert.Equal(0, Volatile.Read(ref notifications));
        Assert.Equal(1, server.Metrics.RejectedByReason["forged kernel notification"]);
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void GenuineNoSendersNotification_IsDeliveredToTheHandler()
    {
        using var delivered = new ManualResetEventSlim();
        MachNotification seen = default;
        var dispatcher = new TestDispatcher();
        using var server = StartServer(dispatcher, new MachServerOptions
        {
            OnNotification = (in MachNotification n) => { seen = n; delivered.Set(); },
        });
        ReceiveRight watched;
        using (_bed.ServerTask.Enter())
        {
            // The service port itself always has a sender (the bootstrap server keeps one, as launchd does),
            // so watch another port and have the kernel notify the service port.
            watched = ReceiveRight.Allocate();
            var send = watched.MakeSend();
            uint previous;
            Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, watched.Name, MachNotify.NoSenders, 0,
                server.ServicePort, MachMsgType.MakeSendOnce, &previous));
            Assert.Equal(MachPortName.Null, previous);
            send.Dispose();
        }
        Assert.True(delivered.Wait(5000));
        Assert.Equal(MachNotify.NoSenders, seen.Id);
        Assert.Equal(1u, seen.NotCount);
        Assert.Equal(1, server.Metrics.Notifications);
        watched.Dispose();
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void ReceiveTimeout_ReplacesTheReplyPort_SoALateReplyCannotBeMistaken()
    {
        var dispatcher = new TestDispatcher { BlockHandler = new ManualResetEventSlim() };
        using var server = StartServer(dispatcher);
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            uint before = client.ReplyPort;
            var request = new EchoRequest { Value = 1 };
            request.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out var result, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20));
            Assert.Equal(MachRpcStatus.ReceiveFailed, result.Status);
            Assert.Equal((int)MachMsgReturn.RcvTimedOut, result.Code);
            Assert.NotEqual(before, client.ReplyPort);
            dispatcher.BlockHandler.Set();
            dispatcher.BlockHandler = null;
            request.Value = 7;
            Assert.True(client.TryCall<EchoRequest, EchoReply>(request, out var reply, out _, out _));
            Assert.Equal(8, reply.Value);
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    // ---- receive results injected through MachServer.ReceiveCall (the simulator cannot produce B21 body errors) ----

    private static readonly System.Collections.Concurrent.ConcurrentQueue<(uint Name, MachMsgOption Option, uint Timeout, MachMsgReturn Result)> s_calls = new();
    private static int s_bodyErrors;
    private static MachServer? s_stopOnTooLarge;

    private static bool IsLoopReceive(MachMsgOption option) => (option & MachMsgOption.RcvLarge) != 0;

    /// <summary>The first loop receive delivers its message as XNU does when this task's name space is full; the next ones fail at once.</summary>
    private static MachMsgReturn BodyErrorReceive(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify)
    {
        MachMsgReturn mr;
        int left = IsLoopReceive(option) ? Interlocked.Decrement(ref s_bodyErrors) : -1;
        if (left == 2)
        {
            mr = Mach.Msg(msg, option, sendSize, rcvSize, rcvName, timeout, notify);
            if (mr == MachMsgReturn.Success)
            {
                mr = (MachMsgReturn)((int)MachMsgReturn.RcvBodyError | 0x2000); // | MACH_MSG_IPC_SPACE
            }
        }
        else if (left >= 0)
        {
            mr = (MachMsgReturn)((int)MachMsgReturn.RcvBodyError | 0x2000);
        }
        else
        {
            mr = Mach.Msg(msg, option, sendSize, rcvSize, rcvName, timeout, notify);
        }
        s_calls.Enqueue((rcvName, option, timeout, mr));
        return mr;
    }

    [Fact]
    public void PartlyReceivedMessages_AreDestroyed_AndTheLoopBacksOffOnTheWakePort_InsteadOfSpinning()
    {
        // XNU delivers a message whose rights it could not all copy out with MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE
        // (osfmk/ipc/ipc_kmsg.c ipc_kmsg_copyout_descriptors; mach_msg.c mach_msg_receive_results): what arrived is
        // the server's to destroy, and the shortage that caused it will hit the next receive too.
        s_calls.Clear();
        s_bodyErrors = 3;
        var dispatcher = new TestDispatcher();
        MachServer server;
        using (_bed.ServerTask.Enter())
        {
            server = MachServer.CheckIn(_bed.Service, dispatcher);
            server.ReceiveCall = &BodyErrorReceive;
            server.Start();
        }
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        using (var carried = ReceiveRight.Allocate())
        {
            var request = new CarriesPort();
            request.Prepare(0, 0);
            request.Port.Name = carried.Name;
            client.TryCall<CarriesPort, EchoReply>(request, out _, out _, out var destroyed);
            Assert.Equal(MachRpcStatus.RemoteError, destroyed.Status);
            Assert.Equal((int)MigReturn.ServerDied, destroyed.Code); // its reply right was destroyed with it
            var echo = new EchoRequest { Value = 1 };
            echo.Prepare(0, 0);
            client.TryCall<EchoRequest, EchoReply>(echo, out var reply, out _, out var ok);
            Assert.True(ok.IsSuccess, ok.ToString());
            Assert.Equal(2, reply.Value);
        }
        using (_bed.ServerTask.Enter())
        {
            uint wake = server.WakePort;
            var calls = s_calls.ToArray();
            // receive (body error) -> pause 1 ms on the wake port -> receive (body error) -> 2 ms -> ... -> receive.
            Assert.True(calls.Length >= 7, string.Join(", ", calls));
            for (int i = 0; i < 3; i++)
            {
                Assert.True(IsLoopReceive(calls[2 * i].Option));
                Assert.Equal(MachMsgReturn.RcvBodyError, calls[2 * i].Result.WithoutResourceBits());
                Assert.Equal(wake, calls[2 * i + 1].Name);
                Assert.Equal(1u << i, calls[2 * i + 1].Timeout);
            }
            Assert.True(IsLoopReceive(calls[6].Option));
            Assert.Equal(3, server.Metrics.RejectedByReason["message partly received"]);
            server.Dispose();
        }
        AssertNoLeaks();
    }

    /// <summary>When the loop learns of a too-large message, a Stop lands before it acts on it.</summary>
    private static MachMsgReturn StopAfterTooLarge(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify)
    {
        MachMsgReturn mr = Mach.Msg(msg, option, sendSize, rcvSize, rcvName, timeout, notify);
        s_calls.Enqueue((rcvName, option, timeout, mr));
        if (IsLoopReceive(option) && mr == MachMsgReturn.RcvTooLarge && Interlocked.Exchange(ref s_stopOnTooLarge, null) is { } server)
        {
            new Thread(server.Stop) { IsBackground = true }.Start();
            SpinWait.SpinUntil(() => MsgCount(server.WakePort) > 0); // the wake is queued behind the too-large message
        }
        return mr;
    }

    private static int MsgCount(uint port)
    {
        int* status = stackalloc int[10];
        uint count = 10;
        return Mach.PortGetAttributes(Mach.TaskSelf, port, 2, status, &count) == KernReturn.Success ? status[4] : -1;
    }

    [Fact]
    public void StopArrivingWhileAMessageIsTooLarge_IsNeverLost()
    {
        // The too-large message is destroyed on the member MACH_RCV_LARGE_IDENTITY named, not by a second receive on
        // the set: the set has rotated (ipc_mqueue.c, kernel-semantics I5) and that receive would take the wake.
        s_calls.Clear();
        var dispatcher = new TestDispatcher();
        MachServer server;
        using (_bed.ServerTask.Enter())
        {
            server = MachServer.CheckIn(_bed.Service, dispatcher, new MachServerOptions { MaxMessageSize = 1024 });
            server.ReceiveCall = &StopAfterTooLarge;
            s_stopOnTooLarge = server;
            server.Start();
        }
        using (var client = Connect())
        using (_bed.ClientTask.Enter())
        {
            var bulk = new Bulk();
            bulk.Prepare(client.Server.Name);
            Assert.Equal(MachMsgReturn.Success, bulk.Send());
        }
        Assert.True(SpinWait.SpinUntil(() => !server.IsRunning, 20_000), "Stop hung: its wake was taken as the too-large message's replacement");
        var calls = s_calls.ToArray();
        Assert.Equal(server.ServicePort, calls[1].Name); // destroyed where it was
        Assert.Equal(MachMsgReturn.RcvTooLarge, calls[1].Result);
        Assert.Equal(1, server.Metrics.RejectedByReason["message too large"]);
        using (_bed.ServerTask.Enter())
        {
            Assert.Equal(0, MsgCount(server.WakePort)); // no stale wake left for the next Start
            server.Start();
            Assert.True(server.IsRunning);
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void AWakeThatTimesOut_ReleasesTheSendRightItsPseudoReceiveGaveBack()
    {
        // The wake message's MAKE_SEND destination comes back as a send right when the send times out (I2).
        var dispatcher = new TestDispatcher { BlockHandler = new ManualResetEventSlim() };
        var server = StartServer(dispatcher);
        using var client = Connect();
        var caller = new Thread(() =>
        {
            using (_bed.ClientTask.Enter())
            {
                var request = new EchoRequest { Value = 1 };
                request.Prepare(0, 0);
                client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _);
            }
        });
        caller.Start();
        Assert.True(dispatcher.HandlerEntered.Wait(20_000));
        Thread stopper;
        using (_bed.ServerTask.Enter())
        {
            // Fill the wake port's queue (limit 1) while the loop is busy, so that Stop's own wake times out.
            int limit = 1;
            Assert.Equal(KernReturn.Success, Mach.PortSetAttributes(Mach.TaskSelf, server.WakePort, MachPortLimits.LimitsInfoFlavor, &limit, 1));
            var wake = new MachMsgHeader { Bits = MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.None), Size = MachMsgHeader.SizeOf, RemotePort = server.WakePort };
            Assert.Equal(MachMsgReturn.Success, Mach.Msg(&wake, MachMsgOption.SendMsg, MachMsgHeader.SizeOf, 0, 0, 0, 0));
            stopper = new Thread(server.Stop);
            stopper.Start();
        }
        Assert.True(SpinWait.SpinUntil(() => stopper.ThreadState.HasFlag(ThreadState.WaitSleepJoin), 20_000));
        dispatcher.BlockHandler.Set();
        Assert.True(stopper.Join(20_000));
        caller.Join();
        using (_bed.ClientTask.Enter())
        {
            client.Dispose();
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        AssertNoLeaks();
    }

    [Fact]
    public void PortDestroyedNotification_NamesTheReceiveRightItCarries_AndTheHandlerCanTakeIt()
    {
        // mach/notify.h mach_port_destroyed_notification_t: the right is a port descriptor at offset 28.
        ReceiveRight? taken = null;
        uint named = 0;
        int seen = 0;
        using var delivered = new CountdownEvent(2);
        var dispatcher = new TestDispatcher();
        var server = StartServer(dispatcher, new MachServerOptions
        {
            OnNotification = (in MachNotification n) =>
            {
                if (n.Id == MachNotify.PortDestroyed)
                {
                    if (Interlocked.Increment(ref seen) == 1)
                    {
                        named = n.NotPort;
                        taken = n.TakeReceiveRight(); // the second one is left to the server to destroy
                    }
                    delivered.Signal();
                }
            },
        });
        using (_bed.ServerTask.Enter())
        {
            for (int i = 0; i < 2; i++)
            {
                var port = ReceiveRight.Allocate();
                uint previous;
                Assert.Equal(KernReturn.Success, Mach.PortRequestNotification(Mach.TaskSelf, port.Name, MachNotify.PortDestroyed, 0,
                    server.ServicePort, MachMsgType.MakeSendOnce, &previous));
                port.Dispose(); // C11: the receive right goes to the notify port instead of dying
            }
        }
        Assert.True(delivered.Wait(20_000));
        Assert.NotNull(taken);
        Assert.NotEqual(0u, named);
        Assert.Equal(named, taken!.Name);
        using (_bed.ServerTask.Enter())
        {
            MachPortType type;
            Assert.Equal(KernReturn.Success, Mach.PortType(Mach.TaskSelf, taken.Name, &type));
            Assert.Equal(MachPortType.Receive, type);
            taken.Dispose();
            server.Dispose();
        }
        AssertNoLeaks();
    }

    private sealed class BadDispatcher(int maxRequestSize) : IMachDispatcher
    {
        public int MaxRequestSize => maxRequestSize;

        public MachDispatchResult Dispatch(MachMsgHeader* message, int length) => MachDispatchResult.UnknownId;
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void AServerThatCannotBeCreated_ReleasesItsPorts_AndCheckInFreesTheName(int maxRequestSize)
    {
        using (_bed.ServerTask.Enter())
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => MachServer.CheckIn(_bed.Service, new BadDispatcher(maxRequestSize)));
            Assert.False(BootstrapServer.TryLookUp(_bed.Service, out _, out BootstrapReturn reason3));
            Assert.Equal(BootstrapReturn.UnknownService, reason3);
        }
        AssertNoLeaks();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CheckInAndForget(string name) => _ = BootstrapServer.CheckIn(name);

    [Fact]
    public void AForgottenReceiveRight_IsReleasedByItsFinalizer_InItsOwnTask_WhichEndsItsBootstrapName()
    {
        using (_bed.ServerTask.Enter())
        {
            CheckInAndForget(_bed.Service);
            Assert.True(BootstrapServer.TryLookUp(_bed.Service, out var send, out BootstrapReturn reason4));
            Assert.Equal(BootstrapReturn.Success, reason4);
            send!.Dispose();
        }
        // The finalizer runs on the GC's thread, which never entered the server's task.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using (_bed.ServerTask.Enter())
        {
            Assert.False(BootstrapServer.TryLookUp(_bed.Service, out _, out BootstrapReturn reason5));
            Assert.Equal(BootstrapReturn.UnknownService, reason5);
        }
        AssertNoLeaks();
    }
}
