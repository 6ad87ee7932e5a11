using System;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Messages;

/// <summary>
/// The SDK's one destroy routine for messages it received (or got back from a failed send) and does not hand
/// over: every right is released by its received type and every out-of-line region is freed. The server, the
/// RPC client, MIG error replies and the connection patterns all destroy through it; <see cref="ScopedMachMsgDestroy"/>
/// is the scoped form (Chromium's <c>ScopedMachMsgDestroy</c> around every received message, disarmed only when
/// ownership really moved).
/// </summary>
/// <remarks>
/// <para>
/// Why not libsyscall's <c>mach_msg_destroy</c>: it frees an out-of-line region only when the received
/// descriptor says <c>deallocate</c> and skips <c>MACH_MSG_OOL_VOLATILE_DESCRIPTOR</c> altogether
/// (libsyscall/mach/mach_msg.c <c>mach_msg_destroy</c>, lines 427-451), but the kernel reports
/// <c>deallocate = (copy == MACH_MSG_VIRTUAL_COPY)</c>, so a peer that sends physical-copy or volatile regions
/// would leak memory in the receiver on every rejected message. A received region is always a new mapping in
/// the receiver's map, whatever the flag says, so this routine frees every region of nonzero size, the name
/// arrays of out-of-line port descriptors included.
/// </para>
/// <para>
/// The walk trusts the layout only as far as the kernel wrote it (descriptor count and types of a received
/// message are the kernel's), stops at <c>msgh_size</c> and at an unknown descriptor type, and clears every name
/// and region it released, so destroying the same buffer twice releases nothing twice.
/// </para>
/// </remarks>
public static unsafe class ReceivedMessage
{
    // MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND (mach/message.h).
    private const ushort GuardFlagsUnguardedOnSend = 0x0002;

    /// <summary>
    /// Destroys a received message: releases <c>msgh_remote_port</c> (the reply right), the voucher and every
    /// descriptor's right or region, and clears them in the buffer. <c>msgh_local_port</c> names the port the
    /// message arrived on and holds no right (the receive consumed the destination right), as in libsyscall.
    /// </summary>
    /// <summary>
    /// <see cref="Destroy(MachMsgHeader*)"/> for the buffer a generated <c>Receive</c> filled: what to do with a message
    /// whose <c>TryRead</c> failed, or that nothing took, so that the rights and regions it brought are not leaked.
    /// </summary>
    /// <param name="received">The receive buffer, at least a header long.</param>
    public static void Destroy(Span<byte> received)
    {
        if (received.Length < MachMsgHeader.SizeOf)
        {
            throw new ArgumentException($"A received message is at least {MachMsgHeader.SizeOf} bytes; this buffer has {received.Length}.", nameof(received));
        }
        fixed (byte* message = received)
        {
            Destroy((MachMsgHeader*)message);
        }
    }

    /// <param name="message">A message as <c>mach_msg</c> received it.</param>
    public static void Destroy(MachMsgHeader* message)
    {
        if (message is null)
        {
            return;
        }
        Release(ref message->RemotePort, message->RemoteDisposition);
        Release(ref message->VoucherPort, message->VoucherDisposition);
        message->Bits &= ~(MachMsgBits.RemoteMask | MachMsgBits.VoucherMask);
        Body(message, release: true);
    }

    /// <summary>
    /// The handler took the whole message, as a MIG server routine that succeeded (or answered <c>MIG_NO_REPLY</c>)
    /// does: every descriptor's right and region is now the handler's, so it is cleared from the buffer without being
    /// released, and the reply right too when <paramref name="replyRight"/> (MIG_NO_REPLY: the handler answers later;
    /// libsyscall mach_msg.c <c>mach_msg_server</c> then leaves the request alone). A later <see cref="Destroy(MachMsgHeader*)"/> of
    /// the buffer releases only what is left (the voucher, an unused reply right).
    /// </summary>
    internal static void HandOver(MachMsgHeader* message, bool replyRight)
    {
        if (message is null)
        {
            return;
        }
        if (replyRight)
        {
            message->RemotePort = MachPortName.Null;
            message->Bits &= ~MachMsgBits.RemoteMask;
        }
        Body(message, release: false);
    }

    /// <summary>Releases (or, without <paramref name="release"/>, only clears) what the descriptors carry.</summary>
    private static void Body(MachMsgHeader* message, bool release)
    {
        if (!message->IsComplex || message->Size < MachMsgBase.SizeOf)
        {
            return;
        }
        byte* b = (byte*)message;
        uint count = ((MachMsgBase*)message)->Body.DescriptorCount;
        uint offset = MachMsgBase.SizeOf;
        for (uint i = 0; i < count && offset + MachMsgTypeDescriptor.SizeOf <= message->Size; i++)
        {
            switch ((MachMsgDescriptorType)b[offset + MachMsgTypeDescriptor.TypeOffset])
            {
                case MachMsgDescriptorType.Port:
                {
                    var d = (MachMsgPortDescriptor*)(b + offset);
                    Release(ref d->Name, d->Disposition, release);
                    offset += MachMsgPortDescriptor.SizeOf;
                    continue;
                }
                case MachMsgDescriptorType.GuardedPort:
                {
                    // Without MACH_RCV_GUARDED_DESC, which the SDK never asks for, the kernel destroys the right and
                    // leaves MACH_PORT_NULL here (ipc_kmsg.c ipc_kmsg_copyout_guarded_port_descriptor). A right that
                    // arrived guarded must be unguarded with its context first (libsyscall does), or its release is
                    // a fatal kGUARD_EXC_DESTROY; the seam has no mach_port_unguard, so only unguarded ones go here.
                    var d = (MachMsgGuardedPortDescriptor*)(b + offset);
                    if ((d->Flags & GuardFlagsUnguardedOnSend) != 0)
                    {
                        Release(ref d->Name, d->Disposition, release);
                    }
                    break;
                }
                case MachMsgDescriptorType.Ool:
                case MachMsgDescriptorType.OolVolatile:
                {
                    var d = (MachMsgOolDescriptor*)(b + offset);
                    Free(ref d->Address, d->Size, release);
                    d->Size = 0;
                    break;
                }
                case MachMsgDescriptorType.OolPorts:
                {
                    var d = (MachMsgOolPortsDescriptor*)(b + offset);
                    var names = (uint*)d->Address;
                    if (names is not null)
                    {
                        for (uint k = 0; k < d->Count; k++)
                        {
                            Release(ref names[k], d->Disposition, release);
                        }
                    }
                    Free(ref d->Address, d->Count * (ulong)sizeof(uint), release);
                    d->Count = 0;
                    break;
                }
                default:
                    return; // not a descriptor the kernel writes: nothing after it can be trusted
            }
            offset += MachMsgOolDescriptor.SizeOf;
        }
    }

    /// <summary>
    /// Destroys a message a failed send handed back by pseudo-receive (<see cref="MachMsgReturns.IsPseudoReceived"/>):
    /// everything <see cref="Destroy(MachMsgHeader*)"/> releases, plus <c>msgh_local_port</c>, which after a pseudo-receive holds
    /// the reply right the message carried (ipc_kmsg.c <c>ipc_kmsg_copyout_pseudo</c>: "the ports in the header
    /// are handled as if they are in the body. They aren't reversed."). MIG's generated user code releases it
    /// after <c>MACH_SEND_TIMED_OUT</c> ("mach_msg_destroy doesn't handle the local port", migcom user.c
    /// <c>WriteMsgCheckForSendErrors</c>); libsyscall's <c>mach_msg_server_consume_unsent_message</c> releases it
    /// for both send and send-once rights, as here.
    /// </summary>
    /// <param name="message">The send buffer, as the failed <c>mach_msg</c> left it.</param>
    public static void DestroyUnsent(MachMsgHeader* message)
    {
        if (message is null)
        {
            return;
        }
        MachMsgType local = message->LocalDisposition;
        if (local is MachMsgType.PortSend or MachMsgType.PortSendOnce)
        {
            Release(ref message->LocalPort, local);
            message->Bits &= ~MachMsgBits.LocalMask;
        }
        Destroy(message);
    }

    /// <summary>
    /// Whether the kernel generated a received message (a notification, the send-once notification of a dropped reply
    /// right) rather than a task that forged one with the same id: only the kernel's audit token is
    /// <c>KERNEL_AUDIT_TOKEN_VALUE</c>, all zeros (pid 0; XNU osfmk/ipc/ipc_kmsg.c stamps it on kernel messages). The
    /// trailer is read where the kernel wrote it, at <c>round_msg(msgh_size)</c>, after checking that it is there:
    /// receive with at least the audit trailer elements (<see cref="MachTrailerElements.Audit"/>), or this is false.
    /// </summary>
    /// <param name="message">A received message.</param>
    /// <param name="length">The number of valid bytes at <paramref name="message"/> (the receive buffer's size).</param>
    public static bool IsFromKernel(MachMsgHeader* message, int length)
    {
        if (message is null || length < MachMsgHeader.SizeOf)
        {
            return false;
        }
        return TryGetAuditToken(message, length, out AuditToken sender) && sender.IsKernel;
    }

    /// <summary>The sender's pid from the audit trailer, or -1 when the message has none (for logs and traces).</summary>
    internal static int SenderPid(MachMsgHeader* message, int length) =>
        message is not null && length >= MachMsgHeader.SizeOf && TryGetAuditToken(message, length, out AuditToken sender) ? sender.Pid : -1;

    private static bool TryGetAuditToken(MachMsgHeader* message, int length, out AuditToken sender)
    {
        sender = default;
        uint offset = MachTrailerRequest.RoundMsg(message->Size);
        if (offset > (uint)length || (uint)length - offset < MachMsgAuditTrailer.SizeOf)
        {
            return false;
        }
        var trailer = (MachMsgAuditTrailer*)((byte*)message + offset);
        if (trailer->Size < MachMsgAuditTrailer.SizeOf)
        {
            return false;
        }
        sender = trailer->Audit;
        return true;
    }

    /// <summary>Releases the right a received name holds by its received type, and clears the name.</summary>
    internal static void Release(ref uint name, MachMsgType receivedType, bool release = true)
    {
        uint held = name;
        if (!MachPortName.IsValid(held))
        {
            return; // MACH_PORT_NULL or MACH_PORT_DEAD: no right in this space
        }
        if (!release)
        {
            name = MachPortName.Null;
            return;
        }
        switch (receivedType)
        {
            case MachMsgType.PortReceive:
                Mach.PortModRefs(Mach.TaskSelf, held, MachPortRight.Receive, -1);
                break;
            case MachMsgType.PortSend:
            case MachMsgType.PortSendOnce:
                Mach.PortDeallocate(Mach.TaskSelf, held);
                break;
            default:
                return; // not a received right type: the name holds nothing this message gave us
        }
        name = MachPortName.Null;
    }

    private static void Free(ref ulong address, ulong size, bool release)
    {
        if (release && address != 0 && size != 0)
        {
            Mach.VmDeallocate(Mach.TaskSelf, address, size);
        }
        address = 0;
    }
}

/// <summary>
/// Destroys a received message when the scope ends unless <see cref="Disarm"/> was called: the default is
/// destroy, and only code that really handed the contents over disarms (Chromium's
/// <c>base::ScopedMachMsgDestroy</c>). Rights already taken out of the buffer were cleared there, so they are
/// not released again.
/// </summary>
public unsafe ref struct ScopedMachMsgDestroy
{
    private MachMsgHeader* _message;

    /// <summary>Guards <paramref name="message"/>.</summary>
    public ScopedMachMsgDestroy(MachMsgHeader* message) => _message = message;

    /// <summary>Ownership moved elsewhere: the scope's end destroys nothing.</summary>
    public void Disarm() => _message = null;

    /// <summary>Destroys the message with <see cref="ReceivedMessage.Destroy(MachMsgHeader*)"/> unless disarmed.</summary>
    public void Dispose()
    {
        MachMsgHeader* message = _message;
        _message = null;
        ReceivedMessage.Destroy(message);
    }
}
