using System.Collections.Generic;
using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;

namespace MachIpc.Generator.Emit;

/// <summary>
/// Emits MIG's receive-side checks of one message (server.c <c>WriteCheckRequest</c> for requests, user.c
/// <c>WriteCheckReply</c> for replies): descriptor types and received dispositions, each variable array's count
/// against its maximum and <c>msgh_size</c> against the count (exactly for the last one), out-of-line sizes against
/// their counts, and NUL terminators of request strings. The check also yields MIG's shifted views
/// (<c>In1P</c>, <c>In2P</c>, …) through which fields after a short variable array are read.
/// </summary>
internal static class MigCheckEmitter
{
    public const string MigReturn = "global::MachIpc.Abi.MigReturn";
    public const string Port = Abi + "MachMsgDescriptorType.Port";
    public const string Ool = Abi + "MachMsgDescriptorType.Ool";

    /// <summary>The arguments a message carries: in/inout for a request, out/inout for a reply.</summary>
    public static IEnumerable<MigArgModel> Carried(MigRoutineModel routine, bool reply)
    {
        foreach (MigArgModel a in routine.Arguments)
        {
            if (reply ? a.InReply : a.InRequest)
            {
                yield return a;
            }
        }
    }

    /// <summary>How many variable-size fields the message has.</summary>
    public static int VariableCount(MigRoutineModel routine, bool reply)
    {
        int n = 0;
        foreach (MigArgModel a in Carried(routine, reply))
        {
            n += a.IsVariable ? 1 : 0;
        }
        return n;
    }

    /// <summary>
    /// The highest view a field is read through (migcom's rtMaxRequestPos / rtMaxReplyPos): a variable field with
    /// nothing after it needs no view beyond its own.
    /// </summary>
    public static int MaxView(MigRoutineModel routine, bool reply)
    {
        int max = 0;
        foreach (MigArgModel a in Carried(routine, reply))
        {
            if (a.Shape != MigDataShape.Port)
            {
                max = System.Math.Max(max, reply ? a.ReplyPos : a.RequestPos);
            }
        }
        return max;
    }

    /// <summary>MIG's name of a disposition, for documentation.</summary>
    public static string DispositionName(int disposition) => disposition switch
    {
        16 => "MACH_MSG_TYPE_MOVE_RECEIVE",
        17 => "MACH_MSG_TYPE_MOVE_SEND",
        18 => "MACH_MSG_TYPE_MOVE_SEND_ONCE",
        19 => "MACH_MSG_TYPE_COPY_SEND",
        20 => "MACH_MSG_TYPE_MAKE_SEND",
        21 => "MACH_MSG_TYPE_MAKE_SEND_ONCE",
        _ => Int(disposition),
    };

    /// <summary>The elements a counted field holds: its count times the elements of one unit.</summary>
    public static string Elements(MigArgModel a, string count) => a.Multiplier == 1 ? $"(int){count}" : $"(int){count} * {Int(a.Multiplier)}";

    /// <summary>The view (<c>in0</c>, <c>out2</c>, …) through which an argument's body fields are read or written.</summary>
    public static string View(string prefix, MigArgModel a, bool reply) => prefix + Int(reply ? a.ReplyPos : a.RequestPos);

    /// <summary>The bytes a variable field takes for a count: MIG's <c>_WALIGN_</c> of unit × count.</summary>
    public static string SizeOf(MigArgModel a, string count)
    {
        string bytes = a.UnitBytes == 1 ? $"{count}" : $"{Int(a.UnitBytes)}u * {count}";
        return a.UnitBytes % 4 == 0 ? $"({bytes})" : $"(({bytes} + 3u) & ~3u)";
    }

    /// <summary>
    /// Emits <c>private static int {name}(T* p0, int length, out T* p1, …)</c>. Requests use MIG's server codes
    /// (<c>MIG_BAD_ARGUMENTS</c> for sizes and counts, <c>MIG_TYPE_ERROR</c> for descriptors); a reply check uses
    /// <c>MIG_TYPE_ERROR</c> throughout and first checks the id, the error form and the RetCode as MIG's user stubs do.
    /// </summary>
    public static void Emit(SourceWriter w, MigRoutineModel routine, bool reply, string name)
    {
        MigMessageModel message = reply ? routine.Reply! : routine.Request;
        MessageModel m = message.Layout;
        string type = m.TypeName;
        string p = reply ? "out" : "in";
        int views = MaxView(routine, reply);
        int variables = VariableCount(routine, reply);
        string sizeError = reply ? MigReturn + ".TypeError" : MigReturn + ".BadArguments";
        string typeError = MigReturn + ".TypeError";

        var signature = new List<string> { $"{type}* {p}0", "int length" };
        for (int i = 1; i <= views; i++)
        {
            signature.Add($"out {type}* {p}{Int(i)}");
        }
        w.Open($"private static int {name}({string.Join(", ", signature)})");
        for (int i = 1; i <= views; i++)
        {
            w.Line($"{p}{Int(i)} = {p}0;");
        }
        w.Line($"uint msgh_size = {p}0->Head.Size;");
        w.Line("// The buffer must hold what the header claims before any field is read (MIG trusts its own buffer).");
        w.Line("if ((uint)length < msgh_size)");
        w.Line($"    return (int){sizeError};");

        string sizeCondition = m.IsVariableSize
            ? $"msgh_size < {type}.MinSize || msgh_size > {type}.SendSize"
            : $"msgh_size != {type}.SendSize";
        bool complex = m.IsComplex;
        if (!reply)
        {
            // server.c WriteCheckHead.
            w.Line(complex
                ? $"if (({p}0->Head.Bits & {Abi}MachMsgBits.Complex) == 0 || {p}0->msgh_body.DescriptorCount != {Int(m.DescriptorCount)}u || {sizeCondition})"
                : $"if (({p}0->Head.Bits & {Abi}MachMsgBits.Complex) != 0 || {sizeCondition})");
            w.Line($"    return (int){sizeError};");
        }
        else
        {
            // user.c WriteCheckIdentity: the id, then the size, which may instead be a mig_reply_error_t carrying an error.
            w.Open($"if ({p}0->Head.Id != {type}.MsgId)");
            w.Line($"return {p}0->Head.Id == {Abi}MachNotify.SendOnce ? (int){MigReturn}.ServerDied : (int){MigReturn}.ReplyMismatch;");
            w.Close();
            string errorForm = $"msgh_size != {Abi}MigReplyError.SizeOf || (({Abi}MigReplyError*){p}0)->RetCode == 0";
            if (!complex)
            {
                w.Line($"if (({p}0->Head.Bits & {Abi}MachMsgBits.Complex) != 0 || (({sizeCondition}) && ({errorForm})))");
            }
            else
            {
                w.Line($"bool msgh_simple = ({p}0->Head.Bits & {Abi}MachMsgBits.Complex) == 0;");
                w.Line($"if ((msgh_simple || {p}0->msgh_body.DescriptorCount != {Int(m.DescriptorCount)}u || {sizeCondition}) && (!msgh_simple || {errorForm}))");
            }
            w.Line($"    return (int){typeError};");
            w.Line("// A reply is sent to a reply right and carries none of its own.");
            w.Line($"if ({p}0->Head.RemotePort != 0)");
            w.Line($"    return (int){typeError};");
            w.Line(complex
                ? $"if (msgh_simple)"
                : $"if ({p}0->RetCode != 0)");
            w.Line($"    return (({Abi}MigReplyError*){p}0)->RetCode;");
        }

        var carried = new List<MigArgModel>(Carried(routine, reply));
        // Descriptors: type and received disposition (server.c/user.c WriteTCheckKPD_*).
        foreach (MigArgModel a in carried)
        {
            if (a.Shape == MigDataShape.Port)
            {
                w.Line($"if ({p}0->{a.Name}.Type != {Port} || {p}0->{a.Name}.Disposition != ({Abi}MachMsgType){Int(a.OutDisposition)})");
                w.Line($"    return (int){typeError};");
            }
            else if (a.Shape == MigDataShape.OutOfLine)
            {
                bool fixedSize = !HasCount(a);
                w.Line(fixedSize
                    ? $"if ({p}0->{a.Name}.Type != {Ool} || {p}0->{a.Name}.Size != {Int(a.Elements * a.ElementSize)}u)"
                    : $"if ({p}0->{a.Name}.Type != {Ool})");
                w.Line($"    return (int){typeError};");
            }
        }

        // Variable arrays (WriteCheckMsgSize): each count against its maximum and msgh_size against the count, exactly
        // for the last one; a short array moves the later fields up, read through the next view (WriteAdjustRequestMsgPtr).
        int seen = 0;
        foreach (MigArgModel a in carried)
        {
            if (!a.IsVariable)
            {
                continue;
            }
            seen++;
            bool last = seen == variables;
            int pos = reply ? a.ReplyPos : a.RequestPos;
            bool more = pos < views;
            string v = View(p, a, reply);
            string count = $"{v}->{a.Name}Cnt";
            string unitDivision = a.UnitBytes > 1 ? $" / {Int(a.UnitBytes)}u" : string.Empty;
            if (more)
            {
                w.Line($"uint {a.Name}Delta = {SizeOf(a, count)};");
            }
            w.Line($"if ({count} > {Int(a.Count)}u)");
            w.Line($"    return (int){sizeError};");
            w.Line($"if (((msgh_size - (uint){type}.MinSize){unitDivision} < {count}) || (msgh_size {(last ? "!=" : "<")} (uint){type}.MinSize + {SizeOf(a, count)}))");
            w.Line($"    return (int){sizeError};");
            if (!last)
            {
                w.Line($"msgh_size -= {a.Name}Delta;");
            }
            if (more)
            {
                w.Line($"{p}{Int(pos + 1)} = ({type}*)((byte*){v} + {a.Name}Delta - {Int(a.PaddedBytes)});");
            }
        }

        // Out-of-line sizes against their counts (WriteOOLSizeCheck).
        foreach (MigArgModel a in carried)
        {
            if (a.Shape != MigDataShape.OutOfLine || !HasCount(a))
            {
                continue;
            }
            string count = $"{View(p, a, reply)}->{a.Name}Cnt";
            string size = a.UnitBytes > 1 ? $"{p}0->{a.Name}.Size / {Int(a.UnitBytes)}u" : $"{p}0->{a.Name}.Size";
            w.Line(a.Count > 0
                ? $"if ({size} != {count} || {count} > {Int(a.Count)}u)"
                : $"if ({size} != {count})");
            w.Line($"    return (int){typeError};");
        }

        if (!reply)
        {
            // Request strings must be NUL-terminated inside the message and their buffer (WriteStringTerminatorCheck).
            foreach (MigArgModel a in carried)
            {
                if (a.Shape is not (MigDataShape.FixedString or MigDataShape.VariableString))
                {
                    continue;
                }
                string field = $"{View(p, a, reply)}->{a.Name}";
                w.Open(string.Empty);
                w.Line($"long limit = global::System.Math.Min((long)((byte*){p}0 + msgh_size - {field}), {Int(a.Count)});");
                w.Line($"if (limit <= 0 || global::System.MemoryExtensions.IndexOf(new global::System.ReadOnlySpan<byte>({field}, (int)limit), (byte)0) < 0)");
                w.Line($"    return (int){sizeError};");
                w.Close();
            }
        }
        w.Line("return 0;");
        w.Close();
    }

    /// <summary>Whether an out-of-line argument has a count field (its size varies).</summary>
    public static bool HasCount(MigArgModel a) => a.Shape == MigDataShape.OutOfLine && a.Varying;
}
