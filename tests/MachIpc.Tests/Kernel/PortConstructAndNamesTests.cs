using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;

namespace MachIpc.Tests.Kernel;

// mach_port_construct, mach_port_names, pid_for_task and the bootstrap_port global (osfmk/ipc/mach_port.c,
// bsd/kern/kern_proc.c pid_for_task, libsyscall/mach/mach_init.c).
[Collection("Kernel")]
public unsafe class PortConstructAndNamesTests
{
    private static KernReturn Construct(MachPortConstructFlags flags, out uint name, uint qlimit = 0, ulong context = 0)
    {
        var options = new MachPortOptions { Flags = flags, QLimit = qlimit };
        uint n = 0;
        var kr = Mach.PortConstruct(Mach.TaskSelf, &options, context, &n);
        name = n;
        return kr;
    }

    [Fact]
    public void Construct_QLimitAndInsertSendRight_ApplyToTheNewPort()
    {
        using var k = new K();
        Assert.Equal(KernReturn.Success, Construct(MachPortConstructFlags.QLimit | MachPortConstructFlags.InsertSendRight, out uint name, qlimit: 17));
        Assert.Equal(MachPortType.SendReceive, K.Type(name));
        Assert.Equal(1u, K.Refs(name, MachPortRight.Send));
        Assert.Equal(17, K.Status(name)[3]); // mps_qlimit
        Assert.Equal(1, K.MsCount(name));     // the inserted send right was made (MAKE_SEND)
        K.Dealloc(name);
        K.DestroyReceive(name);
    }

    [Fact]
    public void Construct_WithoutOptions_IsAPlainReceiveRightWithTheDefaultQueueLimit()
    {
        using var k = new K();
        Assert.Equal(KernReturn.Success, Construct(MachPortConstructFlags.None, out uint name));
        Assert.Equal(MachPortType.Receive, K.Type(name));
        Assert.Equal((int)MachPortLimits.QLimitDefault, K.Status(name)[3]);
        K.DestroyReceive(name);
    }

    [Fact]
    public void Construct_ProvisionalReplyPort_IsAnOrdinaryReceiveRight()
    {
        // macOS does not enforce provisional reply ports (provisional_reply_port_enforced is off): the port
        // receives like any other.
        using var k = new K();
        Assert.Equal(KernReturn.Success, Construct(MachPortConstructFlags.ProvisionalReplyPort, out uint reply));
        uint service = k.PortWithSend();
        Assert.Equal(MachMsgReturn.Success, K.Send(Msg.To(service, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce)));
        var request = K.Rcv(service);
        Assert.Equal(MachMsgReturn.Success, request.Result);
        Assert.Equal(MachMsgType.PortSendOnce, request.Header.RemoteDisposition);
        Assert.Equal(MachMsgReturn.Success, K.Send(Msg.To(request.Header.RemotePort, MachMsgType.MoveSendOnce, id: 1100)));
        Assert.Equal(1100, K.Rcv(reply).Header.Id);
        K.DestroyReceive(reply);
        K.Dealloc(service);
        K.DestroyReceive(service);
    }

    [Theory]
    [InlineData(MachPortConstructFlags.ReplyPort | MachPortConstructFlags.ProvisionalReplyPort, KernReturn.InvalidArgument)]
    [InlineData(MachPortConstructFlags.ServicePort | MachPortConstructFlags.ConnectionPort, KernReturn.InvalidArgument)]
    [InlineData(MachPortConstructFlags.ServicePort, KernReturn.Denied)]
    [InlineData(MachPortConstructFlags.TgBlockTracking, KernReturn.Denied)]
    [InlineData(MachPortConstructFlags.ContextAsGuard, KernReturn.NotSupported)]
    [InlineData(MachPortConstructFlags.ReplyPort, KernReturn.NotSupported)]
    public void Construct_RejectsFlagCombinationsAsXnuDoes_AndUnmodelledProtections(MachPortConstructFlags flags, KernReturn expected)
    {
        using var k = new K();
        int before = k.Task.Rights().Count;
        Assert.Equal(expected, Construct(flags, out _));
        Assert.Equal(before, k.Task.Rights().Count);
    }

    [Fact]
    public void Construct_QLimitAboveTheMaximum_IsInvalidValue()
    {
        using var k = new K();
        Assert.Equal(KernReturn.InvalidValue, Construct(MachPortConstructFlags.QLimit, out _, qlimit: MachPortLimits.QLimitMax + 1));
    }

    [Fact]
    public void PortNames_ListsEveryNameWithItsType_InRegionsTheCallerDeallocates()
    {
        using var k = new K();
        uint recv = k.PortWithSend();
        uint set = k.Set();
        uint* names;
        MachPortType* types;
        uint count, typesCount;
        Assert.Equal(KernReturn.Success, Mach.PortNames(Mach.TaskSelf, &names, &count, &types, &typesCount));
        Assert.Equal(count, typesCount);
        var listed = new Dictionary<uint, MachPortType>();
        for (int i = 0; i < count; i++)
        {
            listed[names[i]] = types[i];
        }
        Assert.Equal(MachPortType.SendReceive, listed[recv]);
        Assert.Equal(MachPortType.PortSet, listed[set]);
        Assert.Equal(MachPortType.Send, listed[Mach.TaskSelf]);
        Assert.Equal(MachPortType.Send, listed[Mach.BootstrapPort]);
        Assert.Equal(k.Task.Rights().Count, (int)count);
        // The two arrays are out-of-line memory the kernel gave this task.
        Assert.Equal(2, k.Task.OutstandingVmRegions);
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, (ulong)names, count * 4ul));
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, (ulong)types, count * 4ul));
        Assert.Equal(0, k.Task.OutstandingVmRegions);
        K.Dealloc(recv);
        K.DestroyReceive(recv);
        K.DestroyName(set);
    }

    [Fact]
    public void PidForTask_OfAnotherTasksPort_IsItsPid_AndAnythingElseFailsWithMinusOne()
    {
        using var k = new K();
        SimulatedTask other = k.NewTask("other");
        uint otherTask = other.TaskPortNameIn(k.Task);
        int pid = 0;
        Assert.Equal(KernReturn.Success, Mach.PidForTask(otherTask, &pid));
        Assert.Equal(other.Pid, pid);
        Assert.Equal(KernReturn.Success, Mach.PidForTask(Mach.TaskSelf, &pid));
        Assert.Equal(k.Task.Pid, pid);

        uint port = k.PortWithSend();
        pid = 0;
        Assert.Equal(KernReturn.Failure, Mach.PidForTask(port, &pid));
        Assert.Equal(-1, pid);
        pid = 0;
        Assert.Equal(KernReturn.Failure, Mach.PidForTask(0x1234_5603, &pid));
        Assert.Equal(-1, pid);

        // A task port that died is no longer a task (port_name_to_task_name fails on the dead name).
        other.Terminate();
        pid = 0;
        Assert.Equal(KernReturn.Failure, Mach.PidForTask(otherTask, &pid));
        Assert.Equal(-1, pid);
        K.Dealloc(otherTask);
        K.Dealloc(port);
        K.DestroyReceive(port);
    }

    [Fact]
    public void BootstrapPort_IsTheSendRightTheTaskWasBornWith_AndServesCheckIn()
    {
        using var k = new K();
        uint bp = Mach.BootstrapPort;
        Assert.Equal(MachPortType.Send, K.Type(bp));
        Assert.Equal(1u, K.Refs(bp, MachPortRight.Send));
        // task_get_special_port(TASK_BOOTSTRAP_PORT) names the same port: the right merges under the same name.
        uint special;
        Assert.Equal(KernReturn.Success, Mach.TaskGetSpecialPort(Mach.TaskSelf, MachPortName.TaskBootstrapPort, &special));
        Assert.Equal(bp, special);
        Assert.Equal(2u, K.Refs(bp, MachPortRight.Send));
        K.Dealloc(special);

        byte[] name = "org.machipc.tests.bootstrap-port\0"u8.ToArray();
        uint service;
        fixed (byte* n = name)
        {
            Assert.Equal(0, Mach.BootstrapCheckIn(bp, n, &service));
        }
        Assert.Equal(MachPortType.Receive, K.Type(service));
        K.DestroyReceive(service);
        Assert.Equal(1u, K.Refs(bp, MachPortRight.Send));
    }
}
