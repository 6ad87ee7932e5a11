using System;
using System.Runtime.InteropServices;
using MachIpc.Abi;
using MachIpc.Fuzz.Messages;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Fuzz.Targets;

/// <summary>
/// Target 1: the generated receive-side validation. The input is a received buffer (header, body, trailer) as the
/// kernel would have written it, from a hostile sender. Every message type's <c>Validate</c> and <c>TryRead</c> see
/// the exact bytes, and the generated dispatcher sees them in a server-sized buffer, as <see cref="MachServer"/>
/// hands it over. Nothing may throw, the two validators must agree, and a handler must never fail on a message its
/// validator accepted.
/// </summary>
internal static unsafe class ValidatorTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        Check<FuzzSimple>(input);
        Check<FuzzCarriesAll>(input);
        Check<FuzzVariable>(input);
        Check<FuzzVariableWithPort>(input);
        Check<FuzzNatural>(input);
        Dispatch(input);
    }

    private static void Check<T>(ReadOnlySpan<byte> input) where T : unmanaged, IMachMessage<T>
    {
        MachValidationError validated = T.Validate(input);
        MachValidationError read = T.TryRead(input, out MachReceived<T> message);
        if (validated != read)
        {
            throw new FuzzFinding($"{typeof(T).Name}: Validate says {validated}, TryRead says {read}");
        }
        if (!Enum.IsDefined(read))
        {
            throw new FuzzFinding($"{typeof(T).Name}: undefined validation error {(int)read}");
        }
        if (read != MachValidationError.None)
        {
            return;
        }
        // An accepted message: its id, its size and its trailer are within what was received.
        if (message.Header.Id != T.MsgId || message.MessageSize < T.MinSize || message.MessageSize > input.Length)
        {
            throw new FuzzFinding($"{typeof(T).Name}: accepted id {message.Header.Id}, size {message.MessageSize} of {input.Length} bytes");
        }
        if (message.TrailerOffset + message.TrailerSize > input.Length || message.TrailerSize < T.TrailerSize)
        {
            throw new FuzzFinding($"{typeof(T).Name}: accepted trailer {message.TrailerOffset}+{message.TrailerSize} of {input.Length} bytes");
        }
        _ = message.Message;
        _ = message.Trailer.Length + (message.Seqno ?? 0) + (message.SenderPid ?? 0);
        _ = message.Sender;
        _ = message.AuditToken;
    }

    private static readonly FuzzServer Server = new();

    private static void Dispatch(ReadOnlySpan<byte> input)
    {
        IMachDispatcher dispatcher = Server;
        // What MachServer receives into: at least its largest request and a full trailer, zero past what arrived.
        int size = Math.Max(input.Length, dispatcher.MaxRequestSize + MachMsgAuditTrailer.SizeOf);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)size);
        try
        {
            input.CopyTo(new Span<byte>(buffer, size));
            MachDispatchResult result = dispatcher.Dispatch((MachMsgHeader*)buffer, size);
            if (result.Status == MachDispatchStatus.HandlerFailed)
            {
                throw new FuzzFinding($"a handler failed on a validated message: {result.Exception}");
            }
            if (!Enum.IsDefined(result.Status))
            {
                throw new FuzzFinding($"undefined dispatch status {(int)result.Status}");
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }
}
