using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;

namespace MachIpc.Kernel.Darwin;

/// <summary>
/// The seam over the real kernel: libSystem's entry points declared in LibraryImport's final generated
/// form (blittable <c>DllImport</c>, <c>ExactSpelling</c>, pointers and primitives only).
/// </summary>
internal sealed unsafe class DarwinKernel : IMachKernel
{
    internal const string LibSystem = "/usr/lib/libSystem.B.dylib";

    /// <summary>Off macOS, the library standing in for libSystem (set by LibSystemOnLinux before this backend is created).</summary>
    internal static nint StandIn { get; set; }

    private readonly uint _taskSelf;
    private readonly uint* _bootstrapPort;
    [ThreadStatic] private static int t_lastErrno;

    internal DarwinKernel()
    {
        // mach_task_self() is a macro reading the exported variable mach_task_self_.
        nint lib = StandIn != 0 ? StandIn : NativeLibrary.Load(LibSystem);
        _taskSelf = *(uint*)NativeLibrary.GetExport(lib, "mach_task_self_");
        // bootstrap_port is a global libSystem fills in at process start (and after fork); read it on each use,
        // as Chromium, Ladybird and ipc-channel do, rather than asking the kernel for a new right each time.
        _bootstrapPort = (uint*)NativeLibrary.GetExport(lib, "bootstrap_port");
    }

    public uint BootstrapPort() => *_bootstrapPort;

    public int CurrentPid() => Environment.ProcessId;

    public object? CaptureTask() => null;

    public IDisposable? EnterTask(object task) => null;
    public int LastErrno => t_lastErrno;

    public uint TaskSelf() => _taskSelf;

    public MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify) =>
        (MachMsgReturn)Native.mach_msg(msg, (int)option, sendSize, rcvSize, rcvName, timeout, notify);

    public void MsgDestroy(MachMsgHeader* msg) => Native.mach_msg_destroy(msg);

    public KernReturn PortAllocate(uint task, MachPortRight right, uint* name) => (KernReturn)Native.mach_port_allocate(task, (uint)right, name);
    public KernReturn PortConstruct(uint task, MachPortOptions* options, ulong context, uint* name) =>
        (KernReturn)Native.mach_port_construct(task, options, context, name);

    public KernReturn PortNames(uint task, uint** names, uint* namesCount, MachPortType** types, uint* typesCount) =>
        (KernReturn)Native.mach_port_names(task, names, namesCount, (uint**)types, typesCount);

    public KernReturn PidForTask(uint task, int* pid) => (KernReturn)Native.pid_for_task(task, pid);

    public KernReturn PortDeallocate(uint task, uint name) => (KernReturn)Native.mach_port_deallocate(task, name);
    public KernReturn PortDestroy(uint task, uint name) => (KernReturn)Native.mach_port_destroy(task, name);
    public KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta) => (KernReturn)Native.mach_port_mod_refs(task, name, (uint)right, delta);
    public KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly) => (KernReturn)Native.mach_port_insert_right(task, name, poly, (uint)polyPoly);

    public KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly)
    {
        uint type;
        var kr = (KernReturn)Native.mach_port_extract_right(task, name, (uint)msgtName, poly, &type);
        *polyPoly = (MachMsgType)type;
        return kr;
    }

    public KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs) => (KernReturn)Native.mach_port_get_refs(task, name, (uint)right, refs);
    public KernReturn PortType(uint task, uint name, MachPortType* ptype) => (KernReturn)Native.mach_port_type(task, name, (uint*)ptype);

    public KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous) =>
        (KernReturn)Native.mach_port_request_notification(task, name, msgid, sync, notify, (uint)notifyPoly, previous);

    public KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount) =>
        (KernReturn)Native.mach_port_set_attributes(task, name, flavor, portInfo, portInfoCount);

    public KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount) =>
        (KernReturn)Native.mach_port_get_attributes(task, name, flavor, portInfo, portInfoCount);

    public KernReturn PortInsertMember(uint task, uint name, uint pset) => (KernReturn)Native.mach_port_insert_member(task, name, pset);
    public KernReturn PortExtractMember(uint task, uint name, uint pset) => (KernReturn)Native.mach_port_extract_member(task, name, pset);
    public KernReturn PortMoveMember(uint task, uint member, uint after) => (KernReturn)Native.mach_port_move_member(task, member, after);
    public KernReturn VmDeallocate(uint task, ulong address, ulong size) => (KernReturn)Native.mach_vm_deallocate(task, address, size);
    public KernReturn TaskGetSpecialPort(uint task, int which, uint* port) => (KernReturn)Native.task_get_special_port(task, which, port);

    public int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp) => Native.bootstrap_check_in(bp, serviceName, sp);
    public int BootstrapRegister(uint bp, byte* serviceName, uint sp) => Native.bootstrap_register(bp, serviceName, sp);
    public int BootstrapLookUp(uint bp, byte* serviceName, uint* sp) => Native.bootstrap_look_up(bp, serviceName, sp);

    public int FileportMakePort(int fd, uint* port)
    {
        // The shape LibraryImport emits for SetLastError = true.
        Marshal.SetLastSystemError(0);
        int result = Native.fileport_makeport(fd, port);
        t_lastErrno = Marshal.GetLastSystemError();
        return result;
    }

    public int FileportMakeFd(uint port)
    {
        Marshal.SetLastSystemError(0);
        int result = Native.fileport_makefd(port);
        t_lastErrno = Marshal.GetLastSystemError();
        return result;
    }

    /// <summary>The libSystem prototypes, exactly as exported (see the ABI fact sheet).</summary>
    internal static class Native
    {
        [DllImport(LibSystem, EntryPoint = "mach_msg", ExactSpelling = true)]
        internal static extern int mach_msg(MachMsgHeader* msg, int option, uint send_size, uint rcv_size, uint rcv_name, uint timeout, uint notify);

        [DllImport(LibSystem, EntryPoint = "mach_msg_destroy", ExactSpelling = true)]
        internal static extern void mach_msg_destroy(MachMsgHeader* msg);

        [DllImport(LibSystem, EntryPoint = "mach_port_allocate", ExactSpelling = true)]
        internal static extern int mach_port_allocate(uint task, uint right, uint* name);

        [DllImport(LibSystem, EntryPoint = "mach_port_construct", ExactSpelling = true)]
        internal static extern int mach_port_construct(uint task, MachPortOptions* options, ulong context, uint* name);

        [DllImport(LibSystem, EntryPoint = "mach_port_names", ExactSpelling = true)]
        internal static extern int mach_port_names(uint task, uint** names, uint* namesCnt, uint** types, uint* typesCnt);

        [DllImport(LibSystem, EntryPoint = "pid_for_task", ExactSpelling = true)]
        internal static extern int pid_for_task(uint t, int* x);

        [DllImport(LibSystem, EntryPoint = "mach_port_deallocate", ExactSpelling = true)]
        internal static extern int mach_port_deallocate(uint task, uint name);

        [DllImport(LibSystem, EntryPoint = "mach_port_destroy", ExactSpelling = true)]
        internal static extern int mach_port_destroy(uint task, uint name);

        [DllImport(LibSystem, EntryPoint = "mach_port_mod_refs", ExactSpelling = true)]
        internal static extern int mach_port_mod_refs(uint task, uint name, uint right, int delta);

        [DllImport(LibSystem, EntryPoint = "mach_port_insert_right", ExactSpelling = true)]
        internal static extern int mach_port_insert_right(uint task, uint name, uint poly, uint polyPoly);

        [DllImport(LibSystem, EntryPoint = "mach_port_extract_right", ExactSpelling = true)]
        internal static extern int mach_port_extract_right(uint task, uint name, uint msgt_name, uint* poly, uint* polyPoly);

        [DllImport(LibSystem, EntryPoint = "mach_port_get_refs", ExactSpelling = true)]
        internal static extern int mach_port_get_refs(uint task, uint name, uint right, uint* refs);

        [DllImport(LibSystem, EntryPoint = "mach_port_type", ExactSpelling = true)]
        internal static extern int mach_port_type(uint task, uint name, uint* ptype);

        [DllImport(LibSystem, EntryPoint = "mach_port_request_notification", ExactSpelling = true)]
        internal static extern int mach_port_request_notification(uint task, uint name, int msgid, uint sync, uint notify, uint notifyPoly, uint* previous);

        [DllImport(LibSystem, EntryPoint = "mach_port_set_attributes", ExactSpelling = true)]
        internal static extern int mach_port_set_attributes(uint task, uint name, int flavor, int* port_info, uint port_infoCnt);

        [DllImport(LibSystem, EntryPoint = "mach_port_get_attributes", ExactSpelling = true)]
        internal static extern int mach_port_get_attributes(uint task, uint name, int flavor, int* port_info, uint* port_infoCnt);

        [DllImport(LibSystem, EntryPoint = "mach_port_insert_member", ExactSpelling = true)]
        internal static extern int mach_port_insert_member(uint task, uint name, uint pset);

        [DllImport(LibSystem, EntryPoint = "mach_port_extract_member", ExactSpelling = true)]
        internal static extern int mach_port_extract_member(uint task, uint name, uint pset);

        [DllImport(LibSystem, EntryPoint = "mach_port_move_member", ExactSpelling = true)]
        internal static extern int mach_port_move_member(uint task, uint member, uint after);

        [DllImport(LibSystem, EntryPoint = "mach_vm_deallocate", ExactSpelling = true)]
        internal static extern int mach_vm_deallocate(uint target, ulong address, ulong size);

        [DllImport(LibSystem, EntryPoint = "task_get_special_port", ExactSpelling = true)]
        internal static extern int task_get_special_port(uint task, int which_port, uint* special_port);

        [DllImport(LibSystem, EntryPoint = "bootstrap_check_in", ExactSpelling = true)]
        internal static extern int bootstrap_check_in(uint bp, byte* service_name, uint* sp);

        [DllImport(LibSystem, EntryPoint = "bootstrap_register", ExactSpelling = true)]
        internal static extern int bootstrap_register(uint bp, byte* service_name, uint sp);

        [DllImport(LibSystem, EntryPoint = "bootstrap_look_up", ExactSpelling = true)]
        internal static extern int bootstrap_look_up(uint bp, byte* service_name, uint* sp);

        [DllImport(LibSystem, EntryPoint = "fileport_makeport", ExactSpelling = true)]
        internal static extern int fileport_makeport(int fd, uint* port);

        [DllImport(LibSystem, EntryPoint = "fileport_makefd", ExactSpelling = true)]
        internal static extern int fileport_makefd(uint port);
    }
}
