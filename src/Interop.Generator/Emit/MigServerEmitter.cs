using System.Collections.Generic;
using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;
using static MachIpc.Generator.Emit.MigCheckEmitter;

namespace MachIpc.Generator.Emit;

/// <summary>
/// Emits the server side of a MIG subsystem in the shape of <c>[MachServer]</c>: a handler interface with one method
/// per routine (MIG's server routines, <c>serverprefix</c> + name) and a dispatcher implementing
/// <c>IMachDispatcher</c> that switches on <c>msgh_id</c> from the subsystem base, runs MIG's request checks, calls the
/// handler and builds the reply — the full reply on success, <c>mig_reply_error_t</c> on failure — as MIG's
/// <c>_X</c> stubs and libsyscall's <c>mach_msg_server</c> do.
/// </summary>
internal static class MigServerEmitter
{
    private const string Result = "global::MachIpc.Server.MachDispatchResult";
    private const string Request = "global::MachIpc.Mig.MigRequest";
    private const int StackLimit = 16384;

    public static string Emit(MigInterfaceModel model)
    {
        SourceWriter w = Begin(model.Namespace);
        string handler = "I" + model.TypePrefix + "Handler";
        string dispatcher = model.TypePrefix + "Dispatcher";

        w.Line("/// <summary>");
        w.Line($"/// The server routines of MIG subsystem <c>{model.Subsystem}</c> (msgh_id {Int(model.Base)}…{Int(model.Base + model.Count - 1)}), from");
        w.Line($"/// <c>{MigStructEmitter.Xml(model.SourceName)}</c>; <see cref=\"{dispatcher}\"/> calls them. Each returns a <c>kern_return_t</c>: 0 (KERN_SUCCESS)");
        w.Line("/// sends the reply and leaves the request's rights with the handler; <c>MIG_NO_REPLY</c> (-305) sends nothing and leaves every");
        w.Line("/// right, the reply right included, with the handler; any other code is sent back as <c>mig_reply_error_t</c> and the");
        w.Line("/// request is destroyed. Spans point into the message buffers and are valid only during the call.");
        w.Line("/// </summary>");
        w.Open($"public interface {handler}");
        foreach (MigRoutineModel routine in model.Routines)
        {
            w.Line($"/// <summary>{(routine.IsSimple ? "Simpleroutine" : "Routine")} <c>{routine.Name}</c> (msgh_id {Int(routine.Id)}).</summary>");
            foreach (MigArgModel a in routine.Arguments)
            {
                if (HandlerParameter(a) is not null)
                {
                    w.Line($"/// <param name=\"{a.Parameter.TrimStart('@')}\">{ParameterDoc(a)}</param>");
                    if (a.Kind is MigArgKind.Out && a.Shape == MigDataShape.VariableArray)
                    {
                        w.Line($"/// <param name=\"{a.Parameter.TrimStart('@')}Cnt\">How many elements of <paramref name=\"{a.Parameter.TrimStart('@')}\"/> to send{(a.Multiplier > 1 ? $" (in units of {Int(a.Multiplier)})" : string.Empty)}.</param>");
                    }
                }
            }
            w.Line("/// <returns>The <c>kern_return_t</c> of the routine.</returns>");
            w.Line($"int {routine.HandlerMethod}({string.Join(", ", HandlerParameters(routine))});");
            w.Line();
        }
        w.Close();
        w.Line();

        w.Line("/// <summary>");
        w.Line($"/// Dispatches the requests of MIG subsystem <c>{model.Subsystem}</c> to an <see cref=\"{handler}\"/>: give it to");
        w.Line("/// <c>MachServer</c>, or call <see cref=\"Dispatch\"/> with a received message. Requests failing MIG's checks are answered");
        w.Line("/// with the check's error and rejected (the server destroys them); an unknown id is <c>MIG_BAD_ID</c>.");
        w.Line("/// </summary>");
        w.Open($"public sealed unsafe partial class {dispatcher} : global::MachIpc.Server.IMachDispatcher");
        w.Line("/// <summary>The first message id of the subsystem.</summary>");
        w.Line($"public const int SubsystemBase = {Int(model.Base)};");
        w.Line("/// <summary>One past the last message id of the subsystem.</summary>");
        w.Line($"public const int SubsystemEnd = {Int(model.Base + model.Count)};");
        w.Line("/// <summary>The largest request of the subsystem.</summary>");
        w.Line($"public const int MaxRequestSize = {Int(MaxRequest(model))};");
        w.Line();
        w.Line($"private readonly {handler} _handler;");
        w.Line();
        w.Line("/// <summary>Creates a dispatcher calling <paramref name=\"handler\"/>.</summary>");
        w.Line("/// <param name=\"handler\">The server routines.</param>");
        w.Open($"public {dispatcher}({handler} handler)");
        w.Line("global::System.ArgumentNullException.ThrowIfNull(handler);");
        w.Line("_handler = handler;");
        w.Close();
        w.Line();
        w.Line("int global::MachIpc.Server.IMachDispatcher.MaxRequestSize => MaxRequestSize;");
        w.Line();
        w.Line("/// <summary>Checks and handles the received message at <paramref name=\"message\"/> (<paramref name=\"length\"/> valid bytes, trailer included).</summary>");
        w.Line("/// <param name=\"message\">The received message.</param>");
        w.Line("/// <param name=\"length\">The number of valid bytes at <paramref name=\"message\"/>.</param>");
        w.Line("/// <returns>What was done with it.</returns>");
        w.Open($"public {Result} Dispatch(global::MachIpc.Abi.MachMsgHeader* message, int length)");
        w.Open("switch (message->Id)");
        foreach (MigRoutineModel routine in model.Routines)
        {
            w.Line($"case {Int(routine.Id)}: return __X{routine.Identifier}(message, length);");
        }
        w.Line($"default: return {Result}.UnknownId;");
        w.Close();
        w.Close();
        foreach (MigRoutineModel routine in model.Routines)
        {
            w.Line();
            Routine(w, routine);
            w.Line();
            MigCheckEmitter.Emit(w, routine, reply: false, "__Check" + routine.Identifier);
        }
        w.Close();
        return End(model.Namespace, w);
    }

    private static int MaxRequest(MigInterfaceModel model)
    {
        int max = 24;
        foreach (MigRoutineModel r in model.Routines)
        {
            max = System.Math.Max(max, r.Request.Layout.SendSize);
        }
        return max;
    }

    /// <summary>The parameter a handler method declares for an argument, or null when the handler does not see it.</summary>
    private static string? HandlerParameter(MigArgModel a)
    {
        string name = a.Parameter;
        if (!a.HandlerSees)
        {
            return null;
        }
        switch (a.Kind)
        {
            case MigArgKind.RequestPort:
            case MigArgKind.ReplyPort:
            case MigArgKind.ServerReplyPort:
            case MigArgKind.MsgSeqno:
                return "uint " + name;
            case MigArgKind.ServerSecToken:
            case MigArgKind.ServerAuditToken:
                return a.Special + " " + name;
        }
        string element = a.Element;
        switch (a.Shape)
        {
            case MigDataShape.Port:
            case MigDataShape.Scalar:
                string type = a.Shape == MigDataShape.Port ? "uint" : element;
                return a.Kind switch { MigArgKind.In => type, MigArgKind.Out => "out " + type, _ => "ref " + type } + " " + name;
            case MigDataShape.FixedArray:
                return (a.Kind == MigArgKind.In ? $"global::System.ReadOnlySpan<{element}> " : $"global::System.Span<{element}> ") + name;
            case MigDataShape.VariableArray:
                return a.Kind == MigArgKind.In
                    ? $"global::System.ReadOnlySpan<{element}> {name}"
                    : $"global::System.Span<{element}> {name}, out int {name}Cnt";
            case MigDataShape.FixedString:
            case MigDataShape.VariableString:
                return (a.Kind == MigArgKind.In ? "global::System.ReadOnlySpan<byte> " : "global::System.Span<byte> ") + name;
            default:
                return a.Kind == MigArgKind.In ? $"global::System.ReadOnlySpan<{element}> {name}" : $"out {element}[]? {name}";
        }
    }

    private static IEnumerable<string> HandlerParameters(MigRoutineModel routine)
    {
        foreach (MigArgModel a in routine.Arguments)
        {
            if (HandlerParameter(a) is string p)
            {
                yield return p;
            }
        }
    }

    private static string ParameterDoc(MigArgModel a) => a.Kind switch
    {
        MigArgKind.RequestPort => "The port the request arrived on (its request port).",
        MigArgKind.ReplyPort or MigArgKind.ServerReplyPort => "The reply right the request carries: answer on it later when returning MIG_NO_REPLY.",
        MigArgKind.MsgSeqno => "The request's sequence number, from its trailer.",
        MigArgKind.ServerSecToken => "The sender's security token, from the kernel's trailer.",
        MigArgKind.ServerAuditToken => "The sender's audit token, from the kernel's trailer.",
        _ => a.Shape switch
        {
            MigDataShape.Port => a.Kind == MigArgKind.Out ? $"The name of a right to send back with <c>{DispositionName(a.InDisposition)}</c>." : "The name of the received right; the handler owns it when it returns 0.",
            MigDataShape.FixedString or MigDataShape.VariableString => a.Kind == MigArgKind.In
                ? "The string's bytes, without its NUL."
                : $"Write a NUL-terminated string of at most {Int(a.Count - 1)} bytes.",
            MigDataShape.OutOfLine => a.Kind == MigArgKind.In
                ? "The out-of-line data, deallocated after the call."
                : "The out-of-line data to send (null for none).",
            MigDataShape.VariableArray => a.Kind == MigArgKind.In ? "The array's elements." : $"Room for up to {Int(a.Elements)} elements.",
            MigDataShape.FixedArray => a.Kind == MigArgKind.In ? $"{Int(a.Elements)} elements." : $"Fill {Int(a.Elements)} elements.",
            _ => $"Argument <c>{a.Name}</c>.",
        },
    };

    private static void Routine(SourceWriter w, MigRoutineModel routine)
    {
        MessageModel request = routine.Request.Layout;
        string req = request.TypeName;
        string suffix = routine.Identifier;
        int requestViews = MaxView(routine, reply: false);

        w.Line($"// {(routine.IsSimple ? "SimpleRoutine" : "Routine")} {routine.Name}: MIG's _X{routine.Name}.");
        w.Open($"private {Result} __X{suffix}(global::MachIpc.Abi.MachMsgHeader* head, int length)");
        w.Line($"var in0 = ({req}*)head;");
        var checkArgs = new List<string> { "in0", "length" };
        for (int i = 1; i <= requestViews; i++)
        {
            checkArgs.Add($"out {req}* in{Int(i)}");
        }
        w.Line($"int check = __Check{suffix}({string.Join(", ", checkArgs)});");
        w.Line("if (check != 0)");
        w.Line($"    return {Request}.Reject(head, check);");

        Trailer(w, routine);

        MigMessageModel? replyMessage = routine.Reply;
        string? rep = replyMessage?.Layout.TypeName;
        if (rep is not null)
        {
            int size = replyMessage!.Layout.SendSize;
            if (size <= StackLimit)
            {
                w.Line($"byte* buffer = stackalloc byte[{rep}.SendSize];");
            }
            else
            {
                w.Line($"byte* buffer = (byte*)global::System.Runtime.InteropServices.NativeMemory.Alloc((nuint){rep}.SendSize);");
                w.Open("try");
            }
            w.Line($"new global::System.Span<byte>(buffer, {rep}.SendSize).Clear();");
            w.Line($"var out0 = ({rep}*)buffer;");
        }

        // Locals for the handler's arguments.
        var arguments = new List<string>();
        foreach (MigArgModel a in routine.Arguments)
        {
            string? argument = HandlerArgument(w, a, rep);
            if (argument is not null)
            {
                arguments.Add(argument);
            }
        }
        w.Line("int retCode;");
        w.Open("try");
        w.Line($"retCode = _handler.{routine.HandlerMethod}({string.Join(", ", arguments)});");
        w.Close();
        w.Open("catch (global::System.Exception exception)");
        w.Line("// The server loop answers MIG_REMOTE_ERROR and destroys the request.");
        w.Line($"return {Result}.HandlerFailed(exception);");
        w.Close();

        // A failed routine never took the request's rights: Finish destroys the request with them (and leaves
        // everything to the handler for MIG_NO_REPLY).
        ReleaseOutOfLine(w, routine);
        if (routine.IsSimple)
        {
            w.Line($"return {Request}.Finish(head, retCode);");
            w.Close();
            return;
        }
        w.Line("if (retCode != 0)");
        w.Line($"    return {Request}.Finish(head, retCode);");
        Reply(w, routine);
        if (replyMessage!.Layout.SendSize > StackLimit)
        {
            w.Close();
            w.Open("finally");
            w.Line("global::System.Runtime.InteropServices.NativeMemory.Free(buffer);");
            w.Close();
        }
        w.Close();
    }

    /// <summary>MIG's trailer checks for implicit arguments (utils.c WriteCheckTrailerHead / WriteCheckTrailerSize).</summary>
    private static void Trailer(SourceWriter w, MigRoutineModel routine)
    {
        bool any = false;
        foreach (MigArgModel a in routine.Arguments)
        {
            any |= a.Kind is MigArgKind.MsgSeqno or MigArgKind.ServerSecToken or MigArgKind.ServerAuditToken;
        }
        if (!any)
        {
            return;
        }
        w.Line("// The trailer the kernel wrote at round_msg(msgh_size): format 0, and long enough for every implicit argument.");
        w.Line("int trailerOffset = (int)((head->Size + 3u) & ~3u);");
        w.Line($"if (length - trailerOffset < {Abi}MachMsgTrailer.SizeOf)");
        w.Line($"    return {Request}.Reject(head, (int){MigReturn}.TrailerError);");
        w.Line($"var trailer = ({Abi}MachMsgMacTrailer*)((byte*)head + trailerOffset);");
        w.Line($"if (trailer->Type != {Abi}MachTrailerRequest.Format0)");
        w.Line($"    return {Request}.Reject(head, (int){MigReturn}.TrailerError);");
        w.Line("uint trailerSize = trailer->Size;");
        foreach (MigArgModel a in routine.Arguments)
        {
            (int size, int end) = a.Kind switch
            {
                MigArgKind.MsgSeqno => (4, 12),
                MigArgKind.ServerSecToken => (8, 20),
                MigArgKind.ServerAuditToken => (32, 52),
                _ => (0, 0),
            };
            if (size == 0)
            {
                continue;
            }
            w.Line($"if (trailerSize < {Int(size)}u || length - trailerOffset < {Int(end)} || trailer->Size < {Int(end)}u)");
            w.Line($"    return {Request}.Reject(head, (int){MigReturn}.TrailerError);");
            w.Line($"trailerSize -= {Int(size)}u;");
        }
    }

    /// <summary>Declares what the handler call needs for <paramref name="a"/> and returns the call's argument text.</summary>
    private static string? HandlerArgument(SourceWriter w, MigArgModel a, string? rep)
    {
        string name = a.Parameter;
        string local = "__" + name.TrimStart('@');
        string view = View("in", a, reply: false);
        if (!a.HandlerSees)
        {
            return null;
        }
        switch (a.Kind)
        {
            case MigArgKind.RequestPort:
                return "head->LocalPort";
            case MigArgKind.ReplyPort:
            case MigArgKind.ServerReplyPort:
                return "head->RemotePort";
            case MigArgKind.MsgSeqno:
                return "trailer->Seqno";
            case MigArgKind.ServerSecToken:
                return "trailer->Sender";
            case MigArgKind.ServerAuditToken:
                return "trailer->Audit";
        }
        bool direct = a.ReplyPos == 0;
        string replyField = rep is null ? string.Empty : $"out0->{a.Name}";
        switch (a.Shape)
        {
            case MigDataShape.Port:
                if (a.Kind == MigArgKind.In)
                {
                    return $"in0->{a.Name}.Name";
                }
                w.Line($"uint {local} = {(a.Kind == MigArgKind.InOut ? $"in0->{a.Name}.Name" : "0")};");
                return (a.Kind == MigArgKind.Out ? "out " : "ref ") + local;
            case MigDataShape.Scalar:
                if (a.Kind == MigArgKind.In)
                {
                    return $"{view}->{a.Name}";
                }
                w.Line($"{a.Element} {local} = {(a.Kind == MigArgKind.InOut ? $"{view}->{a.Name}" : "default")};");
                return (a.Kind == MigArgKind.Out ? "out " : "ref ") + local;
            case MigDataShape.FixedArray:
                if (a.Kind == MigArgKind.In)
                {
                    return $"new global::System.ReadOnlySpan<{a.Element}>({view}->{a.Name}, {Int(a.Elements)})";
                }
                if (a.Kind == MigArgKind.InOut)
                {
                    // Changed in place in the request, then copied to the reply (MIG's akbReplyCopy).
                    return $"new global::System.Span<{a.Element}>({view}->{a.Name}, {Int(a.Elements)})";
                }
                if (!direct)
                {
                    w.Line($"{a.Element}* {local} = stackalloc {a.Element}[{Int(a.Elements)}];");
                    return $"new global::System.Span<{a.Element}>({local}, {Int(a.Elements)})";
                }
                return $"new global::System.Span<{a.Element}>({replyField}, {Int(a.Elements)})";
            case MigDataShape.VariableArray:
                if (a.Kind == MigArgKind.In)
                {
                    return $"new global::System.ReadOnlySpan<{a.Element}>({view}->{a.Name}, {Elements(a, $"{view}->{a.Name}Cnt")})";
                }
                w.Line($"int {local}Cnt = 0;");
                if (!direct)
                {
                    w.Line($"{a.Element}* {local} = stackalloc {a.Element}[{Int(a.Elements)}];");
                    return $"new global::System.Span<{a.Element}>({local}, {Int(a.Elements)}), out {local}Cnt";
                }
                return $"new global::System.Span<{a.Element}>({replyField}, {Int(a.Elements)}), out {local}Cnt";
            case MigDataShape.FixedString:
            case MigDataShape.VariableString:
                if (a.Kind == MigArgKind.In)
                {
                    // The check found a NUL inside the message and the buffer.
                    return $"global::System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated({view}->{a.Name})";
                }
                if (!direct)
                {
                    w.Line($"byte* {local} = stackalloc byte[{Int(a.Count)}];");
                    w.Line($"new global::System.Span<byte>({local}, {Int(a.Count)}).Clear();");
                    return $"new global::System.Span<byte>({local}, {Int(a.Count)})";
                }
                return $"new global::System.Span<byte>({replyField}, {Int(a.Count)})";
            default:
                if (a.Kind == MigArgKind.In)
                {
                    string count = a.Varying ? Elements(a, $"{view}->{a.Name}Cnt") : Int(a.Elements);
                    return $"new global::System.ReadOnlySpan<{a.Element}>((void*)in0->{a.Name}.Address, {count})";
                }
                w.Line($"{a.Element}[]? {local} = null;");
                return "out " + local;
        }
    }

    /// <summary>
    /// Out-of-line memory a request brought is the handler's to read during the call only: once the handler has
    /// succeeded (or answered MIG_NO_REPLY) the dispatcher deallocates it (MIG does the same for unbounded arrays,
    /// akbDestroy); on failure the request is destroyed with everything it carries.
    /// </summary>
    private static void ReleaseOutOfLine(SourceWriter w, MigRoutineModel routine)
    {
        bool any = false;
        foreach (MigArgModel a in routine.Arguments)
        {
            any |= a.Kind == MigArgKind.In && a.Shape == MigDataShape.OutOfLine;
        }
        if (!any)
        {
            return;
        }
        w.Line($"if (retCode != 0 && retCode != (int){MigReturn}.NoReply)");
        w.Line($"    return {Request}.Finish(head, retCode);");
        foreach (MigArgModel a in routine.Arguments)
        {
            if (a.Kind != MigArgKind.In || a.Shape != MigDataShape.OutOfLine)
            {
                continue;
            }
            w.Line($"if (in0->{a.Name}.Size != 0)");
            w.Line($"    global::MachIpc.Kernel.Mach.VmDeallocate(global::MachIpc.Kernel.Mach.TaskSelf, in0->{a.Name}.Address, in0->{a.Name}.Size);");
            w.Line($"in0->{a.Name}.Address = 0;");
            w.Line($"in0->{a.Name}.Size = 0;");
        }
    }

    /// <summary>Builds and sends the reply (server.c WriteReplyArgs, WriteReplyInit; MIG's demux fills the header).</summary>
    private static void Reply(SourceWriter w, MigRoutineModel routine)
    {
        MessageModel reply = routine.Reply!.Layout;
        string rep = reply.TypeName;
        int views = MaxView(routine, reply: true);
        w.Line("// The header as MIG's demux makes it: to the request's reply right, id + 100.");
        w.Line($"out0->Head.Bits = (uint)head->RemoteDisposition{(reply.IsComplex ? $" | {Abi}MachMsgBits.Complex" : string.Empty)};");
        w.Line("out0->Head.RemotePort = head->RemotePort;");
        w.Line($"out0->Head.Id = {rep}.MsgId;");
        if (reply.IsComplex)
        {
            w.Line($"out0->msgh_body.DescriptorCount = {rep}.DescriptorCount;");
        }
        if (HasField(reply, "NDR"))
        {
            w.Line($"out0->NDR = {Abi}NdrRecord.Native;");
        }
        for (int i = 1; i <= views; i++)
        {
            w.Line($"{rep}* out{Int(i)} = out0;");
        }

        var pins = new List<MigArgModel>();
        foreach (MigArgModel a in Carried(routine, reply: true))
        {
            string local = "__" + a.Parameter.TrimStart('@');
            if (a.Shape == MigDataShape.Port)
            {
                w.Line($"out0->{a.Name}.Name = {local};");
                w.Line($"out0->{a.Name}.Disposition = ({Abi}MachMsgType){Int(a.InDisposition)};");
                w.Line($"out0->{a.Name}.Type = {Port};");
            }
            else if (a.Shape == MigDataShape.OutOfLine)
            {
                pins.Add(a);
            }
        }
        foreach (MigArgModel a in pins)
        {
            string local = "__" + a.Parameter.TrimStart('@');
            w.Open($"fixed ({a.Element}* {local}Pin = {local})");
            w.Line($"out0->{a.Name}.Address = (ulong){local}Pin;");
            w.Line($"out0->{a.Name}.Size = {local} is null ? 0u : (uint)({local}.Length * {Int(a.ElementSize)});");
            w.Line($"out0->{a.Name}.Copy = {Copy(a.PhysicalCopy ? 0 : 1)};");
            w.Line($"out0->{a.Name}.Type = {Ool};");
        }

        // The data, moved up behind each short variable array (WriteAdjustMsgSize).
        w.Line($"uint msgh_size = (uint){rep}.MinSize;");
        foreach (MigArgModel a in Carried(routine, reply: true))
        {
            string local = "__" + a.Parameter.TrimStart('@');
            string v = View("out", a, reply: true);
            string field = $"{v}->{a.Name}";
            bool direct = a.ReplyPos == 0;
            switch (a.Shape)
            {
                case MigDataShape.Scalar:
                    w.Line($"{field} = {local};");
                    break;
                case MigDataShape.FixedArray:
                    if (a.Kind == MigArgKind.InOut)
                    {
                        w.Line($"new global::System.ReadOnlySpan<{a.Element}>({View("in", a, reply: false)}->{a.Name}, {Int(a.Elements)}).CopyTo(new global::System.Span<{a.Element}>({field}, {Int(a.Elements)}));");
                    }
                    else if (!direct)
                    {
                        w.Line($"new global::System.ReadOnlySpan<{a.Element}>({local}, {Int(a.Elements)}).CopyTo(new global::System.Span<{a.Element}>({field}, {Int(a.Elements)}));");
                    }
                    break;
                case MigDataShape.FixedString:
                    if (!direct)
                    {
                        w.Line($"new global::System.ReadOnlySpan<byte>({local}, {Int(a.Count)}).CopyTo(new global::System.Span<byte>({field}, {Int(a.Count)}));");
                    }
                    w.Line($"{field}[{Int(a.Count - 1)}] = 0;");
                    break;
                case MigDataShape.OutOfLine:
                    if (a.Varying)
                    {
                        w.Line($"{v}->{a.Name}Cnt = {local} is null ? 0u : (uint)({local}.Length{(a.Multiplier == 1 ? string.Empty : " / " + Int(a.Multiplier))});");
                    }
                    break;
                case MigDataShape.VariableArray:
                case MigDataShape.VariableString:
                {
                    string count;
                    if (a.Shape == MigDataShape.VariableArray)
                    {
                        w.Line($"if ((uint){local}Cnt > {Int(a.Count)}u)");
                        w.Line($"    return {Request}.ReplyError(head, (int){MigReturn}.ArrayTooLarge);");
                        if (!direct)
                        {
                            w.Line($"new global::System.ReadOnlySpan<{a.Element}>({local}, {Elements(a, local + "Cnt")}).CopyTo(new global::System.Span<{a.Element}>({field}, {Int(a.Elements)}));");
                        }
                        w.Line($"{v}->{a.Name}Cnt = (uint){local}Cnt;");
                        count = $"(uint){local}Cnt";
                    }
                    else
                    {
                        if (!direct)
                        {
                            w.Line($"new global::System.ReadOnlySpan<byte>({local}, {Int(a.Count)}).CopyTo(new global::System.Span<byte>({field}, {Int(a.Count)}));");
                        }
                        // The count includes the NUL; the buffer always ends in one.
                        w.Line($"{field}[{Int(a.Count - 1)}] = 0;");
                        w.Line($"{v}->{a.Name}Offset = 0;");
                        w.Line($"{v}->{a.Name}Cnt = (uint)global::System.MemoryExtensions.IndexOf(new global::System.ReadOnlySpan<byte>({field}, {Int(a.Count)}), (byte)0) + 1u;");
                        count = $"{v}->{a.Name}Cnt";
                    }
                    w.Line($"uint {a.Name}Delta = {SizeOf(a, count)};");
                    w.Line($"msgh_size += {a.Name}Delta;");
                    if (a.ReplyPos < views)
                    {
                        w.Line($"out{Int(a.ReplyPos + 1)} = ({rep}*)((byte*){v} + {a.Name}Delta - {Int(a.PaddedBytes)});");
                    }
                    break;
                }
            }
        }
        w.Line("out0->Head.Size = msgh_size;");
        w.Line($"return {Request}.Reply(head, &out0->Head);");
        foreach (MigArgModel _ in pins)
        {
            w.Close();
        }
    }

    private static bool HasField(MessageModel m, string name)
    {
        foreach (FieldModel f in m.Fields)
        {
            if (f.Name == name)
            {
                return true;
            }
        }
        return false;
    }
}
