using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Kernel.Simulated;
using MachIpc.Messages;

namespace MachIpc.Fuzz.Targets;

/// <summary>
/// Target 3: the simulated kernel's <c>mach_msg</c> copy-in. A hostile task sends arbitrary bytes as a message; the
/// input is <c>u32 option</c> (only send/receive shape bits are taken from it: the send never blocks and a combined
/// receive never waits) followed by the message buffer, whose length is the send size. The task holds the rights of
/// <see cref="Stage"/>, so mutated names, dispositions and descriptors reach past the first checks. After each input
/// the victim receives what it was sent and destroys it, both tasks die, and the kernel-wide leak check must be
/// clean; the only outcomes allowed are <c>mach_msg</c> return codes.
/// </summary>
internal static unsafe class CopyInTarget
{
    /// <summary>The option bits an input may choose (MACH_SEND_MSG, MACH_RCV_MSG, MACH_RCV_LARGE, trailer requests).</summary>
    private const uint OptionMask = (uint)(MachMsgOption.SendMsg | MachMsgOption.RcvMsg | MachMsgOption.RcvLarge | MachMsgOption.RcvLargeIdentity)
        | 0x0F000000 | 0x000F0000;

    /// <summary>Out-of-line data the seeds point at: mapped at a fixed address so a seed's descriptor stays valid.</summary>
    public const ulong OolAddress = 0x5a5a_0000_0000;
    public const int OolBytes = 64 * 1024;
    /// <summary>Where in that region <see cref="Stage"/> writes two names the attacker holds, for out-of-line port arrays.</summary>
    public const int OolNamesOffset = 0x8000;

    /// <summary>The names the attacking task holds, identical in every run (a fresh task allocates names in order).</summary>
    public readonly record struct Names(uint Self, uint VictimTask, uint VictimPort, uint VictimSend, uint OwnReceive, uint OwnSendOnce, uint OtherReceive, uint DeadName);

    private static readonly SimulatedKernel Kernel = SimulatedKernel.Shared;
    private static readonly bool s_oolMapped = MapOolRegion();

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 4)
        {
            return;
        }
        var option = (MachMsgOption)(BinaryPrimitives.ReadUInt32LittleEndian(input) & OptionMask) | MachMsgOption.SendMsg | MachMsgOption.SendTimeout;
        if ((option & MachMsgOption.RcvMsg) != 0)
        {
            option |= MachMsgOption.RcvTimeout;
        }
        ReadOnlySpan<byte> message = input[4..];
        KernelSnapshot before = Kernel.Snapshot();
        SimulatedTask attacker = Kernel.CreateTask("fuzz attacker", null, null);
        SimulatedTask victim = Kernel.CreateTask("fuzz victim", null, null);
        const int ReceiveSlack = 4096;
        nuint size = (nuint)message.Length + ReceiveSlack;
        byte* buffer = (byte*)NativeMemory.AllocZeroed(size);
        try
        {
            Names names = Stage(attacker, victim);
            message.CopyTo(new Span<byte>(buffer, message.Length));
            MachMsgReturn mr;
            using (attacker.Enter())
            {
                mr = Kernel.Msg((MachMsgHeader*)buffer, option, (uint)message.Length, (uint)size, names.OwnReceive, 0, 0);
            }
            Expect(mr);
            Drain(victim, names);
        }
        finally
        {
            NativeMemory.Free(buffer);
            attacker.Terminate();
            victim.Terminate();
        }
        string? leaks = Kernel.Snapshot().DescribeLeaksSince(before);
        if (leaks is not null)
        {
            throw new FuzzFinding("leaked after the tasks died: " + leaks);
        }
    }

    /// <summary>Gives the attacker a send right to the victim's port, a port of its own, a send-once right, a dead name.</summary>
    public static Names Stage(SimulatedTask attacker, SimulatedTask victim)
    {
        uint victimTask = victim.TaskPortNameIn(attacker);
        using (attacker.Enter())
        {
            uint self = attacker.SelfName, victimPort, victimSend, own, ownSendOnce, other, dead;
            MachMsgType got;
            Ok(Kernel.PortAllocate(victimTask, MachPortRight.Receive, &victimPort));
            Ok(Kernel.PortExtractRight(victimTask, victimPort, MachMsgType.MakeSend, &victimSend, &got));
            Ok(Kernel.PortAllocate(self, MachPortRight.Receive, &own));
            Ok(Kernel.PortInsertRight(self, own, own, MachMsgType.MakeSend));
            Ok(Kernel.PortExtractRight(self, own, MachMsgType.MakeSendOnce, &ownSendOnce, &got));
            Ok(Kernel.PortAllocate(self, MachPortRight.Receive, &other));
            Ok(Kernel.PortAllocate(self, MachPortRight.Receive, &dead));
            Ok(Kernel.PortInsertRight(self, dead, dead, MachMsgType.MakeSend));
            Ok(Kernel.PortModRefs(self, dead, MachPortRight.Receive, -1));
            if (s_oolMapped)
            {
                ((uint*)(OolAddress + OolNamesOffset))[0] = own;
                ((uint*)(OolAddress + OolNamesOffset))[1] = victimSend;
            }
            return new Names(self, victimTask, victimPort, victimSend, own, ownSendOnce, other, dead);
        }
    }

    /// <summary>The victim receives everything queued on its only port and destroys it, as a receiver's mach_msg_destroy would.</summary>
    private static void Drain(SimulatedTask victim, Names names)
    {
        using (victim.Enter())
        {
            const uint Size = 256 * 1024;
            byte* buffer = (byte*)NativeMemory.Alloc(Size);
            try
            {
                while (true)
                {
                    var option = MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout | MachMsgOption.RcvLarge | MachMsgOption.RcvTrailerAudit;
                    MachMsgReturn mr = Kernel.Msg((MachMsgHeader*)buffer, option, 0, Size, names.VictimPort, 0, 0);
                    if (mr != MachMsgReturn.Success)
                    {
                        Expect(mr);
                        return;
                    }
                    ReceivedMessage.Destroy((MachMsgHeader*)buffer);
                }
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
    }

    private static void Expect(MachMsgReturn mr)
    {
        if (!Enum.IsDefined(mr))
        {
            throw new FuzzFinding($"mach_msg returned 0x{(uint)mr:x}, not a mach_msg return code");
        }
    }

    private static void Ok(KernReturn kr)
    {
        if (kr != KernReturn.Success)
        {
            throw new InvalidOperationException($"staging the attacker's rights failed: {kr}");
        }
    }

    /// <summary>Maps <see cref="OolAddress"/> (once per process) and fills it with a pattern; false if the address was taken.</summary>
    public static bool MapOolRegion()
    {
        if (s_oolMapped || !OperatingSystem.IsLinux())
        {
            return s_oolMapped;
        }
        const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapFixedNoReplace = 0x100000;
        void* p = mmap((void*)OolAddress, OolBytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapFixedNoReplace, -1, 0);
        if ((ulong)p != OolAddress)
        {
            return false;
        }
        for (int i = 0; i < OolBytes; i++)
        {
            ((byte*)p)[i] = (byte)i;
        }
        return true;
    }

    [DllImport("libc", EntryPoint = "mmap", ExactSpelling = true)]
    private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);
}
