using System;
using System.Diagnostics.CodeAnalysis;

namespace MachIpc.Kernel;

/// <summary>
/// Whether this app carries the simulated kernel (Kernel/Simulated) and its host (Kernel/Remote). Both are reached
/// only through this switch, so when an app is trimmed or compiled with Native AOT with the switch off, none of
/// their code is left in it. The package's <c>buildTransitive/net10.0/MachIpc.targets</c> (src/MachIpc/build)
/// turns it off for <c>osx-*</c> runtime identifiers, in every app that gets the package, directly or through a
/// library (the real kernel is there; <c>MachIpcSimulatedKernelSupport=true</c> keeps the simulator, for example to
/// run tests on it on a Mac); everywhere else it is on, so Linux needs no configuration.
/// </summary>
internal static class SimulatedKernelFeature
{
    internal const string SwitchName = "MachIpc.SimulatedKernel.IsSupported";

    [FeatureSwitchDefinition(SwitchName)]
    internal static bool IsSupported { get; } = !AppContext.TryGetSwitch(SwitchName, out bool enabled) || enabled;

    internal static PlatformNotSupportedException Removed() =>
        new($"The simulated kernel is not part of this app ({SwitchName} is false; it is off by default for osx-* " +
            "runtime identifiers). Set the MSBuild property MachIpcSimulatedKernelSupport=true to keep it.");
}
