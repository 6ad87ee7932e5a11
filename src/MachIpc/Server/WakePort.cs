using System;
using MachIpc.Abi;
using MachIpc.Kernel;
using MachIpc.Messages;
using MachIpc.Ports;

namespace MachIpc.Server;

/// <summary>
/// A private port that ends a blocked receive: it sits in the same port set as the ports being served, and another
/// thread sends it an empty message. <see cref="MachServer.Stop"/> wakes its receive threads with one, and an
/// aborted <c>MachRpcClient.CallAsync</c> the task's reply waiter.
/// </summary>
internal sealed unsafe class WakePort : IDisposable
{
    // Header plus the largest trailer: a wake carries nothing else.
    private const int DrainBufferSize = MachMsgHeader.SizeOf + MachMsgAuditTrailer.SizeOf + 32;

    private readonly ReceiveRight _port;
    // Wakes are sent from other threads (Stop, a cancellation callback): they act in the task that owns the port.
    private readonly CurrentTaskContext _owner = CurrentTaskContext.Capture();

    public WakePort() => _port = ReceiveRight.Allocate();

    public ReceiveRight Right => _port;

    public uint Name => _port.Name;

    /// <summary>Whether a received message is a wake (it arrived on this port).</summary>
    public bool IsWake(MachMsgHeader* received) => received->LocalPort == _port.Name;

    /// <summary>
    /// Queues one wake: an empty message whose send right MAKE_SEND creates in the send, and the receive consumes.
    /// Timeout 0: a full queue already holds wakes enough. A send that timed out comes back pseudo-received with that
    /// send right in it (kernel-semantics I2): released here, or every such wake would leak a uref.
    /// </summary>
    public MachMsgReturn Send()
    {
        using var _ = _owner.Enter();
        MachMsgHeader wake = default;
        wake.Bits = MachMsgBits.Make(MachMsgType.MakeSend, MachMsgType.None);
        wake.Size = MachMsgHeader.SizeOf;
        wake.RemotePort = _port.Name;
        var mr = Mach.Msg(&wake, MachMsgOption.SendMsg | MachMsgOption.SendTimeout, MachMsgHeader.SizeOf, 0, MachPortName.Null, 0, MachPortName.Null);
        if (mr.IsPseudoReceived())
        {
            ReceivedMessage.DestroyUnsent(&wake);
        }
        return mr;
    }

    /// <summary>Receives every queued wake, so that none is left to end a later wait.</summary>
    public void Drain()
    {
        using var _ = _owner.Enter();
        byte* buffer = stackalloc byte[DrainBufferSize];
        while (Mach.Msg((MachMsgHeader*)buffer, MachMsgOption.RcvMsg | MachMsgOption.RcvTimeout, 0, DrainBufferSize, _port.Name, 0, MachPortName.Null) == MachMsgReturn.Success)
        {
        }
    }

    public void Dispose() => _port.Dispose();
}
