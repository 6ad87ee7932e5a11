// Section I (user-space libraries and task ports) of kernel-semantics.md: what a program on a Mac gets from
// libsyscall and MIG on top of the kernel, and the kernel rules those libraries lean on.
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class UserSpaceLibraryTests
{
    private static readonly long s_value = 0x1122334455667788;

    [Fact]
    public void I1_MachMsgDestroy_FreesARegionOnlyWhenItsDescriptorSaysDeallocate_AndSkipsVolatile()
    {
        // libsyscall/mach/mach_msg.c mach_msg_destroy: "if (dsc->deallocate) mach_msg_destroy_memory(...)"
        // (line 434) and MACH_MSG_OOL_VOLATILE_DESCRIPTOR "Just skip it" (line 446). On receive the kernel
        // reports deallocate = (copy == MACH_MSG_VIRTUAL_COPY) (B18).
        using var k = new K();
        uint p = k.PortWithSend();
        long value = s_value;
        var volatileRegion = new byte[16];
        MemoryMarshal.Write(volatileRegion, (ulong)(nint)(&value));
        MemoryMarshal.Write(volatileRegion.AsSpan(12), 8u);
        volatileRegion[11] = (byte)MachMsgDescriptorType.OolVolatile;
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p)
            .Ool((nint)(&value), 8, copy: MachMsgCopy.Virtual)
            .Ool((nint)(&value), 8, copy: MachMsgCopy.Physical)
            .Raw(volatileRegion)));
        Received r = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, r.Result);
        Assert.Equal(3, k.Task.OutstandingVmRegions);
        Destroy(r); // libsyscall's mach_msg_destroy
        Assert.Equal(2, k.Task.OutstandingVmRegions); // the physical copy and the volatile region are left
        fixed (byte* b = r.Buffer)
        {
            ReceivedMessage.Destroy((MachMsgHeader*)b); // the SDK's routine: the receiver owns every region
        }
        Assert.Equal(0, k.Task.OutstandingVmRegions);
    }

    [Fact]
    public void I1_MachMsgDestroy_FreesAnOolPortsArrayOnlyWhenDeallocateIsSet_ButReleasesItsRightsEither_Way()
    {
        // libsyscall/mach/mach_msg.c lines 461-473: every name is released per the disposition, the array is freed
        // only "if (dsc->deallocate)".
        using var k = new K();
        uint p = k.PortWithSend();
        uint q = k.Port();
        uint* names = stackalloc uint[1] { q };
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).OolPorts((nint)names, 1, MachMsgType.MakeSend)));
        Received r = Rcv(p);
        var d = MemoryMarshal.Read<MachMsgOolPortsDescriptor>(r.Buffer.AsSpan(28));
        Assert.Equal(1, d.Deallocate); // B19
        r.Buffer[28 + 8] = 0; // as a sender's own, unsent message would say
        Assert.Equal(MachPortType.SendReceive, Type(q));
        Destroy(r);
        Assert.Equal(MachPortType.Receive, Type(q)); // the send right went
        Assert.Equal(1, k.Task.OutstandingVmRegions); // the array stayed
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, d.Address, 4));
    }

    [Fact]
    public void I1_MachMsgDestroy_OfAnUnsentMessage_MakesAndDestroysMakeSendOnceAndMakeSendRights()
    {
        // libsyscall/mach/mach_msg.c mach_msg_destroy_port, lines 348-361: "create a send right and then destroy
        // it" / "create a send-once right and then destroy it", so an unsent message has a send's side effects.
        using var k = new K();
        uint p = k.Port();
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(p, MachNotify.NoSenders, 0, notify, MachMsgType.MakeSendOnce, out _));
        byte[] unsent = Msg.To(p, MachMsgType.MakeSend).Port(p, MachMsgType.MakeSendOnce).Build(out _);
        Destroy(new Received { Buffer = unsent });
        Received noSenders = Rcv(notify);
        Assert.Equal(MachMsgReturn.Success, noSenders.Result);
        Assert.Equal(MachNotify.NoSenders, noSenders.Header.Id);
        Received sendOnce = Rcv(p);
        Assert.Equal(MachMsgReturn.Success, sendOnce.Result);
        Assert.Equal(MachNotify.SendOnce, sendOnce.Header.Id);
    }

    [Fact]
    public void I2_AfterAPseudoReceive_MachMsgDestroyLeavesTheReplyRight_DestroyUnsentReleasesIt()
    {
        // ipc_kmsg.c ipc_kmsg_copyout_pseudo: the header ports are "handled as if they are in the body. They aren't
        // reversed." libsyscall's mach_msg_destroy never touches msgh_local_port (mach_msg.c line 397); MIG's user
        // stubs release it themselves (migcom user.c WriteMsgCheckForSendErrors: "mach_msg_destroy doesn't handle
        // the local port").
        using var k = new K();
        uint p = k.Port();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 0));
        uint reply = k.Port();
        byte[] buf = Msg.To(p, MachMsgType.MakeSend, reply, MachMsgType.MakeSendOnce).Build(out uint size);
        MachMsgReturn mr = Send(buf, size, MachMsgOption.SendTimeout, 0);
        Assert.True(mr.IsPseudoReceived(), mr.ToString());
        var h = MemoryMarshal.Read<MachMsgHeader>(buf);
        uint sendOnce = h.LocalPort;
        Assert.Equal(MachPortType.SendOnce, Type(sendOnce));
        Assert.Equal(MachPortType.SendReceive, Type(p)); // the MAKE_SEND destination came back as a send right
        Destroy(new Received { Buffer = (byte[])buf.Clone() });
        Assert.Equal(MachPortType.Receive, Type(p)); // mach_msg_destroy released the destination...
        Assert.Equal(MachPortType.SendOnce, Type(sendOnce)); // ...and left the reply right
        h.RemotePort = MachPortName.Null; // already released above
        MemoryMarshal.Write(buf, h);
        fixed (byte* b = buf)
        {
            ReceivedMessage.DestroyUnsent((MachMsgHeader*)b);
        }
        Assert.Equal(KernReturn.InvalidName, TypeResult(sendOnce));
        RcvAndDestroy(reply); // the released send-once right's notification
    }

    [Fact]
    public void I4_TaskDeath_FiresADeadNameRequestArmedOnTheTaskPort()
    {
        // osfmk/kern/ipc_tt.c ipc_task_terminate: ipc_kobject_dealloc_port(kport, 0, IKOT_TASK_CONTROL) ->
        // ipc_kobject.c ipc_kobject_dealloc_port_and_unlock -> ipc_port.c ipc_port_dealloc_special_and_unlock ->
        // ipc_port_destroy, which generates the dead-name notifications (ipc_port_dnnotify).
        using var k = new K();
        var child = k.NewTask("child");
        uint task = child.TaskPortNameIn(k.Task);
        uint notify = k.Port();
        Assert.Equal(KernReturn.Success, Request(task, MachNotify.DeadName, 0, notify, MachMsgType.MakeSendOnce, out _));
        child.Terminate();
        Received n = Rcv(notify);
        Assert.Equal(MachMsgReturn.Success, n.Result);
        Assert.Equal(MachNotify.DeadName, n.Header.Id);
        Assert.Equal(task, n.U32(32)); // not_port
        Assert.True(n.AuditTrailer.Audit.IsKernel);
        // D5: the name is a dead name with the notification's extra uref; the notified task releases both.
        Assert.Equal(MachPortType.DeadName, Type(task));
        Assert.Equal(2u, Refs(task, MachPortRight.DeadName));
        Dealloc(task);
        Dealloc(task);
        DestroyReceive(notify);
    }

    [Fact]
    public void I5_APortSetRotatesOnATooLargeResult_AndLargeIdentityNamesTheMemberHoldingIt()
    {
        // osfmk/ipc/ipc_mqueue.c ipc_mqueue_receive_on_thread_and_unlock: "Put the message at the back of the prepost
        // list if it's not a PEEK" -> osfmk/kern/waitq.c waitq_set_first_prepost, circle_queue_rotate_head_forward,
        // before ipc_mqueue_select_on_thread_locked finds the message too large and leaves it queued
        // (MACH_RCV_LARGE). osfmk/ipc/mach_msg.c mach_msg_receive_too_large: with MACH64_RCV_LARGE_IDENTITY the
        // member's name goes to msgh_local_port, the needed size to msgh_size.
        using var k = new K();
        uint a = k.PortWithSend(), b = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, a, set));
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, b, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(a, id: 1).WithInline(512)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(b, id: 2)));
        Received large = Rcv(set, size: 64, extra: MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge | MachMsgOption.RcvLargeIdentity);
        Assert.Equal(MachMsgReturn.RcvTooLarge, large.Result);
        Assert.Equal(24u + 512u, large.Header.Size);
        Assert.Equal(a, large.Header.LocalPort);
        // The set rotated: a second receive on it serves b, not the message that was too large.
        Received next = Rcv(set, size: 128);
        Assert.Equal(MachMsgReturn.Success, next.Result);
        Assert.Equal(2, next.Header.Id);
        Assert.Equal(b, next.Header.LocalPort);
        // The large message is still queued on the member the identity named.
        Received held = Rcv(a, size: 1024);
        Assert.Equal(MachMsgReturn.Success, held.Result);
        Assert.Equal(1, held.Header.Id);
        Assert.Equal(MachMsgReturn.RcvTimedOut, Rcv(set).Result);
    }

    [Fact]
    public void I5_AMemberThatGotAMessageFirstIsServedFirst_WhateverItsPlaceInTheSet()
    {
        // osfmk/kern/waitq.c: a port that gets a message with no thread waiting is appended to the set's prepost
        // queue (circle_enqueue_tail(&wqset->wqset_preposts, ...)); receives serve that queue from its head.
        using var k = new K();
        uint a = k.PortWithSend(), b = k.PortWithSend();
        uint set = k.Set();
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, a, set));
        Assert.Equal(KernReturn.Success, Mach.PortInsertMember(Mach.TaskSelf, b, set));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(b, id: 2)));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(a, id: 1)));
        Assert.Equal(2, Rcv(set).Header.Id);
        Assert.Equal(1, Rcv(set).Header.Id);
    }
}
