using System;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>Placeholder until the simulated kernel lands: every call reports that there is no kernel.</summary>
internal sealed unsafe class SimulatedKernel : IMachKernel
{
    internal static readonly SimulatedKernel Shared = new();

    public object? CaptureTask() => null;
    public IDisposable? EnterTask(object task) => null;
    public int LastErrno => 78; // ENOSYS on Darwin
    public uint TaskSelf() => MachPortName.Null;
    public MachMsgReturn Msg(MachMsgHeader* msg, MachMsgOption option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify) =>
        (option & MachMsgOption.SendMsg) != 0 ? MachMsgReturn.SendInvalidDest : MachMsgReturn.RcvInvalidName;
    public void MsgDestroy(MachMsgHeader* msg) { }
    public KernReturn PortAllocate(uint task, MachPortRight right, uint* name) => KernReturn.InvalidTask;
    public KernReturn PortDeallocate(uint task, uint name) => KernReturn.InvalidTask;
    public KernReturn PortDestroy(uint task, uint name) => KernReturn.InvalidTask;
    public KernReturn PortModRefs(uint task, uint name, MachPortRight right, int delta) => KernReturn.InvalidTask;
    public KernReturn PortInsertRight(uint task, uint name, uint poly, MachMsgType polyPoly) => KernReturn.InvalidTask;
    public KernReturn PortExtractRight(uint task, uint name, MachMsgType msgtName, uint* poly, MachMsgType* polyPoly) => KernReturn.InvalidTask;
    public KernReturn PortGetRefs(uint task, uint name, MachPortRight right, uint* refs) => KernReturn.InvalidTask;
    public KernReturn PortType(uint task, uint name, MachPortType* ptype) => KernReturn.InvalidTask;
    public KernReturn PortRequestNotification(uint task, uint name, int msgid, uint sync, uint notify, MachMsgType notifyPoly, uint* previous) => KernReturn.InvalidTask;
    public KernReturn PortSetAttributes(uint task, uint name, int flavor, int* portInfo, uint portInfoCount) => KernReturn.InvalidTask;
    public KernReturn PortGetAttributes(uint task, uint name, int flavor, int* portInfo, uint* portInfoCount) => KernReturn.InvalidTask;
    public KernReturn PortInsertMember(uint task, uint name, uint pset) => KernReturn.InvalidTask;
    public KernReturn PortExtractMember(uint task, uint name, uint pset) => KernReturn.InvalidTask;
    public KernReturn PortMoveMember(uint task, uint member, uint after) => KernReturn.InvalidTask;
    public KernReturn VmDeallocate(uint task, ulong address, ulong size) => KernReturn.InvalidTask;
    public KernReturn TaskGetSpecialPort(uint task, int which, uint* port) => KernReturn.InvalidTask;
    public int BootstrapCheckIn(uint bp, byte* serviceName, uint* sp) => (int)BootstrapReturn.UnknownService;
    public int BootstrapRegister(uint bp, byte* serviceName, uint sp) => (int)BootstrapReturn.UnknownService;
    public int BootstrapLookUp(uint bp, byte* serviceName, uint* sp) => (int)BootstrapReturn.UnknownService;
    public int FileportMakePort(int fd, uint* port) => -1;
    public int FileportMakeFd(uint port) => -1;
}
