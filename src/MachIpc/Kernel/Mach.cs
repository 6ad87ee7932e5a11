using System;
using System.Runtime.CompilerServices;
using MachIpc.Abi;

namespace MachIpc.Kernel;

/// <summary>
/// The public face of the kernel seam: libSystem's Mach calls, routed to the real kernel on macOS and to
/// the simulated kernel elsewhere. Set the environment variable <c>MACHIPC_KERNEL</c> to <c>darwin</c> or
/// <c>simulated</c> before the first call to force a backend (for example to run the test suite against
/// the simulator on a Mac).
/// </summary>
public static unsafe class Mach
{
    /// <summary>The environment variable that forces a backend.</summary>
    public const string BackendVariable = "MACHIPC_KERNEL";

    private static IMachKernel? s_kernel;

    /// <summary>The backend in use.</summary>
    public static MachKernelBackend Backend { get; private set; } = SelectBackend();

    /// <summary>True when calls go to the real kernel; generated stubs then call libSystem directly.</summary>
    public static bool IsDarwin
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Backend == MachKernelBackend.Darwin;
    }

    internal static IMachKernel Kernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_kernel ?? CreateKernel();
    }

    private static MachKernelBackend SelectBackend()
    {
        string? forced = Environment.GetEnvironmentVariable(BackendVariable);
        MachKernelBackend backend;
        if (string.Equals(forced, "darwin", StringComparison.OrdinalIgnoreCase))
        {
            backend = MachKernelBackend.Darwin;
        }
        else if (string.Equals(forced, "simulated", StringComparison.OrdinalIgnoreCase))
        {
            backend = MachKernelBackend.Simulated;
        }
        else if (!string.IsNullOrEmpty(forced))
        {
            throw new InvalidOperationException($"{BackendVariable}='{forced}': expected 'darwin' or 'simulated'.");
        }
        else
        {
            backend = OperatingSystem.IsMacOS() ? MachKernelBackend.Darwin : MachKernelBackend.Simulated;
        }
        if (backend == MachKernelBackend.Simulated || !OperatingSystem.IsMacOS())
        {
            // Both the simulator and Darwin-over-the-native-library (served by the simulated kernel's host) need it.
            if (!SimulatedKernelFeature.IsSupported)
            {
                throw SimulatedKernelFeature.Removed();
            }
            if (backend == MachKernelBackend.Darwin)
            {
                // Before any generated stub can call mach_msg: they bind to libSystem directly, not through Kernel.
                Darwin.LibSystemOnLinux.Attach();
            }
        }
        return backend;
    }

    /// <summary>
    /// The environment variable through which a process hosting the simulated kernel tells its children where
    /// to join it (a Unix-domain socket path; see <see cref="Simulated.SimulatedMach.ShareWithChildren"/>).
    /// A process started with it (and the simulated backend) is a task of its parent's kernel; without it, a
    /// process gets its own private simulated kernel.
    /// </summary>
    public const string KernelSocketVariable = "MACHIPC_KERNEL_SOCKET";

    private static readonly System.Threading.Lock s_createLock = new();

    private static IMachKernel CreateKernel()
    {
        lock (s_createLock)
        {
            if (s_kernel is null)
            {
                s_kernel = Backend == MachKernelBackend.Darwin ? new Darwin.DarwinKernel() : CreateSimulatedKernel();
            }
            return s_kernel;
        }
    }

    private static IMachKernel CreateSimulatedKernel()
    {
        if (!SimulatedKernelFeature.IsSupported)
        {
            throw SimulatedKernelFeature.Removed();
        }
        string? socket = Environment.GetEnvironmentVariable(KernelSocketVariable);
        return !string.IsNullOrEmpty(socket) ? new Remote.RemoteKernel(socket) : Simulated.SimulatedKernel.Shared;
    }

    /// <summary>
    /// Prepares <paramref name="startInfo"/> so that the child process it starts talks to the same Mach kernel as
    /// this process, the way a macOS child inherits its parent's bootstrap port. On macOS there is nothing to do;
    /// with the simulated kernel the child joins this process's kernel (see
    /// <see cref="Simulated.SimulatedMach.ConfigureChild"/>); with <c>MACHIPC_KERNEL=darwin</c> off macOS it joins
    /// the same kernel host through the same native libSystem.
    /// </summary>
    public static void ConfigureChild(System.Diagnostics.ProcessStartInfo startInfo)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        if (OperatingSystem.IsMacOS() || !SimulatedKernelFeature.IsSupported)
        {
            return;
        }
        if (Backend == MachKernelBackend.Simulated)
        {
            Simulated.SimulatedMach.ConfigureChild(startInfo);
        }
        else
        {
            startInfo.Environment[KernelSocketVariable] = Darwin.LibSystemOnLinux.SocketPath;
            startInfo.Environment[BackendVariable] = "darwin";
        }
    }

    /// <summary><c>mach_msg</c>: send, receive, or both, in the current task.</summary>
    public static MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify) =>
        Kernel.Msg(msg, option, sendSize, rcvSize, rcvName, timeout, notify);

    /// <summary><c>mach_msg_destroy</c>: releases every right and out-of-line region a received message holds.</summary>
    public static void MsgDestroy(MachMsgHeader* msg) => Kernel.MsgDestroy(msg);

    /// <summary><c>mach_task_self()</c>: the current task's name for its own task port.</summary>
    public static uint TaskSelf => Kernel.TaskSelf();

    /// <summary>The pid of the calling task: the process id, or with the simulated kernel the pid of the simulated task the thread acts as.</summary>
    public static int CurrentPid => Kernel.CurrentPid();

    /// <summary><c>mach_port_allocate</c>.</summary>
    public static KernReturn PortAllocate(uint task, MachPortRight right, uint* name) => Kernel.PortAllocate(task, right, name);
    /// <summary><c>mach_port_construct</c>: allocates a receive right with the options' attributes.</summary>
    public static KernReturn PortConstruct(uint task, MachPortOptions* options, ulong context, uint* name) => Kernel.PortConstruct(task, options, context, name);
    /// <summary>
    /// <c>mach_port_names</c>: every name in <paramref name="task"/>'s space and its type. The two arrays were
    /// allocated by the kernel in the caller's space: free each with <see cref="VmDeallocate"/> (<c>count * 4</c> bytes).
    /// </summary>
    public static KernReturn PortNames(uint task, uint** names, uint* namesCount, MachPortType** types, uint* typesCount) =>
        Kernel.PortNames(task, names, namesCount, types, typesCount);
    /// <summary><c>mach_port_deallocate</c>.</summary>
    public static KernReturn PortDeallocate(uint task, uint name) => Kernel.PortDeallocate(task, name);
    /// <summary><c>mach_port_destroy</c>.</summary>
    public static KernReturn PortDestroy(uint task, uint name) => Kernel.PortDestroy(task, name);
    /// <summary><c>mach_port_mod_refs</c>.</summary>
    public static KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta) => Kernel.PortModRefs(task, name, right, delta);
    /// <summary><c>mach_port_insert_right</c>.</summary>
    public static KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly) => Kernel.PortInsertRight(task, name, poly, polyPoly);
    /// <summary><c>mach_port_extract_right</c>.</summary>
    public static KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly) => Kernel.PortExtractRight(task, name, msgtName, poly, polyPoly);
    /// <summary><c>mach_port_get_refs</c>.</summary>
    public static KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs) => Kernel.PortGetRefs(task, name, right, refs);
    /// <summary><c>mach_port_type</c>.</summary>
    public static KernReturn PortType(uint task, uint name, MachPortType* ptype) => Kernel.PortType(task, name, ptype);
    /// <summary><c>mach_port_request_notification</c>.</summary>
    public static KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous) =>
        Kernel.PortRequestNotification(task, name, msgid, sync, notify, notifyPoly, previous);
    /// <summary><c>mach_port_set_attributes</c>.</summary>
    public static KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount) => Kernel.PortSetAttributes(task, name, flavor, portInfo, portInfoCount);
    /// <summary><c>mach_port_get_attributes</c>.</summary>
    public static KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount) => Kernel.PortGetAttributes(task, name, flavor, portInfo, portInfoCount);
    /// <summary><c>mach_port_insert_member</c>.</summary>
    public static KernReturn PortInsertMember(uint task, uint name, uint pset) => Kernel.PortInsertMember(task, name, pset);
    /// <summary><c>mach_port_extract_member</c>.</summary>
    public static KernReturn PortExtractMember(uint task, uint name, uint pset) => Kernel.PortExtractMember(task, name, pset);
    /// <summary><c>mach_port_move_member</c>.</summary>
    public static KernReturn PortMoveMember(uint task, uint member, uint after) => Kernel.PortMoveMember(task, member, after);
    /// <summary><c>mach_vm_deallocate</c>: frees an out-of-line region received in a message.</summary>
    public static KernReturn VmDeallocate(uint task, ulong address, ulong size) => Kernel.VmDeallocate(task, address, size);
    /// <summary><c>task_get_special_port</c>.</summary>
    public static KernReturn TaskGetSpecialPort(uint task, int which, uint* port) => Kernel.TaskGetSpecialPort(task, which, port);
    /// <summary><c>pid_for_task</c>: the pid of the task <paramref name="task"/> names a task port of (-1 and <c>KERN_FAILURE</c> otherwise).</summary>
    public static KernReturn PidForTask(uint task, int* pid) => Kernel.PidForTask(task, pid);
    /// <summary>The <c>bootstrap_port</c> global: the calling task's send right to its bootstrap server (owned by the process; never deallocate it).</summary>
    public static uint BootstrapPort => Kernel.BootstrapPort();
    /// <summary><c>bootstrap_check_in</c> (<paramref name="serviceName"/> is a NUL-terminated <c>name_t</c>).</summary>
    public static int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp) => Kernel.BootstrapCheckIn(bp, serviceName, sp);
    /// <summary><c>bootstrap_register</c> (deprecated in libSystem, still served).</summary>
    public static int BootstrapRegister(uint bp, byte* serviceName, uint sp) => Kernel.BootstrapRegister(bp, serviceName, sp);
    /// <summary><c>bootstrap_look_up</c>.</summary>
    public static int BootstrapLookUp(uint bp, byte* serviceName, uint* sp) => Kernel.BootstrapLookUp(bp, serviceName, sp);
    /// <summary><c>fileport_makeport</c>: 0, or -1 with <see cref="LastErrno"/>.</summary>
    public static int FileportMakePort(int fd, uint* port) => Kernel.FileportMakePort(fd, port);
    /// <summary><c>fileport_makefd</c>: a new descriptor, or -1 with <see cref="LastErrno"/>.</summary>
    public static int FileportMakeFd(uint port) => Kernel.FileportMakeFd(port);
    /// <summary>errno of the calling thread's last failed fileport call.</summary>
    public static int LastErrno => Kernel.LastErrno;
}
