using System;
using MachIpc.Abi;

namespace MachIpc.Kernel;

/// <summary>
/// The one kernel seam: every kernel call MachIpc (and code it generates) makes, with libSystem's C
/// signatures. Two backends implement it: <c>DarwinKernel</c> (P/Invoke into libSystem) and
/// <c>SimulatedKernel</c> (a user-space model of XNU's Mach IPC). Results are the real codes.
/// </summary>
/// <remarks>
/// <c>task</c> parameters are names of task ports in the caller's space (<see cref="TaskSelf"/> for the
/// caller's own), as in XNU; the calling task of <see cref="Msg"/> is the current one.
/// </remarks>
internal unsafe interface IMachKernel
{
    MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify);
    void MsgDestroy(MachMsgHeader* msg);
    uint TaskSelf();
    KernReturn PortAllocate(uint task, MachPortRight right, uint* name);
    KernReturn PortConstruct(uint task, MachPortOptions* options, ulong context, uint* name);
    /// <summary>
    /// <c>mach_port_names</c>: two arrays the kernel allocated in the caller's space (free each with
    /// <see cref="VmDeallocate"/>, <c>count * 4</c> bytes).
    /// </summary>
    KernReturn PortNames(uint task, uint** names, uint* namesCount, MachPortType** types, uint* typesCount);
    KernReturn PortDeallocate(uint task, uint name);
    KernReturn PortDestroy(uint task, uint name);
    KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta);
    KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly);
    KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly);
    KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs);
    KernReturn PortType(uint task, uint name, MachPortType* ptype);
    KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous);
    KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount);
    KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount);
    KernReturn PortInsertMember(uint task, uint name, uint pset);
    KernReturn PortExtractMember(uint task, uint name, uint pset);
    KernReturn PortMoveMember(uint task, uint member, uint after);
    KernReturn VmDeallocate(uint task, ulong address, ulong size);
    KernReturn TaskGetSpecialPort(uint task, int which, uint* port);
    /// <summary><c>pid_for_task</c>: the pid of the task whose task (or task name) port <paramref name="task"/> names; -1 and <c>KERN_FAILURE</c> otherwise.</summary>
    KernReturn PidForTask(uint task, int* pid);
    /// <summary>The <c>bootstrap_port</c> global: the calling task's send right to its bootstrap server, set up once at process start.</summary>
    uint BootstrapPort();
    int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp);
    int BootstrapRegister(uint bp, byte* serviceName, uint sp);
    int BootstrapLookUp(uint bp, byte* serviceName, uint* sp);
    /// <summary><c>fileport_makeport</c>: 0, or -1 with <see cref="LastErrno"/> set.</summary>
    int FileportMakePort(int fd, uint* port);
    /// <summary><c>fileport_makefd</c>: a new fd, or -1 with <see cref="LastErrno"/> set.</summary>
    int FileportMakeFd(uint port);
    /// <summary>errno of the calling thread's last failed fileport call.</summary>
    int LastErrno { get; }

    /// <summary>The pid of the task the calling thread acts as (what its audit token carries).</summary>
    int CurrentPid();

    /// <summary>The task the calling thread acts as (null where every thread is in one task).</summary>
    object? CaptureTask();

    /// <summary>Makes the calling thread act as <paramref name="task"/> (from <see cref="CaptureTask"/>) until disposed.</summary>
    IDisposable? EnterTask(object task);
}
