using System.Collections.Generic;
using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;
using static MachIpc.Generator.Emit.MigCheckEmitter;

namespace MachIpc.Generator.Emit;

/// <summary>
/// Emits the client side of a MIG subsystem: one static method per routine, as MIG's user stubs (user.c
/// <c>WriteRoutine</c>) build them — the request packed with MIG's layout (each variable array sent only as long as it
/// is, later fields moved up), one <c>mach_msg</c> send and receive on the thread's MIG reply port with a
/// <c>MAKE_SEND_ONCE</c> right, and MIG's reply checks (id, size, the <c>mig_reply_error_t</c> form and its
/// <c>RetCode</c>, descriptors, counts) before any result is read.
/// </summary>
internal static class MigClientEmitter
{
    private const int StackLimit = 16384;
    private const string Client = "global::MachIpc.Mig.MigClient";

    public static string Emit(MigInterfaceModel model)
    {
        SourceWriter w = Begin(model.Namespace);
        w.Line("/// <summary>");
        w.Line($"/// The client of MIG subsystem <c>{model.Subsystem}</c> (msgh_id {Int(model.Base)}…{Int(model.Base + model.Count - 1)}), from");
        w.Line($"/// <c>{MigStructEmitter.Xml(model.SourceName)}</c>. Each method returns a <c>kern_return_t</c>: the <c>mach_msg</c> error, a MIG error");
        w.Line("/// (<c>MIG_TYPE_ERROR</c>, <c>MIG_REPLY_MISMATCH</c>, <c>MIG_SERVER_DIED</c>, <c>MIG_ARRAY_TOO_LARGE</c>, …) or the server's code.");
        w.Line("/// </summary>");
        w.Open($"public static unsafe partial class {model.TypePrefix}Client");
        bool first = true;
        foreach (MigRoutineModel routine in model.Routines)
        {
            if (!first)
            {
                w.Line();
            }
            first = false;
            Routine(w, routine);
            if (!routine.IsSimple)
            {
                w.Line();
                MigCheckEmitter.Emit(w, routine, reply: true, "__Check" + routine.Identifier + "Reply");
            }
        }
        w.Close();
        return End(model.Namespace, w);
    }

    private static string? Parameter(MigArgModel a)
    {
        string name = a.Parameter;
        if (!a.ClientSees)
        {
            return null;
        }
        switch (a.Kind)
        {
            case MigArgKind.RequestPort:
            case MigArgKind.ReplyPort:
            case MigArgKind.UserReplyPort:
            case MigArgKind.WaitTime:
                return "uint " + name;
            case MigArgKind.MsgOption:
                return $"{Abi}MachMsgOption {name}";
        }
        string element = a.Element;
        string direction = a.Kind switch { MigArgKind.In => string.Empty, MigArgKind.Out => "out ", _ => "ref " };
        return a.Shape switch
        {
            MigDataShape.Port => $"{direction}uint {name}",
            MigDataShape.Scalar => $"{direction}{element} {name}",
            MigDataShape.FixedArray => (a.Kind == MigArgKind.In ? $"global::System.ReadOnlySpan<{element}> " : $"global::System.Span<{element}> ") + name,
            MigDataShape.VariableArray => a.Kind == MigArgKind.In
                ? $"global::System.ReadOnlySpan<{element}> {name}"
                : $"global::System.Span<{element}> {name}, out int {name}Cnt",
            MigDataShape.FixedString or MigDataShape.VariableString =>
                (a.Kind == MigArgKind.In ? "global::System.ReadOnlySpan<byte> " : "global::System.Span<byte> ") + name,
            _ => a.Kind == MigArgKind.In ? $"global::System.ReadOnlySpan<{element}> {name}" : $"out {element}[] {name}",
        };
    }

    private static string Doc(MigArgModel a) => a.Kind switch
    {
        MigArgKind.RequestPort => "A send right to the server's port (the request's destination).",
        MigArgKind.ReplyPort or MigArgKind.UserReplyPort => "The reply port to send with the request.",
        MigArgKind.WaitTime => "Timeout in milliseconds for sending and for the reply.",
        MigArgKind.MsgOption => "Extra <c>mach_msg</c> options.",
        _ => a.Shape switch
        {
            MigDataShape.Port => a.Kind == MigArgKind.Out ? "The right the server sent; the caller owns it." : $"The name of a right to send with <c>{DispositionName(a.InDisposition)}</c>.",
            MigDataShape.FixedString or MigDataShape.VariableString => a.Kind == MigArgKind.In
                ? $"The string's UTF-8 bytes, without a NUL (at most {Int(a.Count - 1)})."
                : $"At least {Int(a.Count)} bytes; receives the NUL-terminated string.",
            MigDataShape.OutOfLine => a.Kind == MigArgKind.In ? "The data to send out of line." : "The out-of-line data the server sent (copied; the region is deallocated).",
            MigDataShape.VariableArray => a.Kind == MigArgKind.In
                ? $"At most {Int(a.Elements)} elements."
                : "Room for the elements the server sends (MIG_ARRAY_TOO_LARGE when they do not fit; the count is still reported).",
            MigDataShape.FixedArray => a.Kind == MigArgKind.In ? $"Exactly {Int(a.Elements)} elements." : $"At least {Int(a.Elements)} elements.",
            _ => $"Argument <c>{a.Name}</c>.",
        },
    };

    /// <summary>The counted units in a span: its length over the elements of one unit.</summary>
    private static string Units(MigArgModel a, string span) => a.Multiplier == 1 ? $"{span}.Length" : $"({span}.Length / {Int(a.Multiplier)})";

    private static void Routine(SourceWriter w, MigRoutineModel routine)
    {
        MessageModel request = routine.Request.Layout;
        string req = request.TypeName;
        string? rep = routine.Reply?.Layout.TypeName;
        var parameters = new List<string>();
        MigArgModel? requestPort = null;
        MigArgModel? replyPort = null;
        MigArgModel? waitTime = null;
        MigArgModel? msgOption = null;
        var names = new HashSet<string>();
        foreach (MigArgModel a in routine.Arguments)
        {
            requestPort = a.Kind == MigArgKind.RequestPort ? a : requestPort;
            replyPort = a.Kind is MigArgKind.ReplyPort or MigArgKind.UserReplyPort ? a : replyPort;
            waitTime = a.Kind == MigArgKind.WaitTime ? a : waitTime;
            msgOption = a.Kind == MigArgKind.MsgOption ? a : msgOption;
            if (Parameter(a) is string p)
            {
                parameters.Add(p);
                names.Add(a.Parameter);
            }
        }
        string timeout = "timeoutMs";
        while (names.Contains(timeout))
        {
            timeout += "_";
        }
        if (waitTime is null)
        {
            parameters.Add($"int {timeout} = {(routine.WaitTime < 0 ? Client + ".NoTimeout" : Int(routine.WaitTime))}");
        }

        w.Line($"/// <summary>{(routine.IsSimple ? "Simpleroutine" : "Routine")} <c>{routine.Name}</c> (msgh_id {Int(routine.Id)}).</summary>");
        foreach (MigArgModel a in routine.Arguments)
        {
            if (Parameter(a) is null)
            {
                continue;
            }
            w.Line($"/// <param name=\"{a.Parameter.TrimStart('@')}\">{Doc(a)}</param>");
            if (a.Kind == MigArgKind.Out && a.Shape == MigDataShape.VariableArray)
            {
                w.Line($"/// <param name=\"{a.Parameter.TrimStart('@')}Cnt\">The number of {(a.Multiplier > 1 ? "units" : "elements")} the server sent.</param>");
            }
        }
        if (waitTime is null)
        {
            w.Line($"/// <param name=\"{timeout}\">Timeout in milliseconds for sending and for the reply; {Client}.NoTimeout waits as long as it takes.</param>");
        }
        w.Line("/// <returns>The <c>kern_return_t</c> of the call.</returns>");
        w.Open($"public static int {routine.ClientMethod}({string.Join(", ", parameters)})");

        // Out parameters are assigned on every path.
        foreach (MigArgModel a in routine.Arguments)
        {
            if (a.Kind != MigArgKind.Out)
            {
                continue;
            }
            switch (a.Shape)
            {
                case MigDataShape.Port:
                case MigDataShape.Scalar:
                    w.Line($"{a.Parameter} = default;");
                    break;
                case MigDataShape.VariableArray:
                    w.Line($"{a.Parameter}Cnt = 0;");
                    break;
                case MigDataShape.OutOfLine:
                    w.Line($"{a.Parameter} = global::System.Array.Empty<{a.Element}>();");
                    break;
            }
        }
        Validate(w, routine);

        int bufferSize = rep is null ? request.SendSize : System.Math.Max(request.SendSize, routine.Reply!.Layout.SendSize + 8);
        bool heap = bufferSize > StackLimit;
        w.Line(heap
            ? $"byte* __buffer = (byte*)global::System.Runtime.InteropServices.NativeMemory.Alloc({Int(bufferSize)});"
            : $"byte* __buffer = stackalloc byte[{Int(bufferSize)}];");
        if (heap)
        {
            w.Open("try");
        }
        w.Line($"new global::System.Span<byte>(__buffer, {req}.SendSize).Clear();");
        w.Line($"var __in0 = ({req}*)__buffer;");

        // Out-of-line data stays pinned until mach_msg has copied it.
        int pins = 0;
        foreach (MigArgModel a in routine.Arguments)
        {
            if (a.Kind == MigArgKind.In && a.Shape == MigDataShape.OutOfLine)
            {
                w.Open($"fixed ({a.Element}* __{a.Parameter.TrimStart('@')}Pin = {a.Parameter})");
                pins++;
            }
        }

        string requestName = requestPort!.Parameter;
        if (rep is not null)
        {
            w.Line($"bool __mig = {(replyPort is null ? "true" : "false")};");
            w.Line($"uint __reply = {(replyPort is null ? "global::MachIpc.Mig.MigReplyPort.Get()" : replyPort.Parameter)};");
            w.Line($"__in0->Prepare({requestName}, __reply);");
        }
        else
        {
            w.Line(request.LocalDisposition != 0
                ? $"__in0->Prepare({requestName}, {(replyPort is null ? "0" : replyPort.Parameter)});"
                : $"__in0->Prepare({requestName});");
        }
        Pack(w, routine);

        string options = Int(routine.MsgOption) + (msgOption is null ? string.Empty : $" | (int){msgOption.Parameter}");
        string timeoutValue = waitTime is null ? timeout : $"(int)global::System.Math.Min({waitTime.Parameter}, (uint)int.MaxValue)";
        if (rep is null)
        {
            w.Line($"return (int){Client}.Send(&__in0->Head, __size, {options}, {timeoutValue});");
        }
        else
        {
            w.Line($"int __mr = (int){Client}.Call(&__in0->Head, __size, {Int(routine.Reply!.Layout.SendSize + 8)}u, __mig, {options}, {timeoutValue});");
            w.Line("if (__mr != 0)");
            w.Line("    return __mr;");
            Unpack(w, routine, bufferSize);
        }
        for (int i = 0; i < pins; i++)
        {
            w.Close();
        }
        if (heap)
        {
            w.Close();
            w.Open("finally");
            w.Line("global::System.Runtime.InteropServices.NativeMemory.Free(__buffer);");
            w.Close();
        }
        w.Close();
    }

    /// <summary>Argument checks before anything is sent (MIG's user stubs return MIG_ARRAY_TOO_LARGE for long arrays).</summary>
    private static void Validate(SourceWriter w, MigRoutineModel routine)
    {
        const string tooLarge = "return (int)" + MigReturn + ".ArrayTooLarge;";
        foreach (MigArgModel a in routine.Arguments)
        {
            string n = a.Parameter;
            string plain = n.TrimStart('@');
            if (a.Kind is not (MigArgKind.In or MigArgKind.Out or MigArgKind.InOut))
            {
                continue;
            }
            switch (a.Shape)
            {
                case MigDataShape.FixedArray:
                    w.Line(a.Kind == MigArgKind.Out ? $"if ({n}.Length < {Int(a.Elements)})" : $"if ({n}.Length != {Int(a.Elements)})");
                    w.Line($"    throw new global::System.ArgumentException(\"'{plain}' must hold {(a.Kind == MigArgKind.Out ? "at least" : "exactly")} {Int(a.Elements)} elements.\", nameof({n}));");
                    break;
                case MigDataShape.VariableArray when a.Kind == MigArgKind.In:
                case MigDataShape.OutOfLine when a.Kind == MigArgKind.In:
                    if (a.Shape == MigDataShape.OutOfLine && !a.Varying)
                    {
                        w.Line($"if ({n}.Length != {Int(a.Elements)})");
                        w.Line($"    throw new global::System.ArgumentException(\"'{plain}' must hold exactly {Int(a.Elements)} elements.\", nameof({n}));");
                        break;
                    }
                    if (a.Count > 0)
                    {
                        w.Line($"if ({n}.Length > {Int(a.Elements)})");
                        w.Line($"    {tooLarge}");
                    }
                    if (a.Multiplier > 1)
                    {
                        w.Line($"if ({n}.Length % {Int(a.Multiplier)} != 0)");
                        w.Line($"    throw new global::System.ArgumentException(\"'{plain}' holds whole units of {Int(a.Multiplier)} elements.\", nameof({n}));");
                    }
                    break;
                case MigDataShape.FixedString:
                case MigDataShape.VariableString:
                    if (a.Kind == MigArgKind.In)
                    {
                        w.Line($"if ({n}.Length >= {Int(a.Count)})");
                        w.Line($"    {tooLarge}");
                        w.Line($"if (global::System.MemoryExtensions.IndexOf({n}, (byte)0) >= 0)");
                        w.Line($"    throw new global::System.ArgumentException(\"'{plain}' must not contain a NUL.\", nameof({n}));");
                    }
                    else
                    {
                        w.Line($"if ({n}.Length < {Int(a.Count)})");
                        w.Line($"    throw new global::System.ArgumentException(\"'{plain}' must hold at least {Int(a.Count)} bytes.\", nameof({n}));");
                    }
                    break;
            }
        }
    }

    /// <summary>Fills the request (user.c WriteRequestArgs): descriptors, NDR, then the data behind each short array.</summary>
    private static void Pack(SourceWriter w, MigRoutineModel routine)
    {
        MessageModel request = routine.Request.Layout;
        string req = request.TypeName;
        int views = MaxView(routine, reply: false);
        foreach (MigArgModel a in Carried(routine, reply: false))
        {
            if (a.Shape == MigDataShape.Port)
            {
                w.Line($"__in0->{a.Name}.Name = {a.Parameter};");
            }
            else if (a.Shape == MigDataShape.OutOfLine)
            {
                w.Line($"__in0->{a.Name}.Address = (ulong)__{a.Parameter.TrimStart('@')}Pin;");
                w.Line($"__in0->{a.Name}.Size = (uint)({a.Parameter}.Length * {Int(a.ElementSize)});");
            }
        }
        foreach (FieldModel f in request.Fields)
        {
            if (f.Name == "NDR")
            {
                w.Line($"__in0->NDR = {Abi}NdrRecord.Native;");
            }
        }
        for (int i = 1; i <= views; i++)
        {
            w.Line($"{req}* __in{Int(i)} = __in0;");
        }
        w.Line($"uint __size = (uint){req}.MinSize;");
        foreach (MigArgModel a in Carried(routine, reply: false))
        {
            string v = View("__in", a, reply: false);
            string field = $"{v}->{a.Name}";
            string n = a.Parameter;
            switch (a.Shape)
            {
                case MigDataShape.Scalar:
                    w.Line($"{field} = {n};");
                    break;
                case MigDataShape.FixedArray:
                    w.Line($"{n}.CopyTo(new global::System.Span<{a.Element}>({field}, {Int(a.Elements)}));");
                    break;
                case MigDataShape.FixedString:
                    w.Line($"{n}.CopyTo(new global::System.Span<byte>({field}, {Int(a.Count)}));");
                    w.Line($"{field}[{n}.Length] = 0;");
                    break;
                case MigDataShape.OutOfLine:
                    if (a.Varying)
                    {
                        w.Line($"{v}->{a.Name}Cnt = (uint){Units(a, n)};");
                    }
                    break;
                case MigDataShape.VariableArray:
                case MigDataShape.VariableString:
                {
                    if (a.Shape == MigDataShape.VariableArray)
                    {
                        w.Line($"{v}->{a.Name}Cnt = (uint){Units(a, n)};");
                        w.Line($"{n}.CopyTo(new global::System.Span<{a.Element}>({field}, {Int(a.Elements)}));");
                    }
                    else
                    {
                        w.Line($"{v}->{a.Name}Offset = 0;");
                        w.Line($"{v}->{a.Name}Cnt = (uint){n}.Length + 1u;");
                        w.Line($"{n}.CopyTo(new global::System.Span<byte>({field}, {Int(a.Count)}));");
                        w.Line($"{field}[{n}.Length] = 0;");
                    }
                    w.Line($"uint __{a.Name}Delta = {SizeOf(a, $"{v}->{a.Name}Cnt")};");
                    w.Line($"__size += __{a.Name}Delta;");
                    if (a.RequestPos < views)
                    {
                        w.Line($"__in{Int(a.RequestPos + 1)} = ({req}*)((byte*){v} + __{a.Name}Delta - {Int(a.PaddedBytes)});");
                    }
                    break;
                }
            }
        }
        w.Line("__in0->Head.Size = __size;");
    }

    /// <summary>Checks the reply and hands its results to the caller (user.c WriteCheckReply, WriteExtractArg).</summary>
    private static void Unpack(SourceWriter w, MigRoutineModel routine, int bufferSize)
    {
        MessageModel reply = routine.Reply!.Layout;
        string rep = reply.TypeName;
        int views = MaxView(routine, reply: true);
        w.Line($"var __out0 = ({rep}*)__buffer;");
        var args = new List<string> { "__out0", Int(bufferSize) };
        for (int i = 1; i <= views; i++)
        {
            args.Add($"out {rep}* __out{Int(i)}");
        }
        w.Line($"int __check = __Check{routine.Identifier}Reply({string.Join(", ", args)});");
        w.Open("if (__check != 0)");
        w.Line("global::MachIpc.Messages.ReceivedMessage.Destroy(&__out0->Head);");
        w.Line("return __check;");
        w.Close();

        // Rights and out-of-line memory first, so that every one reaches the caller (or is freed) whatever follows.
        foreach (MigArgModel a in Carried(routine, reply: true))
        {
            string n = a.Parameter;
            if (a.Shape == MigDataShape.Port)
            {
                w.Line($"{n} = __out0->{a.Name}.Name;");
            }
            else if (a.Shape == MigDataShape.OutOfLine)
            {
                string count = a.Varying ? Elements(a, $"{View("__out", a, reply: true)}->{a.Name}Cnt") : Int(a.Elements);
                w.Line($"{n} = new global::System.ReadOnlySpan<{a.Element}>((void*)__out0->{a.Name}.Address, {count}).ToArray();");
                w.Line($"if (__out0->{a.Name}.Size != 0)");
                w.Line($"    global::MachIpc.Kernel.Mach.VmDeallocate(global::MachIpc.Kernel.Mach.TaskSelf, __out0->{a.Name}.Address, __out0->{a.Name}.Size);");
            }
        }
        bool tooLarge = false;
        foreach (MigArgModel a in Carried(routine, reply: true))
        {
            tooLarge |= a.Shape == MigDataShape.VariableArray;
        }
        if (tooLarge)
        {
            w.Line("bool __tooLarge = false;");
        }
        foreach (MigArgModel a in Carried(routine, reply: true))
        {
            string n = a.Parameter;
            string v = View("__out", a, reply: true);
            string field = $"{v}->{a.Name}";
            switch (a.Shape)
            {
                case MigDataShape.Scalar:
                    w.Line($"{n} = {field};");
                    break;
                case MigDataShape.FixedArray:
                    w.Line($"new global::System.ReadOnlySpan<{a.Element}>({field}, {Int(a.Elements)}).CopyTo({n});");
                    break;
                case MigDataShape.FixedString:
                    w.Line($"new global::System.ReadOnlySpan<byte>({field}, {Int(a.Count)}).CopyTo({n});");
                    break;
                case MigDataShape.VariableString:
                    w.Line($"new global::System.ReadOnlySpan<byte>({field}, (int){v}->{a.Name}Cnt).CopyTo({n});");
                    break;
                case MigDataShape.VariableArray:
                    // user.c: a result longer than the caller's room fills the room, reports the count, and fails.
                    w.Line($"{n}Cnt = (int){v}->{a.Name}Cnt;");
                    w.Open($"if ({n}Cnt > {Units(a, n)})");
                    w.Line($"new global::System.ReadOnlySpan<{a.Element}>({field}, {(a.Multiplier == 1 ? $"{n}.Length" : $"{Units(a, n)} * {Int(a.Multiplier)}")}).CopyTo({n});");
                    w.Line("__tooLarge = true;");
                    w.Close();
                    w.Line("else");
                    w.Line($"    new global::System.ReadOnlySpan<{a.Element}>({field}, {Elements(a, n + "Cnt")}).CopyTo({n});");
                    break;
            }
        }
        if (tooLarge)
        {
            w.Line($"return __tooLarge ? (int){MigReturn}.ArrayTooLarge : 0;");
        }
        else
        {
            w.Line("return 0;");
        }
    }
}
