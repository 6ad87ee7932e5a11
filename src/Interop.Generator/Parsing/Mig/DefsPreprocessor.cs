using System;
using System.Collections.Generic;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Model;

namespace MachIpc.Generator.Parsing.Mig;

/// <summary>
/// The part of the C preprocessor that real .defs files use (MIG runs cpp before it parses): <c>#include</c> of the
/// standard vocabulary and of other .defs files, object-like <c>#define</c>/<c>#undef</c>, and
/// <c>#if</c>/<c>#ifdef</c>/<c>#ifndef</c>/<c>#elif</c>/<c>#else</c>/<c>#endif</c> with <c>defined</c> and C's integer
/// operators. Undefined names are 0 in <c>#if</c>, as in cpp. Everything else — function-like macros, C headers,
/// <c>#include_next</c>, <c>#error</c> — is a diagnostic at its line, never silently skipped.
/// </summary>
internal sealed class DefsPreprocessor
{
    private const int MaxIncludeDepth = 32;

    private readonly IReadOnlyList<(string Path, string Text)> _sources;
    private readonly Action<string, LocationInfo?, string[]> _report;
    private readonly Dictionary<string, List<DefsToken>> _macros = new(StringComparer.Ordinal);
    private readonly List<DefsToken> _output = new();
    private readonly List<string> _included = new();

    private DefsPreprocessor(IReadOnlyList<(string Path, string Text)> sources, Action<string, LocationInfo?, string[]> report)
    {
        _sources = sources;
        _report = report;
    }

    /// <summary>
    /// Preprocesses <paramref name="root"/>; <paramref name="sources"/> are the other .defs files of the compilation
    /// (an <c>#include</c> may name them), <paramref name="defines"/> the <c>MachInterface</c> item's definitions.
    /// </summary>
    public static List<DefsToken> Run(DefsFile root, string defines, IReadOnlyList<(string Path, string Text)> sources, Action<string, LocationInfo?, string[]> report) =>
        Run(root, defines, sources, report, out _);

    /// <summary>As <see cref="Run(DefsFile, string, IReadOnlyList{ValueTuple{string, string}}, Action{string, LocationInfo?, string[]})"/>; <paramref name="included"/> lists the compilation's files it included.</summary>
    public static List<DefsToken> Run(DefsFile root, string defines, IReadOnlyList<(string Path, string Text)> sources, Action<string, LocationInfo?, string[]> report, out List<string> included)
    {
        var preprocessor = new DefsPreprocessor(sources, report);
        // Every interface MachIpc reads is for a 64-bit Darwin process.
        preprocessor.Define("__LP64__", "1", root);
        foreach (string definition in defines.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
        {
            string d = definition.Trim();
            int equals = d.IndexOf('=');
            string name = equals < 0 ? d : d.Substring(0, equals).Trim();
            string value = equals < 0 ? "1" : d.Substring(equals + 1).Trim();
            if (name.Length > 0)
            {
                preprocessor.Define(name, value, root);
            }
        }
        preprocessor.Process(root, 0);
        preprocessor._output.Add(new DefsToken(DefsTokenKind.EndOfFile, string.Empty, root, root.Text.Length, 0, int.MaxValue, true, true));
        included = preprocessor._included;
        return preprocessor._output;
    }

    private void Define(string name, string value, DefsFile root)
    {
        var errors = new List<(LocationInfo, string)>();
        List<DefsToken> tokens = DefsLexer.Lex(new DefsFile(root.Path, value), errors);
        tokens.RemoveAt(tokens.Count - 1);
        // A definition from the project file is reported where it is used.
        _macros[name] = tokens;
    }

    private void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        _report(descriptor.Id, location, arguments);

    private void Process(DefsFile file, int depth)
    {
        var lexErrors = new List<(LocationInfo Location, string Message)>();
        List<DefsToken> tokens = DefsLexer.Lex(file, lexErrors);
        foreach ((LocationInfo location, string message) in lexErrors)
        {
            Report(MigDiagnostics.Syntax, location, message);
        }

        // One entry per open #if: whether its current branch is active, whether a branch was taken, #else seen.
        var conditions = new Stack<(bool Active, bool Taken, bool ElseSeen, DefsToken At)>();
        bool Active() => conditions.Count == 0 || conditions.Peek().Active;

        int i = 0;
        while (tokens[i].Kind != DefsTokenKind.EndOfFile)
        {
            DefsToken token = tokens[i];
            if (token.StartsLine && token.Is("#"))
            {
                int end = i + 1;
                while (tokens[end].Kind != DefsTokenKind.EndOfFile && tokens[end].Line == token.Line)
                {
                    end++;
                }
                List<DefsToken> line = tokens.GetRange(i + 1, end - i - 1);
                i = end;
                Directive(file, token, line, conditions, Active(), depth);
                continue;
            }
            i++;
            if (Active())
            {
                Expand(token, new HashSet<string>(StringComparer.Ordinal), _output);
            }
        }
        foreach ((_, _, _, DefsToken at) in conditions)
        {
            Report(MigDiagnostics.Preprocessor, at.Location, "#if without #endif");
        }
    }

    private void Directive(DefsFile file, DefsToken hash, List<DefsToken> line,
        Stack<(bool Active, bool Taken, bool ElseSeen, DefsToken At)> conditions, bool active, int depth)
    {
        if (line.Count == 0)
        {
            return; // the null directive
        }
        DefsToken name = line[0];
        switch (name.Text)
        {
            case "if":
            case "ifdef":
            case "ifndef":
            {
                bool value = active && Condition(name, line);
                conditions.Push((value, value, false, hash));
                return;
            }
            case "elif":
            case "else":
            case "endif":
            {
                if (conditions.Count == 0)
                {
                    Report(MigDiagnostics.Preprocessor, name.Location, $"#{name.Text} without #if");
                    return;
                }
                var top = conditions.Pop();
                bool outer = conditions.Count == 0 || conditions.Peek().Active;
                if (name.Text == "endif")
                {
                    return;
                }
                if (top.ElseSeen)
                {
                    Report(MigDiagnostics.Preprocessor, name.Location, $"#{name.Text} after #else");
                }
                bool take = outer && !top.Taken && (name.Text == "else" || Condition(name, line));
                conditions.Push((take, top.Taken || take, name.Text == "else", top.At));
                return;
            }
        }
        if (!active)
        {
            return;
        }
        switch (name.Text)
        {
            case "define":
                if (line.Count < 2 || line[1].Kind != DefsTokenKind.Identifier)
                {
                    Report(MigDiagnostics.Preprocessor, name.Location, "#define needs a macro name");
                }
                else if (line.Count > 2 && line[2].Is("(") && !line[2].SpaceBefore)
                {
                    Report(MigDiagnostics.Preprocessor, line[1].Location,
                        $"function-like macro '{line[1].Text}' is not supported; define an object-like macro or expand it by hand");
                }
                else
                {
                    _macros[line[1].Text] = line.GetRange(2, line.Count - 2);
                }
                return;
            case "undef":
                if (line.Count >= 2)
                {
                    _macros.Remove(line[1].Text);
                }
                return;
            case "include":
                Include(file, hash, line, depth);
                return;
            case "pragma":
            case "line":
                return;
            case "error":
                Report(MigDiagnostics.Preprocessor, name.Location, "#error " + Join(line, 1));
                return;
            default:
                if (name.Kind == DefsTokenKind.Number)
                {
                    return; // a line marker ("# 12 \"file\"") left by an earlier cpp pass
                }
                Report(MigDiagnostics.Preprocessor, name.Location, $"#{name.Text} is not supported");
                return;
        }
    }

    private void Include(DefsFile file, DefsToken directive, List<DefsToken> line, int depth)
    {
        string? target = null;
        bool angled = false;
        if (line.Count == 2 && line[1].Kind == DefsTokenKind.String)
        {
            target = line[1].Text;
        }
        else if (line.Count >= 3 && line[1].Is("<") && line[line.Count - 1].Is(">"))
        {
            // <mach/std_types.defs>: the name is the source text between the brackets.
            int start = line[1].Start + 1;
            target = file.Text.ToString(new Microsoft.CodeAnalysis.Text.TextSpan(start, line[line.Count - 1].Start - start));
            angled = true;
        }
        LocationInfo where = Span(directive, line);
        if (target is null)
        {
            Report(MigDiagnostics.Preprocessor, where, "#include needs <file> or \"file\"");
            return;
        }
        if (depth >= MaxIncludeDepth)
        {
            Report(MigDiagnostics.Preprocessor, where, $"#include nested more than {MaxIncludeDepth} deep (an include cycle?)");
            return;
        }
        DefsFile? included = Resolve(file, target, angled);
        if (included is null)
        {
            string hint = target.EndsWith(".defs", StringComparison.OrdinalIgnoreCase)
                ? "add it to the project as a <MachInterface> item (or AdditionalFiles)"
                : "C headers are not read; give the macros it defines through the MachInterface item's Defines metadata";
            Report(MigDiagnostics.IncludeNotFound, where, target, hint);
            return;
        }
        if (!included.Path.StartsWith(StandardDefs.PathPrefix, StringComparison.Ordinal))
        {
            _included.Add(included.Path);
        }
        Process(included, depth + 1);
    }

    private DefsFile? Resolve(DefsFile from, string target, bool angled)
    {
        string name = target.Replace('\\', '/');
        DefsFile? standard = StandardDefs.Find(name);
        if (angled && standard is not null)
        {
            return standard;
        }
        if (!angled && !from.Path.StartsWith(StandardDefs.PathPrefix, StringComparison.Ordinal))
        {
            string directory = from.Path.Replace('\\', '/');
            int slash = directory.LastIndexOf('/');
            string candidate = Normalize((slash < 0 ? string.Empty : directory.Substring(0, slash + 1)) + name);
            foreach ((string path, string text) in _sources)
            {
                if (string.Equals(Normalize(path.Replace('\\', '/')), candidate, StringComparison.Ordinal))
                {
                    return new DefsFile(path, text);
                }
            }
        }
        // The compilation's .defs files act as the include path: "<x/y.defs>" finds any file ending in /x/y.defs.
        foreach ((string path, string text) in _sources)
        {
            string p = path.Replace('\\', '/');
            if (p.EndsWith("/" + name, StringComparison.Ordinal) || p == name)
            {
                return new DefsFile(path, text);
            }
        }
        return standard;
    }

    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string part in path.Split('/'))
        {
            if (part == ".." && parts.Count > 0 && parts[parts.Count - 1] != "..")
            {
                parts.RemoveAt(parts.Count - 1);
            }
            else if (part != "." && (part.Length > 0 || parts.Count == 0))
            {
                parts.Add(part);
            }
        }
        return string.Join("/", parts);
    }

    private bool Condition(DefsToken directive, List<DefsToken> line)
    {
        if (directive.Text is "ifdef" or "ifndef")
        {
            if (line.Count < 2 || line[1].Kind != DefsTokenKind.Identifier)
            {
                Report(MigDiagnostics.Preprocessor, directive.Location, $"#{directive.Text} needs a macro name");
                return false;
            }
            return _macros.ContainsKey(line[1].Text) == (directive.Text == "ifdef");
        }

        // defined X / defined(X) first, then macros, then every remaining name is 0.
        var expression = new List<DefsToken>();
        for (int i = 1; i < line.Count; i++)
        {
            if (line[i].Kind == DefsTokenKind.Identifier && line[i].Text == "defined")
            {
                bool parenthesized = i + 1 < line.Count && line[i + 1].Is("(");
                int nameIndex = parenthesized ? i + 2 : i + 1;
                if (nameIndex >= line.Count || line[nameIndex].Kind != DefsTokenKind.Identifier
                    || (parenthesized && (nameIndex + 1 >= line.Count || !line[nameIndex + 1].Is(")"))))
                {
                    Report(MigDiagnostics.Preprocessor, line[i].Location, "'defined' needs a macro name");
                    return false;
                }
                expression.Add(line[i] with { Kind = DefsTokenKind.Number, Text = _macros.ContainsKey(line[nameIndex].Text) ? "1" : "0" });
                i = parenthesized ? nameIndex + 1 : nameIndex;
                continue;
            }
            Expand(line[i], new HashSet<string>(StringComparer.Ordinal), expression);
        }
        if (expression.Count == 0)
        {
            Report(MigDiagnostics.Preprocessor, directive.Location, $"#{directive.Text} needs an expression");
            return false;
        }
        var evaluator = new ConditionEvaluator(expression);
        if (!evaluator.TryEvaluate(out long value, out DefsToken? bad))
        {
            Report(MigDiagnostics.Preprocessor, (bad ?? directive).Location,
                $"cannot evaluate #{directive.Text} expression near '{(bad ?? directive).Text}'");
            return false;
        }
        return value != 0;
    }

    private void Expand(DefsToken token, HashSet<string> expanding, List<DefsToken> into)
    {
        if (token.Kind == DefsTokenKind.Identifier && _macros.TryGetValue(token.Text, out List<DefsToken>? replacement) && expanding.Add(token.Text))
        {
            foreach (DefsToken r in replacement)
            {
                Expand(r.At(token), expanding, into);
            }
            expanding.Remove(token.Text);
            return;
        }
        into.Add(token);
    }

    private static LocationInfo Span(DefsToken first, List<DefsToken> line)
    {
        DefsToken last = line.Count > 0 ? line[line.Count - 1] : first;
        return first.File.Location(first.Start, last.Start + last.Length - first.Start);
    }

    private static string Join(List<DefsToken> tokens, int from)
    {
        var parts = new List<string>();
        for (int i = from; i < tokens.Count; i++)
        {
            parts.Add(tokens[i].Kind == DefsTokenKind.String ? "\"" + tokens[i].Text + "\"" : tokens[i].Text);
        }
        return string.Join(" ", parts);
    }

    /// <summary>C's integer expression grammar over <c>long</c>, for <c>#if</c>; identifiers are 0.</summary>
    private sealed class ConditionEvaluator
    {
        private static readonly string[][] s_binary =
        {
            new[] { "||" }, new[] { "&&" }, new[] { "|" }, new[] { "^" }, new[] { "&" },
            new[] { "==", "!=" }, new[] { "<", ">", "<=", ">=" }, new[] { "<<", ">>" }, new[] { "+", "-" }, new[] { "*", "/", "%" },
        };

        private readonly List<DefsToken> _tokens;
        private int _position;
        private DefsToken? _error;

        public ConditionEvaluator(List<DefsToken> tokens) => _tokens = tokens;

        public bool TryEvaluate(out long value, out DefsToken? error)
        {
            value = Conditional();
            if (_error is null && _position < _tokens.Count)
            {
                _error = _tokens[_position];
            }
            error = _error;
            return _error is null;
        }

        private DefsToken? Peek => _position < _tokens.Count ? _tokens[_position] : null;

        private long Conditional()
        {
            long condition = Binary(0);
            if (Peek?.Is("?") == true)
            {
                _position++;
                long whenTrue = Conditional();
                if (Peek?.Is(":") != true)
                {
                    Fail();
                    return 0;
                }
                _position++;
                long whenFalse = Conditional();
                return condition != 0 ? whenTrue : whenFalse;
            }
            return condition;
        }

        private long Binary(int level)
        {
            if (level == s_binary.Length)
            {
                return Unary();
            }
            long left = Binary(level + 1);
            while (_error is null && Peek is { Kind: DefsTokenKind.Punctuation } op && Array.IndexOf(s_binary[level], op.Text) >= 0)
            {
                _position++;
                long right = Binary(level + 1);
                left = op.Text switch
                {
                    "||" => (left != 0 || right != 0) ? 1 : 0,
                    "&&" => (left != 0 && right != 0) ? 1 : 0,
                    "|" => left | right,
                    "^" => left ^ right,
                    "&" => left & right,
                    "==" => left == right ? 1 : 0,
                    "!=" => left != right ? 1 : 0,
                    "<" => left < right ? 1 : 0,
                    ">" => left > right ? 1 : 0,
                    "<=" => left <= right ? 1 : 0,
                    ">=" => left >= right ? 1 : 0,
                    "<<" => left << (int)(right & 63),
                    ">>" => left >> (int)(right & 63),
                    "+" => left + right,
                    "-" => left - right,
                    "*" => left * right,
                    _ => right == 0 ? Fail(op) : op.Text == "/" ? left / right : left % right,
                };
            }
            return left;
        }

        private long Unary()
        {
            DefsToken? token = Peek;
            if (token is null)
            {
                return Fail();
            }
            _position++;
            switch (token.Kind)
            {
                case DefsTokenKind.Number:
                    return DefsLexer.TryParseNumber(token.Text, out long number) ? number : Fail(token);
                case DefsTokenKind.Identifier:
                    return 0;
                case DefsTokenKind.Punctuation:
                    switch (token.Text)
                    {
                        case "!": return Unary() == 0 ? 1 : 0;
                        case "-": return -Unary();
                        case "+": return Unary();
                        case "~": return ~Unary();
                        case "(":
                            long inner = Conditional();
                            if (Peek?.Is(")") != true)
                            {
                                return Fail();
                            }
                            _position++;
                            return inner;
                    }
                    break;
            }
            return Fail(token);
        }

        private long Fail(DefsToken? at = null)
        {
            _error ??= at ?? Peek ?? (_tokens.Count > 0 ? _tokens[_tokens.Count - 1] : null);
            return 0;
        }
    }
}
