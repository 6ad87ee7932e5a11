using System;
using System.Buffers.Binary;
using MachIpc.Abi;
using MachIpc.Kernel.Remote;
using MachIpc.Kernel.Simulated;

namespace MachIpc.Fuzz.Targets;

/// <summary>
/// Target 2: the kernel host's request decoder (<see cref="KernelHost.RequestHandler"/> over <see cref="FrameReader"/>).
/// The input is what a joined client writes on its connection after hello: frames of <c>u32 length</c> and payload.
/// Each frame is decoded and performed in the client's task as the host does, until the input ends or the host would
/// disconnect (a <see cref="WireException"/>). Then the connection's resources are freed, the task dies, and the
/// kernel-wide leak check must be clean. One liberty: a mach_msg request never waits (the harness sets
/// MACH_SEND_TIMEOUT and MACH_RCV_TIMEOUT with a zero timeout), since a blocked receive is what a client asked for,
/// not a defect, and would stall the fuzzer.
/// </summary>
internal static class WireTarget
{
    private static readonly SimulatedKernel Kernel = SimulatedKernel.Shared;

    public static void Run(ReadOnlySpan<byte> input)
    {
        KernelSnapshot before = Kernel.Snapshot();
        SimulatedTask task = Kernel.CreateTask("fuzz client", null, null);
        var handler = new KernelHost.RequestHandler(Kernel, task, conn: null);
        var reply = new FrameWriter();
        try
        {
            using IDisposable scope = task.Enter();
            while (input.Length >= 4)
            {
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(input);
                if (length > Wire.MaxFrame || length > input.Length - 4)
                {
                    break; // the host disconnects an oversized frame; a short one is the end of the stream
                }
                byte[] frame = input.Slice(4, (int)length).ToArray();
                input = input[(4 + (int)length)..];
                NeverWait(frame);
                try
                {
                    if (!handler.Handle(frame, reply))
                    {
                        throw new FuzzFinding("a mach_msg with zero timeouts waited");
                    }
                }
                catch (WireException)
                {
                    break; // the host disconnects a client that breaks the protocol
                }
                if (BinaryPrimitives.ReadUInt32LittleEndian(reply.Buffer) != reply.Length - 4)
                {
                    throw new FuzzFinding("a reply frame's length does not match its contents");
                }
                handler.AfterReply();
            }
        }
        finally
        {
            handler.Free();
            task.Terminate();
        }
        string? leaks = Kernel.Snapshot().DescribeLeaksSince(before);
        if (leaks is not null)
        {
            throw new FuzzFinding("leaked after the client's task died: " + leaks);
        }
    }

    /// <summary>PROTOCOL.md "Msg": <c>op, option, send_size, rcv_size, rcv_name, timeout, ...</c>.</summary>
    private static void NeverWait(Span<byte> frame)
    {
        if (frame.Length < 24 || BinaryPrimitives.ReadUInt32LittleEndian(frame) != (uint)Wire.Op.Msg)
        {
            return;
        }
        uint option = BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], option | (uint)(MachMsgOption.SendTimeout | MachMsgOption.RcvTimeout));
        BinaryPrimitives.WriteUInt32LittleEndian(frame[20..], 0);
    }
}
