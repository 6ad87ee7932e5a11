// Hostile-task limits: the name table's bound and caller-chosen names (ipc_entry_alloc_name, C1/C5), what a
// full space does to received rights, and the per-task memory quota. Each ends with the kernel-wide leak check.
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using Xunit;
using static MachIpc.Tests.Kernel.K;

namespace MachIpc.Tests.Kernel;

[Collection("Kernel")]
public unsafe class LimitsTests
{
    private const int MachMsgIpcSpace = 0x2000;

    [Fact]
    public void C5_ChosenNamePastTheTableLimit_IsNoSpace_AndGrowsNothing()
    {
        using var k = new K();
        uint p = k.Port();
        // The attack: index 0xFFFFFE would be a 16M-entry table.
        Assert.Equal(KernReturn.NoSpace, Mach.PortInsertRight(Mach.TaskSelf, 0xFFFFFE03, p, MachMsgType.MakeSend));
        uint last = (uint)(IpcSpace.TableCountMax - 1) << 8 | 3;
        uint past = (uint)IpcSpace.TableCountMax << 8 | 3;
        Assert.Equal(KernReturn.NoSpace, Mach.PortInsertRight(Mach.TaskSelf, past, p, MachMsgType.MakeSend));
        Assert.Equal(0, Status(p)[6]); // each make-send'd right was released again
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, last, p, MachMsgType.MakeSendOnce));
        Assert.Equal(MachPortType.SendOnce, Type(last));
        // Kernel-made names still come from the bottom of the table.
        uint q = k.Port();
        Assert.True(q >> 8 < 64, $"0x{q:x}");
        Dealloc(last);
        RcvAndDestroy(p);
    }

    [Fact]
    public void C5_ChosenNameChecks_FollowIpcEntryAllocName()
    {
        using var k = new K();
        uint p = k.Port();
        // The generation bits every kernel-made name has are required (ipc_entry_name_mask).
        Assert.Equal(KernReturn.InvalidValue, Mach.PortInsertRight(Mach.TaskSelf, 0x00700001, p, MachMsgType.MakeSendOnce));
        // Index 0 is reserved.
        Assert.Equal(KernReturn.Failure, Mach.PortInsertRight(Mach.TaskSelf, 0x00000007, p, MachMsgType.MakeSendOnce));
        // An index in use under another generation collides.
        Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, 0x00700003, p, MachMsgType.MakeSendOnce));
        Assert.Equal(KernReturn.Failure, Mach.PortInsertRight(Mach.TaskSelf, 0x00700007, p, MachMsgType.MakeSendOnce));
        Assert.Equal(KernReturn.NameExists, Mach.PortInsertRight(Mach.TaskSelf, 0x00700003, p, MachMsgType.MakeSendOnce));
        // Every refused send-once right was destroyed: a MACH_NOTIFY_SEND_ONCE each (C12).
        Assert.Equal(4, MsgCount(p));
        Dealloc(0x00700003);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(MachNotify.SendOnce, RcvAndDestroy(p).Header.Id);
        }
    }

    [Fact]
    public void C1_ManyChosenNames_ThenKernelNames_NoIndexIsHandedOutTwice()
    {
        using var k = new K();
        uint p = k.Port();
        var chosen = new System.Collections.Generic.List<uint>();
        // Chosen names at indices the kernel would hand out next, freed and taken again: the free stack must
        // neither grow per insert nor give a taken index out.
        for (uint i = 2; i < 400; i += 3)
        {
            uint n = i << 8 | 3;
            KernReturn kr = Mach.PortInsertRight(Mach.TaskSelf, n, p, MachMsgType.MakeSendOnce);
            if (kr == KernReturn.Success)
            {
                chosen.Add(n);
            }
        }
        for (int round = 0; round < 50; round++)
        {
            Assert.Equal(KernReturn.Success, Mach.PortDeallocate(Mach.TaskSelf, chosen[0]));
            Assert.Equal(KernReturn.Success, Mach.PortInsertRight(Mach.TaskSelf, chosen[0], p, MachMsgType.MakeSendOnce));
        }
        var made = new System.Collections.Generic.List<uint>();
        var indices = new System.Collections.Generic.HashSet<uint>();
        for (int i = 0; i < 300; i++)
        {
            uint n = k.SendOnceTo(p);
            Assert.True(indices.Add(n >> 8), $"index of 0x{n:x} handed out twice");
            Assert.DoesNotContain(n >> 8, chosen.ConvertAll(c => c >> 8));
            made.Add(n);
        }
        foreach (uint n in chosen)
        {
            Dealloc(n);
        }
        foreach (uint n in made)
        {
            Dealloc(n);
        }
        while (Rcv(p).Result == MachMsgReturn.Success)
        {
        }
    }

    [Fact]
    public void FullSpace_AllocateIsNoSpace_AndAReceivedReplyRightIsAHeaderError()
    {
        using var k = new K();
        SimulatedTask victim = k.NewTask("full");
        (uint recv, uint send) = Connect(victim, k.Task);
        uint reply = k.Port();
        As(victim, () =>
        {
            uint two;
            Fill(victim);
            Assert.Equal(KernReturn.NoSpace, Mach.PortAllocate(Mach.TaskSelf, MachPortRight.Receive, &two));
        });
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send, MachMsgType.CopySend, reply, MachMsgType.MakeSendOnce, id: 42)));
        As(victim, () =>
        {
            Received r = Rcv(recv);
            // ipc_kmsg_copyout_header found no room for the reply right: mach_msg_receive_error's bare header.
            Assert.Equal((MachMsgReturn)((int)MachMsgReturn.RcvHeaderError | MachMsgIpcSpace), r.Result);
            Assert.Equal(42, r.Header.Id);
            Assert.Equal(24u, r.Header.Size);
        });
        // The reply right was destroyed: a send-once notification came back on it (C12).
        Assert.Equal(MachNotify.SendOnce, Rcv(reply).Header.Id);
        Dealloc(send);
    }

    [Fact]
    public void FullSpace_ABodyRightWithNoRoom_IsDestroyedAndNamedNull()
    {
        using var k = new K();
        SimulatedTask victim = k.NewTask("full");
        (uint recv, uint send) = Connect(victim, k.Task);
        uint carried = k.Port();
        As(victim, () => Fill(victim));
        Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send).Port(carried, MachMsgType.MakeSendOnce).WithInline(8)));
        As(victim, () =>
        {
            Received r = Rcv(recv);
            Assert.Equal((MachMsgReturn)((int)MachMsgReturn.RcvBodyError | MachMsgIpcSpace), r.Result);
            Assert.Equal(MachPortName.Null, r.PortDesc(0).Name);
            Assert.Equal(1, r.Buffer[28 + 12]); // the inline bytes still arrived
        });
        Assert.Equal(MachNotify.SendOnce, Rcv(carried).Header.Id);
        Dealloc(send);
    }

    /// <summary>Gives <paramref name="t"/> a 64-entry table limit and uses every name left (dead names).</summary>
    private static void Fill(SimulatedTask t)
    {
        t.Space.TableLimit = 64;
        uint n;
        while (Mach.PortAllocate(Mach.TaskSelf, MachPortRight.DeadName, &n) == KernReturn.Success)
        {
        }
    }

    [Fact]
    public void MemoryQuota_ASendPastItIsNoBuffer_ChangesNothing_AndReceivingFreesIt()
    {
        using var k = new K();
        uint p = k.PortWithSend();
        Assert.Equal(KernReturn.Success, SetQLimit(p, 1024));
        uint keep = k.Port();
        uint moved = k.SendTo(keep);
        long before = k.Task.Vm.Charged;
        k.Task.Vm.Quota = before + 4096;
        var payload = new byte[1500];
        int sent = 0;
        MachMsgReturn mr;
        fixed (byte* b = payload)
        {
            while ((mr = Send(Msg.To(p).Ool((nint)b, (uint)payload.Length))) == MachMsgReturn.Success)
            {
                sent++;
            }
            Assert.Equal(MachMsgReturn.SendNoBuffer, mr);
            Assert.InRange(sent, 1, 3);
            // A refused send changes nothing: the MOVE_SEND'd right is still ours.
            Assert.Equal(MachMsgReturn.SendNoBuffer, Send(Msg.To(p, MachMsgType.CopySend, moved, MachMsgType.MoveSend).Ool((nint)b, (uint)payload.Length)));
            Assert.Equal(1u, Refs(moved, MachPortRight.Send));
            // Received and deallocated, the memory is no longer charged and sending works again.
            for (int i = 0; i < sent; i++)
            {
                RcvAndDestroy(p);
            }
            Assert.Equal(before, k.Task.Vm.Charged);
            Assert.Equal(MachMsgReturn.Success, Send(Msg.To(p).Ool((nint)b, (uint)payload.Length)));
            RcvAndDestroy(p);
        }
        // Another task's quota is its own.
        SimulatedTask other = k.NewTask("other");
        (uint recv, uint send) = Connect(k.Task, other);
        As(other, () => Assert.Equal(MachMsgReturn.Success, Send(Msg.To(send).WithInline(4000))));
        Received big = Rcv(recv, 4200);
        Assert.Equal(MachMsgReturn.Success, big.Result);
        Destroy(big);
        Assert.Equal(before, k.Task.Vm.Charged);
        Dealloc(moved);
    }
}
