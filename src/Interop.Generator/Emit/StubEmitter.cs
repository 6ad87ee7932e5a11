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
            w.Line($"public unsafe {ret} SendReceive<TReply>(global::System.Span<byte> buffer, {option} options = {option}.None, uint timeout = 0)");
            w.Line($"    where TReply : unmanaged, {Messages}IMachMessage<TReply>");
            w.Open("");
            w.Line("if (buffer.Length < SendSize || buffer.Length < TReply.ReceiveBufferSize)");
            w.Open("");
            w.Line("throw new global::System.ArgumentException(\"The buffer must hold the request and the reply with its trailer.\", nameof(buffer));");
            w.Close();
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
