using MachIpc.Client;
using MachIpc.Ports;
using MachIpc.Server;
using Xunit;

namespace MachIpc.Tests.Server;

/// <summary>MachServer with several receive threads, and its asynchronous start and stop.</summary>
public sealed class MachServerConcurrencyTests : IDisposable
{
    private readonly ServerTestBed _bed = new("concurrency");

    public void Dispose() => _bed.Dispose();

    [Theory]
    [InlineData(2)]
    [InlineData(8)] // more threads than the wake port's default queue limit (5) holds wakes for
    public async Task ReceiveThreads_AllStart_AllAreWokenAndJoinedByStop_AndStartAgain(int threads)
    {
        var server = _bed.StartServer(new TestDispatcher(), new MachServerOptions { ReceiveThreads = threads });
        for (int round = 0; round < 3; round++)
        {
            Assert.True(server.IsRunning);
            await Task.Run(server.Stop).WaitAsync(TimeSpan.FromSeconds(30)); // bounded: a thread left blocked fails the test
            Assert.False(server.IsRunning);
            Assert.Equal(0, _bed.MessagesOn(server.WakePort)); // no stale wake left for the next Start
            using (_bed.ServerTask.Enter())
            {
                server.Start();
            }
        }
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        _bed.AssertNoLeaks();
    }

    [Fact]
    public void ReceiveThreads_ServeMessagesConcurrently()
    {
        // Each handler waits until the other is inside too: with one thread serving, the first would wait alone.
        var dispatcher = new TestDispatcher { AllInside = new Barrier(2) };
        var server = _bed.StartServer(dispatcher, new MachServerOptions { ReceiveThreads = 2 });
        var replies = new int[2];
        var callers = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            using (_bed.ClientTask.Enter())
            using (var client = _bed.Connect())
            {
                var request = new EchoRequest { Value = 10 * i };
                request.Prepare(0, 0);
                replies[i] = client.Call<EchoRequest, EchoReply>(request, receiveTimeout: TimeSpan.FromSeconds(60)).Message.Value;
            }
        })).ToArray();
        foreach (var t in callers)
        {
            t.Start();
        }
        foreach (var t in callers)
        {
            t.Join();
        }
        Assert.Equal([1, 11], replies);
        Assert.Equal(0, server.Metrics.HandlerFailures);
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        _bed.AssertNoLeaks();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task StopAsync_CompletesWhenTheLoopsHaveEnded_AndItsCancellationStopsOnlyTheWaiting(int threads)
    {
        using var block = new ManualResetEventSlim();
        var dispatcher = new TestDispatcher { BlockHandler = block };
        var server = _bed.StartServer(dispatcher, new MachServerOptions { ReceiveThreads = threads });
        var caller = new Thread(() =>
        {
            using (_bed.ClientTask.Enter())
            using (var client = _bed.Connect())
            {
                var request = new EchoRequest { Value = 1 };
                request.Prepare(0, 0);
                client.TryCall<EchoRequest, EchoReply>(request, out _, out _, out _, receiveTimeout: TimeSpan.FromSeconds(60));
            }
        });
        caller.Start();
        dispatcher.HandlerEntered.Wait();
        Task stopped = server.StopAsync();
        Assert.False(stopped.IsCompleted); // a handler is still running
        using (var impatient = new CancellationTokenSource())
        {
            Task gaveUp = server.StopAsync(impatient.Token);
            impatient.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp);
        }
        Assert.True(server.IsRunning); // the shutdown goes on
        Assert.False(stopped.IsCompleted);
        block.Set();
        await stopped.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(server.IsRunning);
        Assert.Equal(1, Volatile.Read(ref dispatcher.Handled));
        caller.Join();
        Assert.True(server.StopAsync().IsCompletedSuccessfully); // stopped: nothing to wait for
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        _bed.AssertNoLeaks();
    }

    [Fact]
    public async Task StartAsync_Starts_AndACancelledTokenStartsNothing()
    {
        MachServer server;
        using (_bed.ServerTask.Enter())
        {
            server = MachServer.CheckIn(_bed.Service, new TestDispatcher());
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.StartAsync(new CancellationToken(canceled: true)));
        Assert.False(server.IsRunning);
        await server.StartAsync();
        Assert.True(server.IsRunning);
        await server.StopAsync();
        Assert.False(server.IsRunning);
        using (_bed.ServerTask.Enter())
        {
            server.Dispose();
        }
        _bed.AssertNoLeaks();
    }

    [Fact]
    public void ReceiveThreads_OutsideOneTo256_AreRefused_AndTheServiceRightReleased()
    {
        using (_bed.ServerTask.Enter())
        {
            foreach (int threads in new[] { 0, -1, 257 })
            {
                var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MachServer(new TestDispatcher(), ReceiveRight.Allocate(), new MachServerOptions { ReceiveThreads = threads }));
                Assert.Equal("options", ex.ParamName);
            }
        }
        _bed.AssertNoLeaks();
    }
}
