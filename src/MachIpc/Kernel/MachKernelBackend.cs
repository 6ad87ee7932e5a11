namespace MachIpc.Kernel;

/// <summary>Which kernel the seam talks to.</summary>
public enum MachKernelBackend
{
    /// <summary>The real XNU kernel through <c>/usr/lib/libSystem.B.dylib</c> (macOS only).</summary>
    Darwin = 1,
    /// <summary>MachIpc's user-space model of XNU's Mach IPC (any OS).</summary>
    Simulated = 2,
}
