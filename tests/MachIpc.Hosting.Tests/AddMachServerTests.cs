using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MachIpc.Abi;
using MachIpc.Bootstrap;
using MachIpc.Client;
using MachIpc.Kernel.Simulated;
using MachIpc.Samples.HostedService;
using MachIpc.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

// The leak check is kernel-wide: nothing else may run meanwhile.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MachIpc.Hosting.Tests;

/// <summary>services.AddMachServer in a Generic Host, on the simulated kernel (every thread acts in its main task).</summary>
public sealed class AddMachServerTests
{
    private static string NewServiceName() => "org.machipc.tests.hosted." + Guid.NewGuid().ToString("N");

    private static IHost BuildHost(string service, CollectingLoggerProvider logs, Action<MachServerOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddMetrics();
        builder.Services.AddMachServer<Greeter>(service, configure);
        return builder.Build();
    }

    private static AddRequest Add(int a, int b)
    {
        var request = new AddRequest { A = a, B = b };
        request.Prepare(0, 0);
        return request;
    }

    [Fact]
    public async Task TheHostServesTheNameWhileItRuns_AndStopReleasesEverything()
    {
        string service = NewServiceName();
        var logs = new CollectingLoggerProvider();
        KernelSnapshot before = SimulatedMach.Snapshot();
        using (IHost host = BuildHost(service, logs, o => o.ReceiveThreads = 2))
        {
            // Not checked in before the host starts: the name belongs to a running server only.
            Assert.False(BootstrapServer.TryLookUp(service, out _, out BootstrapReturn unknown));
        Assert.Equal(BootstrapReturn.UnknownService, unknown);
            await host.StartAsync();
            using (var client = new MachRpcClient(BootstrapServer.LookUp(service)))
            {
                MachRpcReply<AddReply> reply = await client.CallAsync<AddRequest, AddReply>(Add(40, 2));
                Assert.Equal(42, reply.Message.Sum);
                Assert.Equal(Environment.ProcessId, reply.Sender.Pid);
                var count = new CountRequest();
                count.Prepare(0, 0);
                Assert.Equal(2, client.Call<CountRequest, CountReply>(count).Message.Served); // one handlers object serves both
            }
            await host.StopAsync();
            // Stopped: the server is gone, and with its receive right the name.
            Assert.False(BootstrapServer.TryLookUp(service, out _, out BootstrapReturn gone));
            Assert.Equal(BootstrapReturn.UnknownService, gone);
        }
        SimulatedMach.Snapshot().AssertNoLeaksSince(before);

        // The host's logger was the server's: its start (2 receive threads, from the options) and stop, under their event ids.
        var server = logs.Entries.Where(e => e.Category == "MachIpc.Server.MachServer").ToList();
        var started = Assert.Single(server, e => e.EventId.Id == 1);
        Assert.Equal(service, started.Fields["Server"]);
        Assert.Equal(2, started.Fields["ReceiveThreads"]);
        Assert.Single(server, e => e.EventId.Id == 2);
        // The handlers were constructed with the host's services (Greeter takes an ILogger<Greeter>).
        Assert.Contains(logs.Entries, e => e.Category == typeof(Greeter).FullName);
    }

    [Fact]
    public async Task TheOptionsAreTheNamedOptions_AndTheMeterComesFromTheHostsMeterFactory()
    {
        string service = NewServiceName();
        var logs = new CollectingLoggerProvider();
        using IHost host = BuildHost(service, logs, o => o.MaxMessageSize = 4096);
        MachServerOptions options = host.Services.GetRequiredService<IOptionsMonitor<MachServerOptions>>().Get(service);
        Assert.Equal(service, options.Name);
        Assert.Equal(4096, options.MaxMessageSize);
        IMeterFactory factory = host.Services.GetRequiredService<IMeterFactory>();
        Assert.Same(factory, options.MeterFactory);
        Assert.NotNull(options.Logger);

        var received = new ConcurrentBag<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "machipc.server.received")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => received.Add(value));
        listener.Start();
        await host.StartAsync();
        using (var client = new MachRpcClient(BootstrapServer.LookUp(service)))
        {
            Assert.Equal(3, client.Call<AddRequest, AddReply>(Add(1, 2)).Message.Sum);
        }
        await host.StopAsync();
        listener.RecordObservableInstruments();
        Assert.Contains(1L, received);
    }

    [Fact]
    public async Task AStopThatStopsWaiting_StillEndsTheServer_AndDisposingTheHostReleasesIt()
    {
        string service = NewServiceName();
        KernelSnapshot before = SimulatedMach.Snapshot();
        using (IHost host = BuildHost(service, new CollectingLoggerProvider()))
        {
            await host.StartAsync();
            await host.StopAsync(new CancellationToken(canceled: true));
        }
        Assert.False(BootstrapServer.TryLookUp(service, out _, out BootstrapReturn unknown));
        Assert.Equal(BootstrapReturn.UnknownService, unknown);
        SimulatedMach.Snapshot().AssertNoLeaksSince(before);
    }

    [Fact]
    public void BadArguments_AreArgumentExceptions()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddMachServer<Greeter>(null!));
        Assert.Throws<ArgumentException>(() => services.AddMachServer<Greeter>(""));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddMachServer<Greeter>("x"));
    }
}

internal sealed record LogEntry(string Category, EventId EventId, IReadOnlyDictionary<string, object?> Fields);

internal sealed class CollectingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CollectingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = (state as IEnumerable<KeyValuePair<string, object?>>)?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? new();
            provider.Entries.Enqueue(new LogEntry(category, eventId, fields));
        }
    }
}
