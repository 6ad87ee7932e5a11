using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace MachIpc.Kernel.Darwin;

/// <summary>
/// <c>MACHIPC_KERNEL=darwin</c> off macOS: the Darwin backend, and every generated <c>mach_msg</c> stub (in this
/// assembly and in users' assemblies alike), bind to <c>libmachipc_system.so</c> — libSystem's Mach API written in
/// C over the kernel host's socket protocol (src/native) — so the process runs the code it runs on a Mac. The
/// library stands in for <c>/usr/lib/libSystem.B.dylib</c> through <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/>,
/// which the runtime raises for any assembly's <c>DllImport</c> of a library it could not load (with Native AOT, through
/// a DllImport resolver on every assembly).
/// </summary>
/// <remarks>
/// The host is the one named by <c>MACHIPC_KERNEL_SOCKET</c>; without it this process hosts the simulated kernel
/// itself (a connection from its own pid acts as its main task). The path is handed to the library explicitly:
/// the library reads the native environment, which <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change.
/// </remarks>
internal static unsafe class LibSystemOnLinux
{
    internal const string LibraryName = "machipc_system";

    private static nint s_library;

    private static nint Resolve(string name, Assembly? assembly, DllImportSearchPath? searchPath) =>
        name == DarwinKernel.LibSystem ? s_library : 0;

    /// <summary>The kernel host's socket this process joined; children join the same one.</summary>
    internal static string? SocketPath { get; private set; }

    /// <summary>Loads the library, makes it answer for libSystem, and joins the kernel host (once, from <see cref="Mach"/>).</summary>
    internal static void Attach()
    {
        Assembly self = typeof(LibSystemOnLinux).Assembly;
        if (!NativeLibrary.TryLoad(LibraryName, self, null, out s_library))
        {
            throw new DllNotFoundException(
                $"{Mach.BackendVariable}=darwin off macOS needs lib{LibraryName}.so next to {self.GetName().Name}.dll " +
                "(built from src/native; the package carries it under runtimes/<rid>/native).");
        }
        DarwinKernel.StandIn = s_library;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) => Resolve(name, null, null);
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            // Native AOT raises no AssemblyLoadContext events, but every assembly is compiled in: give each one a
            // DllImport resolver (one that already has its own keeps it).
            foreach (Assembly assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                try
                {
                    NativeLibrary.SetDllImportResolver(assembly, Resolve);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }

        string? path = Environment.GetEnvironmentVariable(Mach.KernelSocketVariable);
        SocketPath = string.IsNullOrEmpty(path) ? Remote.KernelHost.Start().SocketPath : path;
        var join = (delegate* unmanaged<byte*, int>)NativeLibrary.GetExport(s_library, "machipc_libsystem_join");
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(SocketPath + "\0");
        fixed (byte* p = bytes)
        {
            // On failure the library has said why on stderr and every call now fails fast, as RemoteKernel does.
            _ = join(p);
        }
    }
}
