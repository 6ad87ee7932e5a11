using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;

namespace MachIpc.Generator.Emit;

/// <summary>
/// Emits typed <c>mach_msg</c> stubs. A generator cannot see another generator's output, so the final blittable
/// <c>DllImport</c> is emitted directly (pointers and primitives only, so it works with or without
/// <c>DisableRuntimeMarshalling</c>); off Darwin the call goes to <c>MachIpc.Kernel.Mach.Msg</c>.
/// </summary>
internal static class StubEmitter
{
    public static string Emit(MessageModel m)
    {
        SourceWriter w = Begin(m);
        string self = m.TypeName;
        string ret = Abi + "MachMsgReturn";
        string option = Abi + "MachMsgOption";
        string header = Abi + "MachMsgHeader";
        FieldModel headerField = Header(m);

        w.Open($"partial struct {self}");

        w.Line("/// <summary>Sends this message with <c>mach_msg(MACH_SEND_MSG)</c>; call <c>Prepare</c> first.</summary>");
        w.Line("/// <param name=\"options\">Extra option bits, such as <c>SendTimeout</c>.</param>");
        w.Line("/// <param name=\"timeout\">Timeout in milliseconds when <c>SendTimeout</c> is set.</param>");
        w.Line("/// <returns>The <c>mach_msg</c> result.</returns>");
        w.Line("/// <remarks>");
        w.Line("/// What the caller owns after a failure: after a result for which <c>IsPseudoReceived()</c> is true (timed out,");
        w.Line("/// interrupted, no buffer) the kernel copied the message back into this struct, and every right and region it");
        w.Line("/// carried is the caller's again under names of this task, the reply right in <c>msgh_local_port</c> included:");
        w.Line("/// release them with <c>ReceivedMessage.DestroyUnsent</c>. After <c>MACH_SEND_INVALID_DATA</c>,");
        w.Line("/// <c>MACH_SEND_INVALID_DEST</c> or <c>MACH_SEND_INVALID_HEADER</c> nothing was copied in: what the caller put in");
        w.Line("/// the message is still its own. After any other error the kernel destroyed what it had copied in.");
        w.Line("/// </remarks>");
        w.Open($"public unsafe {ret} Send({option} options = {option}.None, uint timeout = 0)");
        string sizeExpression = "SendSize";
        if (m.IsVariableSize)
        {
            SizeGuard(w, headerField, ret);
            sizeExpression = "size";
        }
        w.Line($"fixed ({self}* message = &this)");
        w.Open("");
        w.Line($"return __MachMsg(({header}*)message, {option}.SendMsg | options, (uint){sizeExpression}, 0, 0, timeout, 0);");
        w.Close();
        w.Close();
        w.Line();

        if (!HasOolPorts(m))
        {
            OwnedSend(w, m, headerField, sizeExpression, receive: false);
        }

        w.Line("/// <summary>Receives one message on <paramref name=\"receivePort\"/>, requesting this message's trailer.</summary>");
        w.Line("/// <param name=\"receivePort\">A receive right or port set.</param>");
        w.Line("/// <param name=\"buffer\">At least <see cref=\"ReceiveBufferSize\"/> bytes; validate it with <c>TryRead</c> afterwards.</param>");
        w.Line("/// <param name=\"options\">Extra option bits, such as <c>RcvTimeout</c>.</param>");
        w.Line("/// <param name=\"timeout\">Timeout in milliseconds when <c>RcvTimeout</c> is set.</param>");
        w.Line("/// <returns>The <c>mach_msg</c> result.</returns>");
        w.Open($"public static unsafe {ret} Receive(uint receivePort, global::System.Span<byte> buffer, {option} options = {option}.None, uint timeout = 0)");
        w.Line("if (buffer.Length < ReceiveBufferSize)");
        w.Open("");
        w.Line("throw new global::System.ArgumentException(\"The buffer must hold at least ReceiveBufferSize bytes.\", nameof(buffer));");
        w.Close();
        w.Line("fixed (byte* received = buffer)");
        w.Open("");
        w.Line($"return __MachMsg(({header}*)received, {option}.RcvMsg | TrailerOption | options, 0, (uint)buffer.Length, receivePort, timeout, 0);");
        w.Close();
        w.Close();
        w.Line();

        if (m.LocalDisposition != 0)
        {
            w.Line("/// <summary>");
            w.Line("/// Sends this message and receives the reply on its reply (local) port in one <c>mach_msg</c> call, through");
            w.Line("/// <paramref name=\"buffer\"/>; validate the reply with <c>TReply.TryRead</c> afterwards.");
            w.Line("/// </summary>");
            w.Line("/// <typeparam name=\"TReply\">The reply message type, whose trailer is requested.</typeparam>");
            w.Line("/// <param name=\"buffer\">At least <see cref=\"SendSize\"/> and <c>TReply.ReceiveBufferSize</c> bytes.</param>");
            w.Line("/// <param name=\"options\">Extra option bits, such as <c>RcvTimeout</c>.</param>");
            w.Line("/// <param name=\"timeout\">Timeout in milliseconds.</param>");
            w.Line("/// <returns>The <c>mach_msg</c> result.</returns>");
            OpenSendReceive(w, $"global::System.Span<byte> buffer, {option} options = {option}.None, uint timeout = 0");
            if (m.IsVariableSize)
            {
                SizeGuard(w, headerField, ret);
            }
            w.Line("global::System.Runtime.CompilerServices.Unsafe.WriteUnaligned(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(buffer), this);");
            w.Line($"{option} trailer = ({option})(((int)TReply.TrailerElements & 0xf) << 24);");
            w.Line("fixed (byte* message = buffer)");
            w.Open("");
            w.Line($"return __MachMsg(({header}*)message, {option}.SendMsg | {option}.RcvMsg | trailer | options, (uint){sizeExpression}, (uint)buffer.Length, {headerField.Name}.LocalPort, timeout, 0);");
            w.Close();
            w.Close();
            w.Line();
        }

        if (m.LocalDisposition != 0 && !HasOolPorts(m))
        {
            OwnedSend(w, m, headerField, sizeExpression, receive: true);
        }

        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Line($"private static unsafe {ret} __MachMsg({header}* msg, {option} option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify) =>");
        w.Line("    global::MachIpc.Kernel.Mach.IsDarwin");
        w.Line($"        ? ({ret})__Native.mach_msg(msg, (int)option, sendSize, rcvSize, rcvName, timeout, notify)");
        w.Line("        : global::MachIpc.Kernel.Mach.Msg(msg, option, sendSize, rcvSize, rcvName, timeout, notify);");
        w.Line();
        w.Open("private static unsafe class __Native");
        w.Line("[global::System.Runtime.InteropServices.DllImport(\"/usr/lib/libSystem.B.dylib\", EntryPoint = \"mach_msg\", ExactSpelling = true)]");
        w.Line($"internal static extern int mach_msg({header}* msg, int option, uint sendSize, uint rcvSize, uint rcvName, uint timeout, uint notify);");
        w.Close();

        w.Close();
        return End(m, w);
    }

    /// <summary>
    /// <c>Send(SendRight remotePort, ..., options, timeout)</c> and, for a message with a reply port,
    /// <c>SendReceive&lt;TReply&gt;(buffer, SendRight remotePort, ...)</c>: prepares the message from owned rights (and
    /// pinned spans for out-of-line data) and sends it; each right moves or is copied as its slot's declared disposition
    /// says, and a moved right leaves its owner only when the kernel took it (<c>MachIpc.Messages.RightCopyin</c>). Not
    /// emitted for messages with out-of-line port arrays, whose names the caller manages.
    /// </summary>
    private static void OwnedSend(SourceWriter w, MessageModel m, FieldModel header, string sizeExpression, bool receive)
    {
        string ret = Abi + "MachMsgReturn";
        string option = Abi + "MachMsgOption";
        string copyin = Messages + "RightCopyin";
        bool hasLocal = m.LocalDisposition != 0;
        var used = new System.Collections.Generic.HashSet<string> { "remotePort", "localPort", "options", "timeout", "size", "buffer", "trailer" };
        var parameters = new System.Collections.Generic.List<string>();
        if (receive)
        {
            parameters.Add("global::System.Span<byte> buffer");
        }
        parameters.Add($"{OwnedType(m.RemoteDisposition)} remotePort");
        if (hasLocal)
        {
            parameters.Add($"{OwnedType(m.LocalDisposition)} localPort");
        }
        var names = new System.Collections.Generic.Dictionary<FieldModel, string>();
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind is FieldKind.PortDescriptor or FieldKind.OolDescriptor)
            {
                string name = ParameterName(f.Name, used);
                names[f] = name;
                parameters.Add(f.Kind == FieldKind.PortDescriptor
                    ? $"{OwnedType(f.Disposition)}? {name}"
                    : $"global::System.ReadOnlySpan<byte> {name}");
            }
        }
        parameters.Add($"{option} options = {option}.None");
        parameters.Add("uint timeout = 0");

        w.Line("/// <summary>");
        if (receive)
        {
            w.Line("/// <see cref=\"SendReceive{TReply}(System.Span{byte}, " + option.Substring("global::".Length) + ", uint)\"/> from owned rights: prepares this message from");
            w.Line("/// them and sends it and receives the reply on its reply port through <paramref name=\"buffer\"/> in one");
            w.Line("/// <c>mach_msg</c> call. The rights go in as <c>Send</c>'s owned-right overload says: a <c>MOVE_*</c> slot's right");
            w.Line("/// leaves its owner only when the send half succeeded, a <c>COPY_*</c> or <c>MAKE_*</c> slot's owner keeps its right,");
            w.Line("/// and whatever a failed send gave back and nobody owns is destroyed. Validate the reply with <c>TReply.TryRead</c>.");
        }
        else
        {
            w.Line("/// Prepares this message from owned rights and sends it with <c>mach_msg(MACH_SEND_MSG)</c>. Each right goes in as its");
            w.Line("/// declared disposition says: a <c>MOVE_*</c> slot's right leaves its owner (which is then empty) only when the kernel");
            w.Line("/// took it, and after a send error that gave it back the caller still owns it (under the name the kernel gave it");
            w.Line("/// back); a <c>COPY_*</c> or <c>MAKE_*</c> slot's owner keeps its right. Out-of-line data is sent from the spans,");
            w.Line("/// pinned for the call. Whatever else a failed send gave back is destroyed, so the result is the only thing to check.");
        }
        if (m.IsVariableSize)
        {
            w.Line("/// The <c>msgh_size</c> set by <c>SetPayload</c> (or a full-size message if none was set) is kept.");
        }
        w.Line("/// </summary>");
        if (receive)
        {
            w.Line("/// <typeparam name=\"TReply\">The reply message type, whose trailer is requested.</typeparam>");
            w.Line("/// <param name=\"buffer\">At least <see cref=\"SendSize\"/> and <c>TReply.ReceiveBufferSize</c> bytes.</param>");
        }
        w.Line("/// <param name=\"remotePort\">The destination.</param>");
        if (hasLocal)
        {
            w.Line("/// <param name=\"localPort\">The reply port.</param>");
        }
        foreach (FieldModel f in m.Fields)
        {
            if (names.TryGetValue(f, out string? name))
            {
                w.Line(f.Kind == FieldKind.PortDescriptor
                    ? $"/// <param name=\"{name.TrimStart('@')}\">The right for <see cref=\"{f.Name.TrimStart('@')}\"/>, or null to send <c>MACH_PORT_NULL</c>.</param>"
                    : $"/// <param name=\"{name.TrimStart('@')}\">The bytes <see cref=\"{f.Name.TrimStart('@')}\"/> carries out of line.</param>");
            }
        }
        w.Line(receive
            ? "/// <param name=\"options\">Extra option bits, such as <c>RcvTimeout</c>.</param>"
            : "/// <param name=\"options\">Extra option bits, such as <c>SendTimeout</c>.</param>");
        w.Line(receive
            ? "/// <param name=\"timeout\">Timeout in milliseconds.</param>"
            : "/// <param name=\"timeout\">Timeout in milliseconds when <c>SendTimeout</c> is set.</param>");
        w.Line("/// <returns>The <c>mach_msg</c> result.</returns>");
        w.Line(receive
            ? "/// <exception cref=\"global::System.ArgumentException\"><paramref name=\"buffer\"/> is too small.</exception>"
            : "/// <exception cref=\"global::System.ArgumentNullException\">A header right is null.</exception>");
        if (receive)
        {
            w.Line("/// <exception cref=\"global::System.ArgumentNullException\">A header right is null.</exception>");
        }
        w.Line("/// <exception cref=\"global::System.ObjectDisposedException\">A right was already released or moved.</exception>");
        if (receive)
        {
            OpenSendReceive(w, string.Join(", ", parameters));
        }
        else
        {
            w.Open($"public unsafe {ret} Send({string.Join(", ", parameters)})");
        }
        if (m.IsVariableSize)
        {
            w.Line($"uint __payloadSize = this.{header.Name}.Size;");
        }
        string local = hasLocal ? $", {copyin}.Name(localPort, nameof(localPort), false)" : "";
        w.Line($"this.Prepare({copyin}.Name(remotePort, nameof(remotePort), false){local});");
        if (m.IsVariableSize)
        {
            w.Line("if (__payloadSize != 0)");
            w.Open("");
            w.Line($"this.{header.Name}.Size = __payloadSize;");
            w.Close();
            SizeGuard(w, header, ret);
        }
        int slot = 0;
        var refs = new System.Collections.Generic.Dictionary<FieldModel, string>();
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind == FieldKind.PortDescriptor)
            {
                string name = names[f];
                w.Line($"this.{f.Name}.Name = {copyin}.Name({name}, nameof({name}), true);");
                if (Moves(f.Disposition))
                {
                    refs[f] = "__refs" + Int(slot++);
                    w.Line($"uint {refs[f]} = {copyin}.Before({name}, {MsgType(f.Disposition)});");
                }
            }
        }
        w.Line($"{ret} __result;");
        int pins = 0;
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind == FieldKind.OolDescriptor)
            {
                w.Line($"fixed (byte* __data{Int(pins++)} = {names[f]})");
            }
        }
        // The message the kernel reads, and writes back after a pseudo-receive: this struct, or its copy in the buffer.
        string message = receive ? "__sent" : "__message";
        w.Open(receive ? "fixed (byte* __buffer = buffer)" : $"fixed ({m.TypeName}* __message = &this)");
        pins = 0;
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind == FieldKind.OolDescriptor)
            {
                w.Line($"this.{f.Name}.Address = (ulong)__data{Int(pins++)};");
                w.Line($"this.{f.Name}.Size = (uint){names[f]}.Length;");
                if (f.Deallocate)
                {
                    // The span is the caller's memory (maybe the GC heap), never a region the kernel may unmap.
                    w.Line($"this.{f.Name}.Deallocate = 0;");
                }
            }
        }
        if (receive)
        {
            w.Line($"{m.TypeName}* __sent = ({m.TypeName}*)__buffer;");
            w.Line("global::System.Runtime.CompilerServices.Unsafe.WriteUnaligned(__buffer, this);");
            w.Line($"{option} trailer = ({option})(((int)TReply.TrailerElements & 0xf) << 24);");
            w.Line($"__result = __MachMsg(({Abi}MachMsgHeader*)__sent, {option}.SendMsg | {option}.RcvMsg | trailer | options, (uint){sizeExpression}, (uint)buffer.Length, this.{header.Name}.LocalPort, timeout, 0);");
        }
        else
        {
            w.Line($"__result = __MachMsg(({Abi}MachMsgHeader*)__message, {option}.SendMsg | options, (uint){sizeExpression}, 0, 0, timeout, 0);");
        }
        w.Line($"{copyin}.Settle(__result, remotePort, RemoteDisposition, &{message}->{header.Name}.RemotePort, true, 0);");
        if (hasLocal)
        {
            w.Line($"{copyin}.Settle(__result, localPort, LocalDisposition, &{message}->{header.Name}.LocalPort, true, 0);");
        }
        pins = 0;
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind == FieldKind.PortDescriptor)
            {
                w.Line($"{copyin}.Settle(__result, {names[f]}, {MsgType(f.Disposition)}, &{message}->{f.Name}.Name, false, {(refs.TryGetValue(f, out string? r) ? r : "0")});");
            }
            else if (f.Kind == FieldKind.OolDescriptor)
            {
                // Unless a pseudo-receive mapped the region back (a new address), the descriptor still points at the span;
                // in the buffer, which holds the reply after a send that went through, only a pseudo-received request is looked at.
                string pinned = "__data" + Int(pins++);
                w.Line(receive
                    ? $"if (global::MachIpc.Abi.MachMsgReturns.IsPseudoReceived(__result) && __sent->{f.Name}.Address == (ulong){pinned})"
                    : $"if (this.{f.Name}.Address == (ulong){pinned})");
                w.Open("");
                w.Line($"{message}->{f.Name}.Address = 0;");
                w.Line($"{message}->{f.Name}.Size = 0;");
                w.Close();
                if (receive)
                {
                    w.Line($"this.{f.Name}.Address = 0;");
                    w.Line($"this.{f.Name}.Size = 0;");
                }
            }
        }
        w.Line($"{copyin}.Finish(__result, ({Abi}MachMsgHeader*){message});");
        w.Close();
        w.Line("return __result;");
        w.Close();
        w.Line();
    }

    /// <summary>Opens a <c>SendReceive&lt;TReply&gt;</c> with <paramref name="parameters"/> and its check of the buffer's size.</summary>
    private static void OpenSendReceive(SourceWriter w, string parameters)
    {
        w.Line($"public unsafe {Abi}MachMsgReturn SendReceive<TReply>({parameters})");
        w.Line($"    where TReply : unmanaged, {Messages}IMachMessage<TReply>");
        w.Open("");
        w.Line("if (buffer.Length < SendSize || buffer.Length < TReply.ReceiveBufferSize)");
        w.Open("");
        w.Line("throw new global::System.ArgumentException(\"The buffer must hold the request and the reply with its trailer.\", nameof(buffer));");
        w.Close();
    }

    private static bool HasOolPorts(MessageModel m)
    {
        foreach (FieldModel f in m.Fields)
        {
            if (f.Kind == FieldKind.OolPortsDescriptor)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A camelCase parameter name for a field, escaped if it is a keyword and distinct from <paramref name="used"/>.</summary>
    private static string ParameterName(string field, System.Collections.Generic.HashSet<string> used)
    {
        string bare = field.TrimStart('@');
        string name = char.ToLowerInvariant(bare[0]) + bare.Substring(1);
        while (!used.Add(name))
        {
            name += "Arg";
        }
        return Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + name : name;
    }

    private static void SizeGuard(SourceWriter w, FieldModel header, string ret)
    {
        w.Line("// Variable-length message: never let msgh_size make the kernel read past this struct.");
        w.Line($"uint size = {header.Name}.Size;");
        w.Line("if (size < MinSize || (size & 3u) != 0)");
        w.Open("");
        w.Line($"return {ret}.SendMsgTooSmall;");
        w.Close();
        w.Line("if (size > SendSize)");
        w.Open("");
        w.Line($"return {ret}.SendTooLarge;");
        w.Close();
    }
}
