using System;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using MachIpc.Hosting;
using MachIpc.Server;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers MachIpc servers with a .NET Generic Host.</summary>
public static class MachServerServiceCollectionExtensions
{
    /// <summary>
    /// Serves <paramref name="serviceName"/> with the generated dispatcher of <typeparamref name="THandlers"/> (a
    /// <c>[MachServer]</c> partial class) while the host runs: an <see cref="IHostedService"/> checks the name in with the
    /// bootstrap server and starts a <see cref="MachServer"/> when the host starts, and stops it and releases the name
    /// when the host stops.
    /// </summary>
    /// <remarks>
    /// <typeparamref name="THandlers"/> is taken from the container if registered there, and otherwise constructed with
    /// its constructor's services injected. The options are the named options <paramref name="serviceName"/>
    /// (<c>services.Configure&lt;MachServerOptions&gt;(serviceName, ...)</c> and <paramref name="configure"/>); their
    /// <see cref="MachServerOptions.Name"/> defaults to the service name, and unless set, <see cref="MachServerOptions.Logger"/>
    /// comes from the host's <see cref="ILoggerFactory"/> (category <c>MachIpc.Server.MachServer</c>) and
    /// <see cref="MachServerOptions.MeterFactory"/> is the host's <see cref="IMeterFactory"/>.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="serviceName"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="serviceName"/> is empty.</exception>
    public static IServiceCollection AddMachServer<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandlers>(
        this IServiceCollection services, string serviceName, Action<MachServerOptions>? configure = null)
        where THandlers : class, IMachDispatcher
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        var options = services.AddOptions<MachServerOptions>(serviceName).Configure(o => o.Name = serviceName);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.PostConfigure<IServiceProvider>((o, provider) =>
        {
            o.Logger ??= provider.GetService<ILoggerFactory>()?.CreateLogger<MachServer>();
            o.MeterFactory ??= provider.GetService<IMeterFactory>();
        });
        services.AddHostedService(provider => new MachHostedServer(
            serviceName,
            ActivatorUtilities.GetServiceOrCreateInstance<THandlers>(provider),
            provider.GetRequiredService<IOptionsMonitor<MachServerOptions>>().Get(serviceName)));
        return services;
    }
}
