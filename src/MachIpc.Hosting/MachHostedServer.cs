using System;
using System.Threading;
using System.Threading.Tasks;
using MachIpc.Server;
using Microsoft.Extensions.Hosting;

namespace MachIpc.Hosting;

/// <summary>
/// A <see cref="MachServer"/> as an <see cref="IHostedService"/>: checks the service name in and starts serving when
/// the host starts; stops serving, and releases the name and every port, when the host stops.
/// </summary>
internal sealed class MachHostedServer : IHostedService, IDisposable
{
    private readonly string _serviceName;
    private readonly IMachDispatcher _dispatcher;
    private readonly MachServerOptions _options;
    private MachServer? _server;

    public MachHostedServer(string serviceName, IMachDispatcher dispatcher, MachServerOptions options)
    {
        _serviceName = serviceName;
        _dispatcher = dispatcher;
        _options = options;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Checked in here, not when the service is constructed: the name belongs to a running server only.
        var server = MachServer.CheckIn(_serviceName, _dispatcher, _options);
        try
        {
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            throw;
        }
        _server = server;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        MachServer? server = _server;
        if (server is null)
        {
            return;
        }
        // Completes once no handler runs. If the host stops waiting first, that is not an error (as BackgroundService
        // has it): the loops still end, and Dispose (when the host is disposed) joins them before releasing the ports.
        Task stopped = server.StopAsync(cancellationToken);
        await stopped.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (stopped.IsCompletedSuccessfully)
        {
            _server = null;
            server.Dispose(); // the loops have ended: releases the service port, and with it the name, at once
        }
    }

    public void Dispose()
    {
        _server?.Dispose();
        _server = null;
    }
}
