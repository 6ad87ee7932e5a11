using System;
using System.Collections.Generic;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Parsing.Mig;

/// <summary>The argument keywords of MIG's grammar (parser.y's <c>Direction</c>).</summary>
internal enum DefsDirection
{
    None,
    In,
    Out,
    InOut,
    RequestPort,
    ReplyPort,
    SReplyPort,
    UReplyPort,
    WaitTime,
    MsgOption,
    MsgSeqno,
    ServerSecToken,
    ServerAuditToken,
}

[Flags]
internal enum DefsFlags
{
    None = 0,
    PhysicalCopy = 1,
    Dealloc = 2,
    NotDealloc = 4,
}

/// <summary>One argument as declared.</summary>
internal sealed record DefsArgument(string Name, DefsToken At, DefsDirection Direction, MigType Type, DefsFlags Flags);

/// <summary>One routine or simpleroutine as declared; <paramref name="Number"/> is its offset from the subsystem base.</summary>
internal sealed record DefsRoutine(string Name, DefsToken At, bool IsSimple, int Number, List<DefsArgument> Arguments);

/// <summary>What a .defs file declares: the subsystem, its global options and its routines.</summary>
internal sealed class DefsInterface
{
    public string? Subsystem { get; set; }

    public DefsToken? SubsystemAt { get; set; }

    public int Base { get; set; }

    public string ServerPrefix { get; set; } = string.Empty;

    public string UserPrefix { get; set; } = string.Empty;

    /// <summary>The global <c>WaitTime</c> in milliseconds, or -1.</summary>
    public int WaitTime { get; set; } = -1;

    /// <summary>The global <c>MsgOption</c> bits.</summary>
    public int MsgOption { get; set; }

    public List<DefsRoutine> Routines { get; } = new();

    /// <summary>Routines and skips: the number of message ids the subsystem spans.</summary>
    public int Count { get; set; }
}

/// <summary>
/// Parses preprocessed .defs tokens with MIG's grammar (bootstrap_cmds migcom parser.y): statements, type
/// declarations with their translations, and routine argument lists. Keywords are case-insensitive as in migcom's
/// lexer. Constructs outside MachIpc's subset are reported (MACHIPC044) at their token, never skipped silently;
/// statements that only steer C code generation are reported as ignored (MACHIPC045).
/// </summary>
internal sealed class DefsParser
{
    private static readonly Dictionary<string, (int In, int Out, int Bits)> s_symbolicTypes = new(StringComparer.Ordinal)
    {
        // Sizes and received names as migcom's lexer gives them (lexxer.l TPRETURN/TRETURN); ports are 32 bits.
        ["MACH_MSG_TYPE_UNSTRUCTURED"] = (0, 0, 0),
        ["MACH_MSG_TYPE_BIT"] = (0, 0, 1),
        ["MACH_MSG_TYPE_BOOLEAN"] = (MigType.TypeBoolean, MigType.TypeBoolean, 32),
        ["MACH_MSG_TYPE_INTEGER_8"] = (MigType.TypeByte, MigType.TypeByte, 8),
        ["MACH_MSG_TYPE_INTEGER_16"] = (MigType.TypeInteger16, MigType.TypeInteger16, 16),
        ["MACH_MSG_TYPE_INTEGER_32"] = (MigType.TypeInteger32, MigType.TypeInteger32, 32),
        ["MACH_MSG_TYPE_INTEGER_64"] = (MigType.TypeInteger64, MigType.TypeInteger64, 64),
        ["MACH_MSG_TYPE_REAL_32"] = (MigType.TypeReal32, MigType.TypeReal32, 32),
        ["MACH_MSG_TYPE_REAL_64"] = (MigType.TypeReal64, MigType.TypeReal64, 64),
        ["MACH_MSG_TYPE_CHAR"] = (MigType.TypeChar, MigType.TypeChar, 8),
        ["MACH_MSG_TYPE_BYTE"] = (MigType.TypeByte, MigType.TypeByte, 8),
        ["MACH_MSG_TYPE_MOVE_RECEIVE"] = (MigType.MoveReceive, MigType.PortReceive, 32),
        ["MACH_MSG_TYPE_COPY_SEND"] = (MigType.CopySend, MigType.PortSend, 32),
        ["MACH_MSG_TYPE_MAKE_SEND"] = (MigType.MakeSend, MigType.PortSend, 32),
        ["MACH_MSG_TYPE_MOVE_SEND"] = (MigType.MoveSend, MigType.PortSend, 32),
        ["MACH_MSG_TYPE_MAKE_SEND_ONCE"] = (MigType.MakeSendOnce, MigType.PortSendOnce, 32),
        ["MACH_MSG_TYPE_MOVE_SEND_ONCE"] = (MigType.MoveSendOnce, MigType.PortSendOnce, 32),
        ["MACH_MSG_TYPE_PORT_NAME"] = (MigType.TypePortName, MigType.TypePortName, 32),
        ["MACH_MSG_TYPE_PORT_RECEIVE"] = (MigType.Polymorphic, MigType.PortReceive, 32),
        ["MACH_MSG_TYPE_PORT_SEND"] = (MigType.Polymorphic, MigType.PortSend, 32),
        ["MACH_MSG_TYPE_PORT_SEND_ONCE"] = (MigType.Polymorphic, MigType.PortSendOnce, 32),
        ["MACH_MSG_TYPE_POLYMORPHIC"] = (MigType.Polymorphic, MigType.Polymorphic, 32),
    };

    private static readonly Dictionary<string, DefsDirection> s_directions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["in"] = DefsDirection.In,
        ["out"] = DefsDirection.Out,
        ["inout"] = DefsDirection.InOut,
        ["requestport"] = DefsDirection.RequestPort,
        ["replyport"] = DefsDirection.ReplyPort,
        ["sreplyport"] = DefsDirection.SReplyPort,
        ["ureplyport"] = DefsDirection.UReplyPort,
        ["waittime"] = DefsDirection.WaitTime,
        ["msgoption"] = DefsDirection.MsgOption,
        ["msgseqno"] = DefsDirection.MsgSeqno,
        ["serversectoken"] = DefsDirection.ServerSecToken,
        ["serveraudittoken"] = DefsDirection.ServerAuditToken,
    };

    // Argument keywords MIG knows that MachIpc does not implement.
    private static readonly string[] s_unsupportedDirections =
    {
        "sendtime", "sectoken", "usersectoken", "audittoken", "useraudittoken", "servercontexttoken", "serverimpl", "userimpl",
    };

    private static readonly Dictionary<string, int> s_messageOptions = new(StringComparer.Ordinal)
    {
        // <mach/message.h> option bits a MIG MsgOption statement names.
        ["MACH_MSG_OPTION_NONE"] = 0,
        ["MACH_SEND_INTERRUPT"] = 0x40,
        ["MACH_SEND_NOTIFY"] = 0x80,
        ["MACH_SEND_ALWAYS"] = 0x10000,
        ["MACH_SEND_IMPORTANCE"] = 0x80000,
        ["MACH_SEND_SYNC_OVERRIDE"] = 0x100000,
        ["MACH_SEND_PROPAGATE_QOS"] = 0x200000,
        ["MACH_SEND_NOIMPORTANCE"] = 0x40000,
        ["MACH_RCV_INTERRUPT"] = 0x400,
    };

    private readonly List<DefsToken> _tokens;
    private readonly Action<string, LocationInfo?, string[]> _report;
    private readonly Dictionary<string, MigType> _types = new(StringComparer.Ordinal);
    private readonly DefsInterface _interface = new();
    private int _position;

    private DefsParser(List<DefsToken> tokens, Action<string, LocationInfo?, string[]> report)
    {
        _tokens = tokens;
        _report = report;
    }

    public static DefsInterface Parse(List<DefsToken> tokens, Action<string, LocationInfo?, string[]> report)
    {
        var parser = new DefsParser(tokens, report);
        parser.Statements();
        return parser._interface;
    }

    private DefsToken Current => _tokens[_position];

    private DefsToken Next() => _tokens[_position++ < _tokens.Count - 1 ? _position - 1 : _tokens.Count - 1];

    private void Report(DiagnosticDescriptor descriptor, DefsToken at, params string[] arguments) =>
        _report(descriptor.Id, at.Location, arguments);

    private bool Expect(string punctuation, string what)
    {
        if (Current.Is(punctuation))
        {
            _position++;
            return true;
        }
        Report(MigDiagnostics.Syntax, Current, $"expected '{punctuation}' {what}, found {Describe(Current)}");
        return false;
    }

    private static string Describe(DefsToken token) => token.Kind switch
    {
        DefsTokenKind.EndOfFile => "the end of the file",
        DefsTokenKind.String => $"\"{token.Text}\"",
        _ => $"'{token.Text}'",
    };

    /// <summary>After an error: skip to the statement's ';' (parser.y's <c>error sySemi</c>).</summary>
    private void Recover()
    {
        int depth = 0;
        while (Current.Kind != DefsTokenKind.EndOfFile)
        {
            DefsToken t = Next();
            if (t.Is("("))
            {
                depth++;
            }
            else if (t.Is(")"))
            {
                depth = Math.Max(0, depth - 1);
            }
            else if (t.Is(";") && depth == 0)
            {
                return;
            }
        }
    }

    private void Statements()
    {
        while (Current.Kind != DefsTokenKind.EndOfFile)
        {
            if (!Statement())
            {
                Recover();
            }
        }
    }

    private bool Statement()
    {
        DefsToken t = Current;
        if (t.Is(";"))
        {
            _position++;
            return true;
        }
        if (t.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, t, $"expected a statement, found {Describe(t)}");
            return false;
        }
        switch (t.Text.ToLowerInvariant())
        {
            case "subsystem":
                return Subsystem();
            case "routine":
            case "simpleroutine":
                return Routine(t.Text.Equals("simpleroutine", StringComparison.OrdinalIgnoreCase));
            case "skip":
                _position++;
                _interface.Count++;
                return Expect(";", "after 'skip'");
            case "type":
                _position++;
                return NamedType(register: true) is not null && Expect(";", "after a type declaration");
            case "serverprefix":
            case "userprefix":
            {
                _position++;
                DefsToken name = Next();
                if (name.Kind != DefsTokenKind.Identifier)
                {
                    Report(MigDiagnostics.Syntax, name, $"expected a prefix after '{t.Text}', found {Describe(name)}");
                    return false;
                }
                if (t.IsKeyword("serverprefix"))
                {
                    _interface.ServerPrefix = name.Text;
                }
                else
                {
                    _interface.UserPrefix = name.Text;
                }
                return Expect(";", $"after '{t.Text}'");
            }
            case "waittime":
                return WaitTimeStatement();
            case "nowaittime":
                _position++;
                _interface.WaitTime = -1;
                return Expect(";", "after 'NoWaitTime'");
            case "msgoption":
                return MsgOptionStatement();
            case "import":
            case "uimport":
            case "simport":
            case "dimport":
            case "iimport":
                _position++;
                Report(MigDiagnostics.Ignored, t, $"'{t.Text}'", "it names a C header for the generated C code; the C# code needs none");
                return SkipStatement();
            case "serverdemux":
            case "rcsid":
            case "usertypelimit":
            case "onstacklimit":
            case "error":
                _position++;
                Report(MigDiagnostics.Ignored, t, $"'{t.Text}'", "it only shapes MIG's C output");
                return SkipStatement();
            case "consumeonsenderror":
                _position++;
                Report(MigDiagnostics.Ignored, t, $"'{t.Text}'",
                    "MachIpc clients always destroy a request's rights when a send fails after they were copied in, so nothing leaks");
                return SkipStatement();
            case "sendtime":
            case "nosendtime":
            case "usespecialreplyport":
                Report(MigDiagnostics.Unsupported, t, $"'{t.Text}'", "MachIpc clients use a thread's ordinary MIG reply port and one timeout for send and receive");
                _position++;
                return SkipStatement();
            default:
                Report(MigDiagnostics.Syntax, t, $"expected a statement, found {Describe(t)}");
                return false;
        }
    }

    private bool SkipStatement()
    {
        Recover();
        return true;
    }

    private bool Subsystem()
    {
        DefsToken keyword = Next();
        if (_interface.Subsystem is not null)
        {
            Report(MigDiagnostics.InvalidSubsystem, keyword, $"a second subsystem statement (the first declared '{_interface.Subsystem}')");
        }
        while (Current.IsKeyword("KernelUser") || Current.IsKeyword("KernelServer"))
        {
            Report(MigDiagnostics.InvalidSubsystem, Current,
                $"'{Current.Text}' describes the kernel's side of an interface; a .NET program is always a user-space peer");
            _position++;
        }
        DefsToken name = Next();
        if (name.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, name, $"expected the subsystem name, found {Describe(name)}");
            return false;
        }
        DefsToken number = Next();
        if (number.Kind != DefsTokenKind.Number || !DefsLexer.TryParseNumber(number.Text, out long value) || value > int.MaxValue - 10000)
        {
            Report(MigDiagnostics.Syntax, number, $"expected the subsystem's base message id, found {Describe(number)}");
            return false;
        }
        _interface.Subsystem = name.Text;
        _interface.SubsystemAt = name;
        _interface.Base = (int)value;
        return Expect(";", "after the subsystem statement");
    }

    private bool WaitTimeStatement()
    {
        _position++;
        DefsToken value = Next();
        if (value.Kind == DefsTokenKind.Number && DefsLexer.TryParseNumber(value.Text, out long ms) && ms <= int.MaxValue)
        {
            _interface.WaitTime = (int)ms;
        }
        else if (value.Text == "MACH_MSG_TIMEOUT_NONE")
        {
            _interface.WaitTime = -1;
        }
        else
        {
            Report(MigDiagnostics.InvalidOption, value, "WaitTime", value.Text,
                "give the timeout in milliseconds, or declare a 'WaitTime' argument so that callers pass it");
            return SkipStatement();
        }
        return Expect(";", "after 'WaitTime'");
    }

    private bool MsgOptionStatement()
    {
        _position++;
        DefsToken value = Next();
        if (value.Kind == DefsTokenKind.Number && DefsLexer.TryParseNumber(value.Text, out long number) && number <= int.MaxValue)
        {
            _interface.MsgOption = (int)number;
        }
        else if (s_messageOptions.TryGetValue(value.Text, out int option))
        {
            _interface.MsgOption = option;
        }
        else
        {
            Report(MigDiagnostics.InvalidOption, value, "MsgOption", value.Text,
                "name one MACH_SEND_*/MACH_RCV_* option MachIpc knows (MACH_SEND_ALWAYS, MACH_SEND_NOTIFY, MACH_SEND_INTERRUPT, MACH_RCV_INTERRUPT, …) or a number");
            return SkipStatement();
        }
        return Expect(";", "after 'MsgOption'");
    }

    /// <summary><c>name = type-spec [translations]</c>: declares and returns the type.</summary>
    private MigType? NamedType(bool register)
    {
        DefsToken name = Next();
        if (name.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, name, $"expected a type name, found {Describe(name)}");
            return null;
        }
        if (!Expect("=", $"after type name '{name.Text}'"))
        {
            return null;
        }
        MigType? type = TypeSpec(name.Text);
        if (type is null)
        {
            return null;
        }
        if (!Translations(name.Text))
        {
            return null;
        }
        type.SetName(name.Text);
        if (register)
        {
            // A later declaration overrides an earlier one, as in migcom ("overriding previous definition").
            _types[name.Text] = type;
        }
        return type;
    }

    /// <summary>
    /// <c>ctype:</c>, <c>cusertype:</c>, <c>cservertype:</c> only rename the C type; <c>intran:</c>, <c>outtran:</c> and
    /// <c>destructor:</c> call C functions in the generated C server. Neither changes the message.
    /// </summary>
    private bool Translations(string typeName)
    {
        while (true)
        {
            DefsToken t = Current;
            if (t.IsKeyword("ctype") || t.IsKeyword("cusertype") || t.IsKeyword("cservertype"))
            {
                _position++;
                if (!Expect(":", $"after '{t.Text}'"))
                {
                    return false;
                }
                if (Next().Kind != DefsTokenKind.Identifier)
                {
                    Report(MigDiagnostics.Syntax, _tokens[_position - 1], $"expected a C type name after '{t.Text}:'");
                    return false;
                }
                continue;
            }
            if (t.IsKeyword("intran") || t.IsKeyword("outtran") || t.IsKeyword("destructor"))
            {
                _position++;
                Report(MigDiagnostics.Ignored, t, $"'{t.Text}' of type '{typeName}'",
                    "translation functions belong to a C server; the C# handler receives the message's value");
                // intran: T f(U) | outtran: U f(T) | destructor: f(T)
                if (!Expect(":", $"after '{t.Text}'"))
                {
                    return false;
                }
                while (Current.Kind == DefsTokenKind.Identifier)
                {
                    _position++;
                }
                if (!Expect("(", $"in '{t.Text}'"))
                {
                    return false;
                }
                while (Current.Kind == DefsTokenKind.Identifier)
                {
                    _position++;
                }
                if (!Expect(")", $"in '{t.Text}'"))
                {
                    return false;
                }
                continue;
            }
            return true;
        }
    }

    private MigType? TypeSpec(string context)
    {
        DefsToken t = Current;
        if (t.Is("^"))
        {
            _position++;
            MigType? inner = TypeSpec(context);
            if (inner is null)
            {
                return null;
            }
            MigType? pointer = inner.Pointer();
            if (pointer is null)
            {
                Report(MigDiagnostics.InvalidType, t, context, "it is already out of line");
            }
            return pointer;
        }
        if (t.Is("("))
        {
            Report(MigDiagnostics.Unsupported, t, "The long form '(type, size, flags)'", "migcom no longer accepts it either; declare the type by name");
            return null;
        }
        if (t.Kind == DefsTokenKind.Number)
        {
            Report(MigDiagnostics.InvalidType, t, context, "a numeric IPC type needs a size, which only the obsolete long form gives");
            return null;
        }
        if (t.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, t, $"expected a type, found {Describe(t)}");
            return null;
        }
        if (t.IsKeyword("array"))
        {
            return ArraySpec(context);
        }
        if (t.IsKeyword("struct"))
        {
            _position++;
            if (!Expect("[", "after 'struct'") || !IntExpression(out int count) || !Expect("]", "after the struct size") || !ExpectKeyword("of", "after 'struct[n]'"))
            {
                return null;
            }
            MigType? element = TypeSpec(context);
            MigType? result = element?.StructOf(count);
            if (element is not null && result is null)
            {
                Report(MigDiagnostics.InvalidType, t, context, "struct[] of an out-of-line or variable type is too complicated");
            }
            return result;
        }
        if (t.IsKeyword("c_string"))
        {
            _position++;
            if (!Expect("[", "after 'c_string'"))
            {
                return null;
            }
            bool varying = false;
            if (Current.Is("*"))
            {
                _position++;
                varying = true;
                if (!Expect(":", "in 'c_string[*:n]'"))
                {
                    return null;
                }
            }
            if (!IntExpression(out int size) || !Expect("]", "after the c_string size"))
            {
                return null;
            }
            if (size <= 0)
            {
                Report(MigDiagnostics.InvalidType, t, context, "a c_string needs room for at least its NUL");
                return null;
            }
            return MigType.CString(size, varying);
        }
        if (t.IsKeyword("PointerTo") || t.IsKeyword("PointerToIfNot") || t.IsKeyword("ValueOf"))
        {
            Report(MigDiagnostics.Unsupported, t, $"'{t.Text}'", "native C types have no wire layout MachIpc can check; declare the data as an array or struct of MIG types");
            return null;
        }
        _position++;
        if (t.IsKeyword("polymorphic") || s_symbolicTypes.ContainsKey(t.Text))
        {
            (int inName, int outName, int bits) = t.IsKeyword("polymorphic") ? (MigType.Polymorphic, MigType.Polymorphic, 32) : s_symbolicTypes[t.Text];
            if (Current.Is("|"))
            {
                // in-name|out-name, as in MACH_MSG_TYPE_MAKE_SEND_ONCE|polymorphic.
                _position++;
                DefsToken second = Next();
                if (!second.IsKeyword("polymorphic") && !s_symbolicTypes.ContainsKey(second.Text))
                {
                    Report(MigDiagnostics.Syntax, second, $"expected an IPC type after '|', found {Describe(second)}");
                    return null;
                }
                (int _, int out2, int bits2) = second.IsKeyword("polymorphic") ? (MigType.Polymorphic, MigType.Polymorphic, 32) : s_symbolicTypes[second.Text];
                outName = out2;
                bits = bits == 0 ? bits2 : bits;
            }
            if (bits == 0)
            {
                Report(MigDiagnostics.InvalidType, t, context, $"'{t.Text}' has no size of its own");
                return null;
            }
            if (bits == 1)
            {
                Report(MigDiagnostics.Unsupported, t, "MACH_MSG_TYPE_BIT", "bit arrays have no C# layout; use bytes");
                return null;
            }
            return MigType.Basic(inName, outName, bits);
        }
        if (_types.TryGetValue(t.Text, out MigType? previous))
        {
            return previous.Copy();
        }
        Report(MigDiagnostics.UndefinedType, t, t.Text);
        return null;
    }

    private MigType? ArraySpec(string context)
    {
        DefsToken array = Next();
        if (!Expect("[", "after 'array'"))
        {
            return null;
        }
        bool variable = false;
        int number = 0;
        if (Current.Is("]"))
        {
            variable = true;
        }
        else if (Current.Is("*"))
        {
            _position++;
            variable = true;
            if (Current.Is(":"))
            {
                _position++;
                if (!IntExpression(out number))
                {
                    return null;
                }
            }
        }
        else if (!IntExpression(out number))
        {
            return null;
        }
        if (!Expect("]", "after the array size") || !ExpectKeyword("of", "after 'array[...]'"))
        {
            return null;
        }
        MigType? element = TypeSpec(context);
        if (element is null)
        {
            return null;
        }
        if (!variable && number <= 0)
        {
            Report(MigDiagnostics.InvalidType, array, context, "a fixed array needs at least one element");
            return null;
        }
        MigType? result = variable ? element.VariableArray(number) : element.FixedArray(number);
        if (result is null)
        {
            Report(MigDiagnostics.InvalidType, array, context, "an array of this element type is too complicated for MIG (an array of variable arrays, or of multiple descriptors)");
        }
        return result;
    }

    private bool ExpectKeyword(string keyword, string what)
    {
        if (Current.IsKeyword(keyword))
        {
            _position++;
            return true;
        }
        Report(MigDiagnostics.Syntax, Current, $"expected '{keyword}' {what}, found {Describe(Current)}");
        return false;
    }

    /// <summary>parser.y's <c>IntExp</c>: + - * / and parentheses over non-negative numbers.</summary>
    private bool IntExpression(out int value)
    {
        DefsToken start = Current;
        long result = Sum();
        if (result < 0 || result > 0x7fffffff)
        {
            if (result != long.MinValue)
            {
                Report(MigDiagnostics.Syntax, start, "expected a size between 0 and 2^31-1");
            }
            value = 0;
            return false;
        }
        value = (int)result;
        return true;
    }

    private long Sum()
    {
        long left = Product();
        while (left != long.MinValue && (Current.Is("+") || Current.Is("-")))
        {
            bool plus = Next().Is("+");
            long right = Product();
            if (right == long.MinValue)
            {
                return right;
            }
            left = plus ? left + right : left - right;
        }
        return left;
    }

    private long Product()
    {
        long left = Atom();
        while (left != long.MinValue && (Current.Is("*") || Current.Is("/")))
        {
            DefsToken op = Next();
            long right = Atom();
            if (right == long.MinValue)
            {
                return right;
            }
            if (op.Is("/") && right == 0)
            {
                Report(MigDiagnostics.Syntax, op, "division by zero in a size");
                return long.MinValue;
            }
            left = op.Is("*") ? left * right : left / right;
            if (left > int.MaxValue)
            {
                Report(MigDiagnostics.Syntax, op, "size too large");
                return long.MinValue;
            }
        }
        return left;
    }

    private long Atom()
    {
        DefsToken t = Next();
        if (t.Is("("))
        {
            long inner = Sum();
            return inner != long.MinValue && Expect(")", "in a size expression") ? inner : long.MinValue;
        }
        if (t.Kind == DefsTokenKind.Number && DefsLexer.TryParseNumber(t.Text, out long value) && value <= int.MaxValue)
        {
            return value;
        }
        Report(MigDiagnostics.Syntax, t, t.Kind == DefsTokenKind.Identifier
            ? $"'{t.Text}' is not a number (is a macro that defines it missing? give it through Defines)"
            : $"expected a number, found {Describe(t)}");
        return long.MinValue;
    }

    private bool Routine(bool isSimple)
    {
        DefsToken keyword = Next();
        DefsToken name = Next();
        if (name.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, name, $"expected a routine name after '{keyword.Text}', found {Describe(name)}");
            return false;
        }
        int number = _interface.Count++;
        if (!Expect("(", $"after routine name '{name.Text}'"))
        {
            return false;
        }
        var arguments = new List<DefsArgument>();
        bool ok = true;
        if (!Current.Is(")"))
        {
            while (true)
            {
                DefsArgument? argument = Argument(name.Text);
                if (argument is null)
                {
                    ok = false;
                    // Skip to the next argument or the end of the list.
                    while (Current.Kind != DefsTokenKind.EndOfFile && !Current.Is(";") && !Current.Is(")"))
                    {
                        _position++;
                    }
                }
                else
                {
                    arguments.Add(argument);
                }
                if (Current.Is(";"))
                {
                    _position++;
                    continue;
                }
                break;
            }
        }
        if (!Expect(")", $"at the end of routine '{name.Text}'"))
        {
            return false;
        }
        if (ok)
        {
            _interface.Routines.Add(new DefsRoutine(name.Text, name, isSimple, number, arguments));
        }
        return Expect(";", $"after routine '{name.Text}'");
    }

    private DefsArgument? Argument(string routine)
    {
        DefsToken first = Current;
        DefsDirection direction = DefsDirection.None;
        if (first.Kind == DefsTokenKind.Identifier && _tokens[_position + 1].Kind == DefsTokenKind.Identifier)
        {
            if (s_directions.TryGetValue(first.Text, out DefsDirection d))
            {
                direction = d;
                _position++;
            }
            else if (Array.IndexOf(s_unsupportedDirections, first.Text.ToLowerInvariant()) >= 0)
            {
                Report(MigDiagnostics.Unsupported, first, $"'{first.Text}' arguments",
                    "MachIpc supports in, out, inout, requestport, replyport, sreplyport, ureplyport, WaitTime, MsgOption, msgseqno, ServerSecToken and ServerAuditToken");
                return null;
            }
            else
            {
                Report(MigDiagnostics.Syntax, first, $"unknown argument kind '{first.Text}' in routine '{routine}'");
                return null;
            }
        }
        DefsToken name = Next();
        if (name.Kind != DefsTokenKind.Identifier)
        {
            Report(MigDiagnostics.Syntax, name, $"expected an argument name in routine '{routine}', found {Describe(name)}");
            return null;
        }
        if (!Expect(":", $"after argument '{name.Text}'"))
        {
            return null;
        }
        MigType? type;
        if (Current.Kind == DefsTokenKind.Identifier && _tokens[_position + 1].Is("="))
        {
            // An inline named declaration: "port : reply_t = MACH_MSG_TYPE_MAKE_SEND_ONCE|polymorphic".
            type = NamedType(register: false);
        }
        else
        {
            DefsToken typeName = Current;
            if (typeName.Kind == DefsTokenKind.Identifier && (typeName.IsKeyword("PointerTo") || typeName.IsKeyword("PointerToIfNot") || typeName.IsKeyword("ValueOf")))
            {
                type = TypeSpec(name.Text);
            }
            else
            {
                _position++;
                if (typeName.Kind != DefsTokenKind.Identifier)
                {
                    Report(MigDiagnostics.Syntax, typeName, $"expected the type of argument '{name.Text}', found {Describe(typeName)}");
                    return null;
                }
                type = _types.TryGetValue(typeName.Text, out MigType? found) ? found : null;
                if (type is null)
                {
                    Report(MigDiagnostics.UndefinedType, typeName, typeName.Text);
                }
            }
        }
        if (type is null)
        {
            return null;
        }
        DefsFlags flags = DefsFlags.None;
        while (Current.Is(","))
        {
            _position++;
            DefsToken flag = Next();
            bool brackets = Current.Is("[") && _tokens[_position + 1].Is("]");
            if (brackets)
            {
                _position += 2;
            }
            switch (flag.Text.ToLowerInvariant())
            {
                case "const":
                case "auto":
                    break;
                case "physicalcopy":
                    flags |= DefsFlags.PhysicalCopy;
                    break;
                case "dealloc" when !brackets:
                    flags |= DefsFlags.Dealloc;
                    break;
                case "notdealloc":
                    flags |= DefsFlags.NotDealloc;
                    break;
                case "dealloc":
                case "samecount":
                case "retcode":
                case "overwrite":
                case "countinout":
                    Report(MigDiagnostics.Unsupported, flag, $"The '{flag.Text}{(brackets ? "[]" : string.Empty)}' flag of argument '{name.Text}'",
                        "MachIpc supports Const, Auto, Dealloc, NotDealloc and PhysicalCopy");
                    return null;
                default:
                    Report(MigDiagnostics.Syntax, flag, $"unknown IPC flag '{flag.Text}' on argument '{name.Text}'");
                    return null;
            }
        }
        return new DefsArgument(name.Text, name, direction, type, flags);
    }
}
