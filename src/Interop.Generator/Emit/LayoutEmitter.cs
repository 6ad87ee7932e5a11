using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;

namespace MachIpc.Generator.Emit;

/// <summary>Emits the struct layout, the constants, the <c>IMachMessage</c> implementation and <c>Prepare</c>.</summary>
internal static class LayoutEmitter
{
    public static string Emit(MessageModel m)
    {
        SourceWriter w = Begin(m);
        string self = m.TypeName;
        string iface = Messages + "IMachMessage<" + self + ">";
        FieldModel header = Header(m);
        FieldModel? body = Body(m);

        if (m.Layout == LayoutKindModel.Pack4)
        {
            w.Line("// C layout under #pragma pack(4), as the Mach headers and MIG declare messages. Every accepted field is");
            w.Line("// blittable, so the CLR's sequential layout with Pack = 4 is the same layout (tests compare it with a C compiler).");
            w.Line($"[global::System.Runtime.InteropServices.StructLayout(global::System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 4, Size = {Int(m.SendSize)})]");
        }
        else
        {
            w.Line("// Natural C layout: the ABI structs keep the 4-byte alignment <mach/message.h> gives them, every other field");
            w.Line("// is aligned to its own size, as a C compiler does without #pragma pack. The CLR's default sequential layout");
            w.Line("// of blittable fields is the same layout (tests compare it with a C compiler).");
            w.Line($"[global::System.Runtime.InteropServices.StructLayout(global::System.Runtime.InteropServices.LayoutKind.Sequential, Size = {Int(m.SendSize)})]");
        }
        w.Open($"partial struct {self} : {iface}");

        w.Line("/// <summary><c>msgh_id</c> of this message.</summary>");
        w.Line($"public const int MsgId = {Int(m.Id)};");
        w.Line("/// <summary>C <c>sizeof</c> of the message: the <c>msgh_size</c> it is sent with.</summary>");
        w.Line($"public const int SendSize = {Int(m.SendSize)};");
        w.Line(m.IsVariableSize
            ? "/// <summary>Smallest <c>msgh_size</c> a receiver accepts (a variable-length message).</summary>"
            : "/// <summary>Smallest <c>msgh_size</c> a receiver accepts: equal to <see cref=\"SendSize\"/>, the message has a fixed size.</summary>");
        w.Line($"public const int MinSize = {Int(m.MinSize)};");
        w.Line("/// <summary>Number of descriptors after the body.</summary>");
        w.Line($"public const int DescriptorCount = {Int(m.DescriptorCount)};");
        w.Line("/// <summary>Whether the message is sent with <c>MACH_MSGH_BITS_COMPLEX</c>.</summary>");
        w.Line($"public const bool IsComplex = {(m.IsComplex ? "true" : "false")};");
        w.Line("/// <summary>Disposition of the destination (remote) port on send.</summary>");
        w.Line($"public const {Abi}MachMsgType RemoteDisposition = {MsgType(m.RemoteDisposition)};");
        w.Line("/// <summary>Disposition of the reply (local) port on send.</summary>");
        w.Line($"public const {Abi}MachMsgType LocalDisposition = {MsgType(m.LocalDisposition)};");
        w.Line("/// <summary>Trailer elements a receiver requests.</summary>");
        w.Line($"public const {Abi}MachTrailerElements TrailerElements = {TrailerElements(m.TrailerElements)};");
        w.Line("/// <summary>Size in bytes of the requested trailer.</summary>");
        w.Line($"public const int TrailerSize = {Int(m.TrailerSize)};");
        w.Line("/// <summary><c>round_msg(SendSize)</c>: where the kernel puts the trailer of a full-size message. Receivers use <c>round_msg(msgh_size)</c> of the received header.</summary>");
        w.Line($"public const int TrailerOffset = {Int(m.TrailerOffset)};");
        w.Line("/// <summary>A receive buffer size that fits the message and its requested trailer.</summary>");
        w.Line($"public const int ReceiveBufferSize = {Int(m.ReceiveBufferSize)};");
        uint option = (uint)(m.TrailerElements & 0xf) << 24;
        w.Line("/// <summary>Receive option bits: <c>MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) | MACH_RCV_TRAILER_ELEMENTS(TrailerElements)</c>.</summary>");
        w.Line($"public const {Abi}MachMsgOption TrailerOption = ({Abi}MachMsgOption){Hex(option)};");
        w.Line();

        w.Line("/// <summary>C offset of every field, in bytes.</summary>");
        w.Open("public static class Offsets");
        foreach (FieldModel f in m.Fields)
        {
            w.Line($"/// <summary>Offset of <see cref=\"{self}.{f.Name}\"/>.</summary>");
            w.Line($"public const int {f.Name} = {Int(f.Offset)};");
        }
        w.Close();
        w.Line();

        foreach ((string type, string name) in new[]
        {
            ("int", "MsgId"), ("int", "SendSize"), ("int", "MinSize"), ("bool", "IsComplex"), ("int", "DescriptorCount"),
            (Abi + "MachTrailerElements", "TrailerElements"), ("int", "TrailerSize"), ("int", "ReceiveBufferSize"),
        })
        {
            w.Line($"static {type} {iface}.{name} => {name};");
        }
        w.Line();

        bool hasLocal = m.LocalDisposition != 0;
        w.Line("/// <summary>");
        w.Line("/// Fills in everything the declaration fixes: header bits, size and id, the descriptor count, and each descriptor's");
        w.Line("/// type, disposition and copy options. The caller supplies port names, out-of-line addresses and sizes, and data.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"remotePort\">The destination port name.</param>");
        if (hasLocal)
        {
            w.Line("/// <param name=\"localPort\">The reply port name (0 for none).</param>");
            w.Open("public void Prepare(uint remotePort, uint localPort)");
        }
        else
        {
            w.Open("public void Prepare(uint remotePort)");
        }
        uint bits = (uint)m.RemoteDisposition | ((uint)m.LocalDisposition << 8) | (m.IsComplex ? 0x80000000u : 0u);
        string bitsComment = $"MACH_MSGH_BITS({MsgType(m.RemoteDisposition).Substring(Abi.Length + "MachMsgType.".Length)}, {MsgType(m.LocalDisposition).Substring(Abi.Length + "MachMsgType.".Length)})" + (m.IsComplex ? " | MACH_MSGH_BITS_COMPLEX" : "");
        w.Line($"{header.Name}.Bits = {Hex(bits)}; // {bitsComment}");
        w.Line($"{header.Name}.Size = SendSize;");
        w.Line($"{header.Name}.RemotePort = remotePort;");
        w.Line($"{header.Name}.LocalPort = {(hasLocal ? "localPort" : "0")};");
        w.Line($"{header.Name}.VoucherPort = 0;");
        w.Line($"{header.Name}.Id = MsgId;");
        if (body is not null)
        {
            w.Line($"{body.Name}.DescriptorCount = DescriptorCount;");
        }
        foreach (FieldModel f in m.Fields)
        {
            switch (f.Kind)
            {
                case FieldKind.PortDescriptor:
                    w.Line($"{f.Name}.Pad1 = 0;");
                    w.Line($"{f.Name}.Pad2 = 0;");
                    w.Line($"{f.Name}.Disposition = {MsgType(f.Disposition)};");
                    w.Line($"{f.Name}.Type = {Abi}MachMsgDescriptorType.Port;");
                    break;
                case FieldKind.OolDescriptor:
                    w.Line($"{f.Name}.Deallocate = {(f.Deallocate ? "1" : "0")};");
                    w.Line($"{f.Name}.Copy = {Copy(f.Copy)};");
                    w.Line($"{f.Name}.Pad1 = 0;");
                    w.Line($"{f.Name}.Type = {Abi}MachMsgDescriptorType.Ool;");
                    break;
                case FieldKind.OolPortsDescriptor:
                    w.Line($"{f.Name}.Deallocate = {(f.Deallocate ? "1" : "0")};");
                    w.Line($"{f.Name}.Copy = {Copy(f.Copy)};");
                    w.Line($"{f.Name}.Disposition = {MsgType(f.Disposition)};");
                    w.Line($"{f.Name}.Type = {Abi}MachMsgDescriptorType.OolPorts;");
                    break;
            }
        }
        w.Close();

        if (m.Payload is { } payload)
        {
            SetPayload(w, m, header, payload);
        }

        if (!Moves(m.RemoteDisposition) && !Moves(m.LocalDisposition))
        {
            // Only where nothing in the header moves: a Prepare cannot know whether the send that follows took a right.
            string localParameter = hasLocal ? $", {OwnedType(m.LocalDisposition)} localPort" : "";
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// <see cref=\"Prepare(uint" + (hasLocal ? ", uint" : "") + ")\"/> from owned rights, which stay owned: the header's dispositions copy or");
            w.Line("/// make the message's rights from them. Send the message with <c>Send</c> or a client's <c>Call</c>.");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"remotePort\">The destination.</param>");
            if (hasLocal)
            {
                w.Line("/// <param name=\"localPort\">The reply port.</param>");
            }
            w.Line("/// <exception cref=\"global::System.ArgumentNullException\">A right is null.</exception>");
            w.Line("/// <exception cref=\"global::System.ObjectDisposedException\">A right was already released or moved.</exception>");
            w.Line($"public void Prepare({OwnedType(m.RemoteDisposition)} remotePort{localParameter}) =>");
            string local = hasLocal ? $", {Messages}RightCopyin.Name(localPort, nameof(localPort), false)" : "";
            w.Line($"    Prepare({Messages}RightCopyin.Name(remotePort, nameof(remotePort), false){local});");
        }

        w.Close();
        return End(m, w);
    }

    /// <summary>
    /// <c>SetPayload(ReadOnlySpan&lt;T&gt;)</c> for a variable-length message ending in a fixed-size buffer: copies the
    /// elements, clears the rest of the buffer (no stale bytes go out in the rounded size), sets the <c>[MachCount]</c>
    /// field if there is one, and sets <c>msgh_size</c> to the bytes that carry them, rounded to 4 and at least <c>MinSize</c>.
    /// </summary>
    private static void SetPayload(SourceWriter w, MessageModel m, FieldModel header, FieldModel payload)
    {
        string element = payload.ScalarType;
        string bare = payload.Name.TrimStart('@');
        FieldModel? count = m.Count;
        int elementSize = payload.Size / payload.ElementCount;
        w.Line();
        w.Line("/// <summary>");
        w.Line($"/// Copies <paramref name=\"payload\"/> into <see cref=\"{bare}\"/> (clearing the rest of it)" + (count is null ? "" : $", sets <see cref=\"{count.Name.TrimStart('@')}\"/> to its length,"));
        w.Line($"/// and sets <c>msgh_size</c> to send only the bytes that carry it: <c>{Int(payload.Offset)} + {Int(elementSize)} * length</c> rounded up to 4,");
        w.Line("/// at least <see cref=\"MinSize\"/>. Call it after <c>Prepare</c>, which sets the full size.");
        w.Line("/// </summary>");
        w.Line($"/// <param name=\"payload\">At most {Int(payload.ElementCount)} elements.</param>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\"><paramref name=\"payload\"/> is longer than the buffer.</exception>");
        w.Open($"public unsafe void SetPayload(global::System.ReadOnlySpan<{element}> payload)");
        w.Line($"if (payload.Length > {Int(payload.ElementCount)})");
        w.Open("");
        w.Line($"throw new global::System.ArgumentException(\"{m.TypeName}.{bare} holds at most {Int(payload.ElementCount)} elements\", nameof(payload));");
        w.Close();
        w.Line($"fixed ({element}* __buffer = this.{payload.Name})");
        w.Open("");
        w.Line($"var __span = new global::System.Span<{element}>(__buffer, {Int(payload.ElementCount)});");
        w.Line("payload.CopyTo(__span);");
        w.Line("__span.Slice(payload.Length).Clear();");
        w.Close();
        if (count is not null)
        {
            w.Line($"this.{count.Name} = ({count.ScalarType})payload.Length;");
        }
        w.Line($"int __size = ({Int(payload.Offset)} + {Int(elementSize)} * payload.Length + 3) & ~3;");
        w.Line($"this.{header.Name}.Size = (uint)(__size < MinSize ? MinSize : __size);");
        w.Close();
    }
}
