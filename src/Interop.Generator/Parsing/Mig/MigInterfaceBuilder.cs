using System;
using System.Collections.Generic;
using System.Text;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MachIpc.Generator.Parsing.Mig;

/// <summary>
/// Turns parsed routines into models: the request and reply messages in MIG's exact layout (migcom routine.c and
/// utils.c <c>WriteStructDecl</c>: header; body and descriptors when complex; the NDR record when there is untyped
/// data; <c>RetCode</c> in a simple reply; then the data, each field padded to 4, counts before variable arrays) and
/// the arguments the client and server emitters need.
/// </summary>
internal sealed class MigInterfaceBuilder
{
    // C# types for MIG type names that fix a signedness MIG itself does not record (it only records sizes).
    private static readonly Dictionary<string, string> s_knownScalars = new(StringComparer.Ordinal)
    {
        ["int8_t"] = "sbyte", ["uint8_t"] = "byte", ["int16_t"] = "short", ["uint16_t"] = "ushort",
        ["int32_t"] = "int", ["uint32_t"] = "uint", ["int64_t"] = "long", ["uint64_t"] = "ulong",
        ["natural_t"] = "uint", ["integer_t"] = "int", ["char"] = "byte", ["boolean_t"] = "int",
        ["kern_return_t"] = "int", ["mach_port_name_t"] = "uint",
    };

    // Members every generated message struct declares (LayoutEmitter, ValidationEmitter, StubEmitter).
    private static readonly string[] s_generatedMembers =
    {
        "MsgId", "SendSize", "MinSize", "DescriptorCount", "IsComplex", "RemoteDisposition", "LocalDisposition",
        "TrailerElements", "TrailerSize", "TrailerOffset", "ReceiveBufferSize", "TrailerOption", "Offsets", "Prepare",
        "Validate", "TryRead", "Send", "Receive", "SendReceive", "__MachMsg", "__Native",
    };

    private readonly Action<string, LocationInfo?, string[]> _report;
    private readonly string _namespace;

    private MigInterfaceBuilder(string @namespace, Action<string, LocationInfo?, string[]> report)
    {
        _namespace = @namespace;
        _report = report;
    }

    public static MigInterfaceModel? Build(DefsInterface parsed, string path, string @namespace, Action<string, LocationInfo?, string[]> report)
    {
        if (parsed.Subsystem is null || parsed.SubsystemAt is null)
        {
            return null;
        }
        var builder = new MigInterfaceBuilder(@namespace, report);
        var routines = new List<MigRoutineModel>();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        bool ok = true;
        foreach (DefsRoutine routine in parsed.Routines)
        {
            string pascal = PascalCase(routine.Name);
            if (names.TryGetValue(pascal, out string? other))
            {
                builder.Report(MigDiagnostics.DuplicateName, routine.At, routine.Name,
                    other == routine.Name ? "is declared twice" : $"and '{other}' both become '{pascal}' in C#");
                ok = false;
                continue;
            }
            names[pascal] = routine.Name;
            MigRoutineModel? model = builder.Routine(parsed, routine);
            ok &= model is not null;
            if (model is not null)
            {
                routines.Add(model);
            }
        }
        if (!ok)
        {
            return null;
        }
        return new MigInterfaceModel(@namespace, parsed.Subsystem, PascalCase(parsed.Subsystem), parsed.Base, parsed.Count, path,
            new EquatableArray<MigRoutineModel>(routines.ToArray()));
    }

    private void Report(DiagnosticDescriptor descriptor, DefsToken at, params string[] arguments) => _report(descriptor.Id, at.Location, arguments);

    /// <summary>One argument while its routine is laid out.</summary>
    private sealed class Arg
    {
        public Arg(DefsArgument declared, MigArgKind kind)
        {
            Declared = declared;
            Kind = kind;
        }

        public DefsArgument Declared { get; }

        public MigArgKind Kind { get; }

        public MigType Type => Declared.Type;

        public MigDataShape Shape { get; set; }

        public string Element { get; set; } = "int";

        public int ElementSize { get; set; }

        public int Count { get; set; }

        public int Multiplier { get; set; } = 1;

        public int RequestPos { get; set; }

        public int ReplyPos { get; set; }

        public bool IsDescriptor => Shape is MigDataShape.Port or MigDataShape.OutOfLine;
    }

    private MigRoutineModel? Routine(DefsInterface parsed, DefsRoutine routine)
    {
        var args = new List<Arg>();
        Arg? requestPort = null;
        Arg? replyPort = null;
        bool ok = true;
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DefsArgument declared in routine.Arguments)
        {
            // routine.c rtDefaultArgKind: the first undirected argument is the request port, the rest are "in".
            MigArgKind kind = declared.Direction switch
            {
                DefsDirection.None when requestPort is null => MigArgKind.RequestPort,
                DefsDirection.None or DefsDirection.In => MigArgKind.In,
                DefsDirection.Out => MigArgKind.Out,
                DefsDirection.InOut => MigArgKind.InOut,
                DefsDirection.RequestPort => MigArgKind.RequestPort,
                DefsDirection.ReplyPort => MigArgKind.ReplyPort,
                DefsDirection.SReplyPort => MigArgKind.ServerReplyPort,
                DefsDirection.UReplyPort => MigArgKind.UserReplyPort,
                DefsDirection.WaitTime => MigArgKind.WaitTime,
                DefsDirection.MsgOption => MigArgKind.MsgOption,
                DefsDirection.MsgSeqno => MigArgKind.MsgSeqno,
                DefsDirection.ServerSecToken => MigArgKind.ServerSecToken,
                _ => MigArgKind.ServerAuditToken,
            };
            var arg = new Arg(declared, kind);
            string parameter = CamelCase(declared.Name);
            if (parameters.TryGetValue(parameter, out string? clash))
            {
                Report(MigDiagnostics.DuplicateName, declared.At, declared.Name,
                    clash == declared.Name ? $"is declared twice in routine '{routine.Name}'" : $"and '{clash}' both become parameter '{parameter}' in C#");
                ok = false;
                continue;
            }
            parameters[parameter] = declared.Name;
            if (kind == MigArgKind.RequestPort)
            {
                if (requestPort is not null)
                {
                    Invalid(declared, routine, $"a second request port (the first is '{requestPort.Declared.Name}')");
                    ok = false;
                    continue;
                }
                requestPort = arg;
            }
            else if (kind is MigArgKind.ReplyPort or MigArgKind.ServerReplyPort or MigArgKind.UserReplyPort)
            {
                if (replyPort is not null)
                {
                    Invalid(declared, routine, $"a second reply port (the first is '{replyPort.Declared.Name}')");
                    ok = false;
                    continue;
                }
                replyPort = arg;
            }
            ok &= Classify(arg, routine);
            args.Add(arg);
        }
        if (requestPort is null)
        {
            Report(MigDiagnostics.InvalidArgument, routine.At, "(none)", routine.Name, "the routine has no request port (its first argument, or one marked 'requestport')");
            return null;
        }
        if (!ok)
        {
            return null;
        }

        // The header: the request port's disposition, and the reply port's (MIG's default reply port is a
        // MAKE_SEND_ONCE right for a routine and none for a simpleroutine: routine.c rtAddDummyReplyPort).
        int remote = requestPort.Type.InName;
        int local = replyPort is not null ? replyPort.Type.InName : routine.IsSimple ? 0 : MigType.MakeSendOnce;

        string pascal = PascalCase(routine.Name);
        int id = parsed.Base + routine.Number;
        MigMessageModel? request = Message(pascal + "Request", id, remote, local, args, reply: false, routine);
        MigMessageModel? reply = null;
        if (!routine.IsSimple)
        {
            int replyRemote = local == MigType.MakeSendOnce || local == MigType.MoveSendOnce ? MigType.MoveSendOnce : MigType.MoveSend;
            reply = Message(pascal + "Reply", id + 100, replyRemote, 0, args, reply: true, routine);
            if (reply is null)
            {
                return null;
            }
        }
        if (request is null)
        {
            return null;
        }

        var models = new List<MigArgModel>();
        foreach (Arg a in args)
        {
            models.Add(new MigArgModel(
                a.Declared.Name, CamelCase(a.Declared.Name), a.Kind, a.Shape, a.Element, a.ElementSize, a.Count, a.Multiplier,
                a.Type.InName, a.Type.OutName, (a.Declared.Flags & DefsFlags.PhysicalCopy) != 0, a.RequestPos, a.ReplyPos,
                a.Kind switch
                {
                    MigArgKind.ServerAuditToken => "global::MachIpc.Abi.AuditToken",
                    MigArgKind.ServerSecToken => "global::MachIpc.Abi.SecurityToken",
                    _ => string.Empty,
                },
                a.Type.VarArray && a.Shape is not MigDataShape.Port));
        }
        return new MigRoutineModel(
            routine.Name,
            PascalCase(parsed.UserPrefix + routine.Name),
            PascalCase(parsed.ServerPrefix + routine.Name),
            routine.IsSimple,
            request,
            reply,
            new EquatableArray<MigArgModel>(models.ToArray()),
            parsed.WaitTime,
            parsed.MsgOption);
    }

    private void Invalid(DefsArgument argument, DefsRoutine routine, string why) =>
        Report(MigDiagnostics.InvalidArgument, argument.At, argument.Name, routine.Name, why);

    /// <summary>Checks an argument's type against its kind (type.c itCheck*Type) and decides its shape.</summary>
    private bool Classify(Arg arg, DefsRoutine routine)
    {
        MigType t = arg.Type;
        DefsArgument d = arg.Declared;
        if (t.Native)
        {
            return false;
        }
        bool polymorphic = t.InName == MigType.Polymorphic || t.OutName == MigType.Polymorphic;
        switch (arg.Kind)
        {
            case MigArgKind.RequestPort:
            case MigArgKind.ReplyPort:
            case MigArgKind.UserReplyPort:
            case MigArgKind.ServerReplyPort:
            {
                bool request = arg.Kind == MigArgKind.RequestPort;
                if (polymorphic)
                {
                    Report(MigDiagnostics.Unsupported, d.At, $"Polymorphic {(request ? "request" : "reply")} port '{d.Name}'",
                        "the disposition would be chosen at run time; declare the port with a fixed disposition type");
                    return false;
                }
                bool sendRight = t.OutName is MigType.PortSend or MigType.PortSendOnce;
                if (!sendRight || t.Number != 1 || t.Size != 32 || !t.InLine || !t.Struct || t.VarArray)
                {
                    Invalid(d, routine, request
                        ? "a request port must be a single send or send-once right (mach_port_t, mach_port_make_send_once_t, …)"
                        : "a reply port must be a single send or send-once right");
                    return false;
                }
                arg.Shape = MigDataShape.Port;
                arg.Element = "uint";
                arg.ElementSize = 4;
                arg.Count = 1;
                return true;
            }
            case MigArgKind.WaitTime:
            case MigArgKind.MsgOption:
            case MigArgKind.MsgSeqno:
                if (t.PortType || t.Number != 1 || t.Size != 32 || !t.InLine || !t.Struct || t.VarArray || t.IsString)
                {
                    Invalid(d, routine, "must be a 32-bit integer (natural_t, mach_msg_options_t, mach_port_seqno_t)");
                    return false;
                }
                arg.Shape = MigDataShape.Scalar;
                arg.Element = arg.Kind == MigArgKind.MsgOption ? "int" : "uint";
                arg.ElementSize = 4;
                arg.Count = 1;
                return true;
            case MigArgKind.ServerSecToken:
            case MigArgKind.ServerAuditToken:
            {
                int size = arg.Kind == MigArgKind.ServerSecToken ? 8 : 32;
                if (t.PortType || t.TypeSize != size || !t.InLine || !t.Struct || t.VarArray || t.IsString)
                {
                    Invalid(d, routine, $"must be a {size}-byte inline struct ({(size == 8 ? "security_token_t" : "audit_token_t")})");
                    return false;
                }
                arg.Shape = MigDataShape.FixedArray;
                arg.Element = "uint";
                arg.ElementSize = 4;
                arg.Count = size / 4;
                return true;
            }
        }

        // in, out, inout.
        if (routine.IsSimple && arg.Kind != MigArgKind.In)
        {
            Invalid(d, routine, "a simpleroutine has no reply, so it cannot have out or inout arguments");
            return false;
        }
        if (polymorphic)
        {
            Report(MigDiagnostics.Unsupported, d.At, $"Polymorphic port argument '{d.Name}'",
                "the disposition would travel as a separate argument; declare the port with a fixed disposition type");
            return false;
        }
        if (t.IsMultipleKpd)
        {
            Report(MigDiagnostics.Unsupported, d.At, $"Argument '{d.Name}' (an inline array of ports or of out-of-line regions)",
                "send the rights one argument each, or as out-of-line data");
            return false;
        }
        if (!t.InLine && t.PortType)
        {
            Report(MigDiagnostics.Unsupported, d.At, $"Argument '{d.Name}' (an out-of-line array of port rights)",
                "send the rights one argument each");
            return false;
        }
        if (t.PortType)
        {
            arg.Shape = MigDataShape.Port;
            arg.Element = "uint";
            arg.ElementSize = 4;
            arg.Count = 1;
            return true;
        }
        if (t.IsVariableInline && arg.Kind == MigArgKind.InOut)
        {
            // migcom rtAugmentArgKind: "Inline variable-sized arguments can't be InOut".
            Invalid(d, routine, "an inline variable-sized argument cannot be inout");
            return false;
        }
        if (arg.Kind == MigArgKind.InOut && (!t.InLine || t.IsString))
        {
            Report(MigDiagnostics.Unsupported, d.At, $"Inout argument '{d.Name}' (out-of-line data or a string)",
                "declare separate in and out arguments");
            return false;
        }

        int elementBits = t.Size;
        if (elementBits is not (8 or 16 or 32 or 64))
        {
            Report(MigDiagnostics.Unsupported, d.At, $"Argument '{d.Name}' with {elementBits}-bit elements", "MachIpc lays out 8, 16, 32 and 64-bit elements");
            return false;
        }
        arg.ElementSize = elementBits / 8;
        arg.Element = t.IsString ? "byte" : ScalarType(t);
        if (!t.InLine)
        {
            arg.Shape = MigDataShape.OutOfLine;
            // Count units: an array of struct[n] counts structs (routine.c rtAddCountArg argMultiplier).
            arg.Multiplier = t.VarArray && t.Element is not null ? Math.Max(1, t.Element.Number) : 1;
            arg.Count = t.VarArray ? (t.MigInLine ? 0 : t.OolNumber) : t.Number;
            return true;
        }
        if (t.IsString)
        {
            arg.Shape = t.VarArray ? MigDataShape.VariableString : MigDataShape.FixedString;
            arg.Count = t.Number;
            return true;
        }
        if (t.VarArray)
        {
            arg.Shape = MigDataShape.VariableArray;
            arg.Multiplier = t.Element is not null ? Math.Max(1, t.Element.Number) : 1;
            arg.Count = t.Number / arg.Multiplier;
            return true;
        }
        arg.Shape = t.Number == 1 && t.Struct ? MigDataShape.Scalar : MigDataShape.FixedArray;
        arg.Count = t.Number;
        return true;
    }

    private static string ScalarType(MigType type)
    {
        for (MigType? t = type; t is not null; t = t.Element)
        {
            if (t.Name is not null && s_knownScalars.TryGetValue(t.Name, out string? known))
            {
                return known;
            }
        }
        return type.InName switch
        {
            MigType.TypeReal32 => "float",
            MigType.TypeReal64 => "double",
            _ => type.Size switch
            {
                8 => "byte",
                16 => "short",
                32 => type.InName == MigType.TypePortName ? "uint" : "int",
                _ => "long",
            },
        };
    }

    /// <summary>Lays out the request (<paramref name="reply"/> false) or the reply of a routine.</summary>
    private MigMessageModel? Message(string typeName, int id, int remote, int local, List<Arg> args, bool reply, DefsRoutine routine)
    {
        bool Carried(Arg a) => reply ? a.Kind is MigArgKind.Out or MigArgKind.InOut : a.Kind is MigArgKind.In or MigArgKind.InOut;

        var fields = new List<FieldModel>();
        var declarations = new List<MigFieldDecl>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        int offset = 0;
        bool ok = true;
        // count: 0 for a plain field, else the elements of a fixed buffer.
        void Add(string name, FieldKind kind, int size, string type, int count, int disposition = 0, int copy = 0, long maxBytes = 0, DefsToken? at = null)
        {
            string escaped = Escape(name);
            if (!names.Add(escaped) || Array.IndexOf(s_generatedMembers, name) >= 0 || name == typeName)
            {
                Report(MigDiagnostics.DuplicateName, at ?? routine.At, name,
                    $"names two fields of {typeName}, or a member the generator emits; rename the argument");
                ok = false;
            }
            fields.Add(new FieldModel(escaped, kind, offset, size, disposition, copy, false, 0, maxBytes));
            declarations.Add(new MigFieldDecl(escaped, type, count));
            offset += size;
        }

        Add("Head", FieldKind.Header, 24, "global::MachIpc.Abi.MachMsgHeader", 0);
        bool complex = false;
        foreach (Arg a in args)
        {
            complex |= Carried(a) && a.IsDescriptor;
        }
        if (complex)
        {
            Add("msgh_body", FieldKind.Body, 4, "global::MachIpc.Abi.MachMsgBody", 0);
            foreach (Arg a in args)
            {
                if (!Carried(a) || !a.IsDescriptor)
                {
                    continue;
                }
                if (a.Shape == MigDataShape.Port)
                {
                    Add(a.Declared.Name, FieldKind.PortDescriptor, 12, "global::MachIpc.Abi.MachMsgPortDescriptor", 0, a.Type.InName, at: a.Declared.At);
                }
                else
                {
                    long max = a.Count == 0 ? int.MaxValue : (long)a.Count * a.Multiplier * a.ElementSize;
                    int copy = (a.Declared.Flags & DefsFlags.PhysicalCopy) != 0 ? 0 : 1;
                    Add(a.Declared.Name, FieldKind.OolDescriptor, 16, "global::MachIpc.Abi.MachMsgOolDescriptor", 0, 0, copy, max, a.Declared.At);
                }
            }
        }

        // routine.c rtProcessNdrCode: an NDR record precedes untyped (non-port) data; a simple reply always has one,
        // followed by RetCode (rtProcessRetCode: a complex reply has no RetCode, errors use mig_reply_error_t).
        bool untyped = false;
        foreach (Arg a in args)
        {
            untyped |= Carried(a) && a.Shape != MigDataShape.Port;
        }
        if (untyped || (reply && !complex))
        {
            Add("NDR", FieldKind.Inline, 8, "global::MachIpc.Abi.NdrRecord", 0);
        }
        if (reply && !complex)
        {
            Add("RetCode", FieldKind.Inline, 4, "int", 0);
        }

        int variables = 0;
        int variableBytes = 0;
        foreach (Arg a in args)
        {
            if (!Carried(a) || a.Shape == MigDataShape.Port)
            {
                continue;
            }
            if (reply)
            {
                a.ReplyPos = variables;
            }
            else
            {
                a.RequestPos = variables;
            }
            string name = a.Declared.Name;
            int bytes = a.Count * a.Multiplier * a.ElementSize;
            int padded = (bytes + 3) & ~3;
            switch (a.Shape)
            {
                case MigDataShape.OutOfLine:
                    if (a.Type.VarArray)
                    {
                        Add(name + "Cnt", FieldKind.Inline, 4, "uint", 0, at: a.Declared.At);
                    }
                    continue;
                case MigDataShape.VariableString:
                    Add(name + "Offset", FieldKind.Inline, 4, "uint", 0, at: a.Declared.At);
                    Add(name + "Cnt", FieldKind.Inline, 4, "uint", 0, at: a.Declared.At);
                    break;
                case MigDataShape.VariableArray:
                    Add(name + "Cnt", FieldKind.Inline, 4, "uint", 0, at: a.Declared.At);
                    break;
            }
            if (a.Shape is MigDataShape.VariableArray or MigDataShape.VariableString)
            {
                variables++;
                variableBytes += padded;
            }
            Add(name, FieldKind.Inline, bytes, a.Element, a.Shape == MigDataShape.Scalar ? 0 : a.Count * a.Multiplier, at: a.Declared.At);
            if (padded != bytes)
            {
                Add(name + "Pad", FieldKind.Inline, padded - bytes, "byte", padded - bytes, at: a.Declared.At);
            }
        }
        if (!ok)
        {
            return null;
        }

        int trailer = 0;
        if (!reply)
        {
            foreach (Arg a in args)
            {
                trailer = Math.Max(trailer, a.Kind switch
                {
                    MigArgKind.MsgSeqno => 1,
                    MigArgKind.ServerSecToken => 2,
                    MigArgKind.ServerAuditToken => 3,
                    _ => 0,
                });
            }
        }
        var layout = new MessageModel(
            _namespace,
            typeName,
            (_namespace.Length == 0 ? string.Empty : _namespace + ".") + typeName,
            id,
            remote,
            local,
            trailer,
            trailer switch { 0 => 8, 1 => 12, 2 => 20, _ => 52 },
            LayoutKindModel.Pack4,
            offset,
            offset - variableBytes,
            4,
            new EquatableArray<FieldModel>(fields.ToArray()));
        return new MigMessageModel(layout, new EquatableArray<MigFieldDecl>(declarations.ToArray()));
    }

    /// <summary><c>mach_exception_raise</c> → <c>MachExceptionRaise</c>.</summary>
    public static string PascalCase(string name)
    {
        var builder = new StringBuilder(name.Length);
        bool upper = true;
        foreach (char c in name)
        {
            if (c == '_')
            {
                upper = true;
                continue;
            }
            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        string result = builder.Length == 0 ? "_" : builder.ToString();
        return char.IsDigit(result[0]) ? "_" + result : result;
    }

    /// <summary><c>exception_port</c> → <c>exceptionPort</c> (escaped when it is a C# keyword).</summary>
    public static string CamelCase(string name)
    {
        string pascal = PascalCase(name);
        string camel = pascal.Length > 0 && pascal[0] != '_' ? char.ToLowerInvariant(pascal[0]) + pascal.Substring(1) : pascal;
        return Escape(camel);
    }

    private static string Escape(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None
            ? "@" + name
            : name;
}
