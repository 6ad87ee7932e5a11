using System;
using BenchmarkDotNet.Attributes;
using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Generator.Benchmarks;

[MachMessage(1000, Local = MachMsgType.MakeSendOnce, Trailer = MachTrailerElements.Audit)]
public partial struct CheckIn
{
    public MachMsgHeader Header;
    public MachMsgBody Body;
    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor TaskPort;
}

/// <summary>Validate-and-read of a received TaskPortCheckIn-shaped message, including the sender pid from the audit trailer.</summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class ValidationBenchmarks
{
    private readonly byte[] _buffer = new byte[CheckIn.ReceiveBufferSize];

    [GlobalSetup]
    public void Setup()
    {
        CheckIn msg = default;
        msg.TaskPort.Name = 0x1103;
        msg.Prepare(0x707, 0x909);
        msg.Header.Bits = MachMsgBits.Make(MachMsgType.PortSendOnce, MachMsgType.PortSend, MachMsgType.None, complex: true);
        msg.TaskPort.Disposition = MachMsgType.PortSend;
        System.Runtime.InteropServices.MemoryMarshal.Write(_buffer, in msg);
        Span<byte> trailer = _buffer.AsSpan(CheckIn.TrailerOffset);
        BitConverter.TryWriteBytes(trailer, 0u);
        BitConverter.TryWriteBytes(trailer.Slice(4), 52u);
        BitConverter.TryWriteBytes(trailer.Slice(40), 4242);
        if (CheckIn.Validate(_buffer) != MachValidationError.None)
        {
            throw new InvalidOperationException("benchmark input is invalid");
        }
    }

    [Benchmark(Description = "TryRead + TaskPort name + SenderPid")]
    public long ValidateAndRead()
    {
        if (CheckIn.TryRead(_buffer, out MachReceived<CheckIn> received) != MachValidationError.None)
        {
            return -1;
        }
        return received.Message.TaskPort.Name + received.SenderPid.GetValueOrDefault();
    }

    [Benchmark(Description = "Validate only")]
    public MachValidationError ValidateOnly() => CheckIn.Validate(_buffer);
}
