using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;

namespace MachIpc.Generator.Emit;

/// <summary>Emits <c>Validate</c> and <c>TryRead</c>: receive-side checks that never trust the sender.</summary>
internal static class ValidationEmitter
{
    public static string Emit(MessageModel m)
    {
        SourceWriter w = Begin(m);
        string self = m.TypeName;
        string error = Messages + "MachValidationError";
        string span = "global::System.ReadOnlySpan<byte>";
        string memoryMarshal = "global::System.Runtime.InteropServices.MemoryMarshal";

        w.Open($"partial struct {self}");

        w.Line("/// <summary>");
        w.Line("/// Checks a received message without trusting its sender: sizes, id, header bits, every descriptor, and the");
        w.Line("/// trailer the kernel wrote at <c>round_msg(msgh_size)</c>. Allocation-free; never throws.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"received\">The receive buffer, from the header on.</param>");
        w.Line("/// <returns><see cref=\"global::MachIpc.Messages.MachValidationError.None\"/>, or why the message was rejected.</returns>");
        w.Line($"public static {error} Validate({span} received) => Validate(received, out _, out _);");
        w.Line();

        w.Line("/// <summary>Validates <paramref name=\"received\"/> and, when it is valid, returns a typed view of it and its trailer.</summary>");
        w.Line("/// <param name=\"received\">The receive buffer, from the header on.</param>");
        w.Line("/// <param name=\"message\">The validated view, or <see langword=\"default\"/> when the message was rejected.</param>");
        w.Line("/// <returns><see cref=\"global::MachIpc.Messages.MachValidationError.None\"/>, or why the message was rejected.</returns>");
        w.Open($"public static {error} TryRead({span} received, out {Messages}MachReceived<{self}> message)");
        w.Line($"{error} result = Validate(received, out int trailerOffset, out int trailerSize);");
        w.Line($"message = result == {error}.None ? {Messages}MachReceived<{self}>.FromValidated(received, trailerOffset, trailerSize) : default;");
        w.Line("return result;");
        w.Close();
        w.Line();

        w.Open($"private static {error} Validate({span} received, out int trailerOffset, out int trailerSize)");
        w.Line("trailerOffset = 0;");
        w.Line("trailerSize = 0;");
        if (m.IsVariableSize)
        {
            // A short message may arrive in a buffer cut to round_msg(msgh_size) + trailer: demand only the fixed part.
            w.Line("// Only the fixed part (header, body, descriptors: MinSize bytes) is read before msgh_size is known; the");
            w.Line("// trailer check below then covers what msgh_size says was sent, in whatever buffer length it arrives.");
            w.Line("if (received.Length < MinSize)");
        }
        else
        {
            w.Line("// The whole declared struct must be addressable before any field of it is read.");
            w.Line("if (received.Length < SendSize)");
        }
        w.Open("");
        w.Line($"return {error}.BufferTooSmall;");
        w.Close();
        w.Line($"ref readonly {Abi}MachMsgHeader header = ref {memoryMarshal}.AsRef<{Abi}MachMsgHeader>(received);");
        if (m.IsVariableSize)
        {
            w.Line("// Variable-length message: msgh_size decides where the kernel put the trailer, so it is bounded first.");
            w.Line("if (header.Size < MinSize || header.Size > SendSize)");
            w.Open("");
            w.Line($"return {error}.SizeOutOfRange;");
            w.Close();
            w.Line("if ((header.Size & 3u) != 0)");
            w.Open("");
            w.Line($"return {error}.SizeNotAligned;");
            w.Close();
            if (m.Count is { } count && m.Payload is { } payload)
            {
                // The count lies within MinSize, so it is in the buffer; a peer's count may not claim more elements than
                // msgh_size carries (a negative or huge one is refused too).
                int elementSize = payload.Size / payload.ElementCount;
                w.Line($"// [MachCount] {count.Name}: no more elements than the {Int(elementSize)}-byte ones msgh_size carries after offset {Int(payload.Offset)}.");
                w.Line($"long __count = (long){memoryMarshal}.Read<{count.ScalarType}>(received.Slice({Int(count.Offset)}));");
                w.Line($"long __room = ((long)header.Size - {Int(payload.Offset)}) / {Int(elementSize)};");
                w.Line("if (__count < 0 || __count > __room)");
                w.Open("");
                w.Line($"return {error}.CountOutOfRange;");
                w.Close();
            }
        }
        else
        {
            w.Line("// Fixed-size message: any other msgh_size would move the trailer into (or out of) what the struct calls data.");
            w.Line("if (header.Size != SendSize)");
            w.Open("");
            w.Line($"return {error}.WrongSize;");
            w.Close();
        }
        w.Line("if (header.Id != MsgId)");
        w.Open("");
        w.Line($"return {error}.WrongId;");
        w.Close();
        w.Line($"if ((header.Bits & {Abi}MachMsgBits.Complex) {(m.IsComplex ? "==" : "!=")} 0)");
        w.Open("");
        w.Line($"return {error}.ComplexBitMismatch;");
        w.Close();
        w.Line("// The kernel swaps the ports on receive: the local nibble describes the destination, the remote nibble the reply.");
        w.Line($"if (header.LocalDisposition != {ReceivedType(m.RemoteDisposition)})");
        w.Open("");
        w.Line($"return {error}.WrongDestinationDisposition;");
        w.Close();
        w.Line($"if (header.RemoteDisposition != {ReceivedType(m.LocalDisposition)})");
        w.Open("");
        w.Line($"return {error}.WrongReplyDisposition;");
        w.Close();

        FieldModel? body = Body(m);
        if (body is not null)
        {
            w.Line(m.IsVariableSize
                ? $"ref readonly {self} message = ref global::System.Runtime.CompilerServices.Unsafe.As<byte, {self}>(ref {memoryMarshal}.GetReference(received)); // fields below MinSize only"
                : $"ref readonly {self} message = ref {memoryMarshal}.AsRef<{self}>(received);");
            w.Line($"if (message.{body.Name}.DescriptorCount != DescriptorCount)");
            w.Open("");
            w.Line($"return {error}.WrongDescriptorCount;");
            w.Close();
            foreach (FieldModel f in m.Fields)
            {
                switch (f.Kind)
                {
                    case FieldKind.PortDescriptor:
                        TypeCheck(w, f, "Port", error);
                        DispositionCheck(w, f, error);
                        break;
                    case FieldKind.OolDescriptor:
                        TypeCheck(w, f, "Ool", error);
                        w.Line(f.MinBytes > 0
                            ? $"if (message.{f.Name}.Size < {Long(f.MinBytes)}u || message.{f.Name}.Size > {Long(f.MaxBytes)}u)"
                            : $"if (message.{f.Name}.Size > {Long(f.MaxBytes)}u)");
                        w.Open("");
                        w.Line($"return {error}.OolSizeOutOfRange;");
                        w.Close();
                        break;
                    case FieldKind.OolPortsDescriptor:
                        TypeCheck(w, f, "OolPorts", error);
                        DispositionCheck(w, f, error);
                        w.Line($"if (message.{f.Name}.Count > {Long(f.MaxBytes)}u)");
                        w.Open("");
                        w.Line($"return {error}.OolPortsCountOutOfRange;");
                        w.Close();
                        break;
                }
            }
        }

        w.Line("// The trailer is where the kernel wrote it, round_msg(msgh_size) of the received header, never at a struct");
        w.Line("// offset: bytes a sender appends to its message cannot pose as a trailer. Format and size are checked before");
        w.Line("// any trailer field is exposed.");
        w.Line("int offset = (int)((header.Size + 3u) & ~3u);");
        w.Line("if (received.Length - offset < TrailerSize)");
        w.Open("");
        w.Line($"return {error}.TrailerOutOfBounds;");
        w.Close();
        w.Line($"ref readonly {Abi}MachMsgTrailer trailer = ref {memoryMarshal}.AsRef<{Abi}MachMsgTrailer>(received.Slice(offset));");
        w.Line($"if (trailer.Type != {Abi}MachTrailerRequest.Format0)");
        w.Open("");
        w.Line($"return {error}.WrongTrailerFormat;");
        w.Close();
        w.Line("if (trailer.Size < TrailerSize)");
        w.Open("");
        w.Line($"return {error}.TrailerTooSmall;");
        w.Close();
        w.Line("trailerOffset = offset;");
        w.Line("trailerSize = (int)global::System.Math.Min(trailer.Size, (uint)(received.Length - offset));");
        w.Line($"return {error}.None;");
        w.Close();

        w.Close();
        return End(m, w);
    }

    private static void TypeCheck(SourceWriter w, FieldModel f, string type, string error)
    {
        w.Line($"if (message.{f.Name}.Type != {Abi}MachMsgDescriptorType.{type})");
        w.Open("");
        w.Line($"return {error}.WrongDescriptorType;");
        w.Close();
    }

    private static void DispositionCheck(SourceWriter w, FieldModel f, string error)
    {
        w.Line($"if (message.{f.Name}.Disposition != {ReceivedType(f.Disposition)})");
        w.Open("");
        w.Line($"return {error}.WrongDescriptorDisposition;");
        w.Close();
    }
}
