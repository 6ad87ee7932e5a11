using System.Collections.Generic;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis.Text;

namespace MachIpc.Generator.Parsing.Mig;

internal enum DefsTokenKind
{
    Identifier,
    Number,
    Punctuation,
    String,
    EndOfFile,
}

/// <summary>One .defs source file being read: its path and text, for tokens and diagnostic locations.</summary>
internal sealed class DefsFile
{
    public DefsFile(string path, string text)
    {
        Path = path;
        Text = SourceText.From(text);
    }

    public string Path { get; }

    public SourceText Text { get; }

    public LocationInfo Location(int start, int length)
    {
        var span = new TextSpan(start, length);
        return new LocationInfo(Path, span, Text.Lines.GetLinePositionSpan(span));
    }
}

/// <summary>A token of a .defs file, with where it came from.</summary>
/// <param name="Kind">The token kind.</param>
/// <param name="Text">Its text (for strings, without the quotes).</param>
/// <param name="File">The file it was read from.</param>
/// <param name="Start">Its start in that file.</param>
/// <param name="Length">Its length in that file.</param>
/// <param name="Line">Its logical line (continuation lines and comments do not end a line), for directives.</param>
/// <param name="StartsLine">Whether it is the first token of its logical line.</param>
/// <param name="SpaceBefore">Whether white space or a comment precedes it (tells <c>#define F(x)</c> from <c>#define F (x)</c>).</param>
internal sealed record DefsToken(DefsTokenKind Kind, string Text, DefsFile File, int Start, int Length, int Line, bool StartsLine, bool SpaceBefore)
{
    public LocationInfo Location => File.Location(Start, Length);

    public bool Is(string punctuation) => Kind == DefsTokenKind.Punctuation && Text == punctuation;

    /// <summary>MIG's keywords are case-insensitive (its lexer matches each letter in either case).</summary>
    public bool IsKeyword(string keyword) => Kind == DefsTokenKind.Identifier && string.Equals(Text, keyword, System.StringComparison.OrdinalIgnoreCase);

    /// <summary>The same token at another place (a macro's replacement reported where the macro was used).</summary>
    public DefsToken At(DefsToken use) => this with { File = use.File, Start = use.Start, Length = use.Length, Line = use.Line, StartsLine = false, SpaceBefore = use.SpaceBefore };
}

/// <summary>
/// Splits a .defs file into tokens the way the C preprocessor MIG runs first sees them: comments are white space,
/// a backslash at the end of a line joins it to the next, and every token knows its logical line so that
/// directives (<c>#</c> first on a line) can be told apart.
/// </summary>
internal static class DefsLexer
{
    private static readonly string[] s_twoCharacter = { "&&", "||", "==", "!=", "<=", ">=", "<<", ">>" };

    public static List<DefsToken> Lex(DefsFile file, List<(LocationInfo Location, string Message)> errors)
    {
        var tokens = new List<DefsToken>();
        string s = file.Text.ToString();
        int i = 0;
        int line = 0;
        bool startsLine = true;
        bool space = true;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\n')
            {
                line++;
                startsLine = true;
                space = true;
                i++;
                continue;
            }
            if (c is ' ' or '\t' or '\r' or '\f' or '\v')
            {
                space = true;
                i++;
                continue;
            }
            if (c == '\\' && NextIsNewline(s, i + 1, out int after))
            {
                // A continued line: the logical line goes on.
                space = true;
                i = after;
                continue;
            }
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '*')
            {
                int end = s.IndexOf("*/", i + 2, System.StringComparison.Ordinal);
                if (end < 0)
                {
                    errors.Add((file.Location(i, 2), "unterminated comment"));
                    break;
                }
                space = true;
                i = end + 2;
                continue;
            }
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '/')
            {
                while (i < s.Length && s[i] != '\n')
                {
                    i++;
                }
                continue;
            }

            int start = i;
            DefsTokenKind kind;
            string text;
            if (IsIdentifierStart(c))
            {
                while (i < s.Length && IsIdentifierPart(s[i]))
                {
                    i++;
                }
                kind = DefsTokenKind.Identifier;
                text = s.Substring(start, i - start);
            }
            else if (c is >= '0' and <= '9')
            {
                while (i < s.Length && (IsIdentifierPart(s[i])))
                {
                    i++;
                }
                kind = DefsTokenKind.Number;
                text = s.Substring(start, i - start);
            }
            else if (c == '"')
            {
                int end = i + 1;
                while (end < s.Length && s[end] != '"' && s[end] != '\n')
                {
                    end++;
                }
                if (end >= s.Length || s[end] != '"')
                {
                    errors.Add((file.Location(start, 1), "unterminated string"));
                    i = end;
                    continue;
                }
                kind = DefsTokenKind.String;
                text = s.Substring(start + 1, end - start - 1);
                i = end + 1;
            }
            else
            {
                kind = DefsTokenKind.Punctuation;
                text = c.ToString();
                if (i + 1 < s.Length)
                {
                    string two = s.Substring(i, 2);
                    if (System.Array.IndexOf(s_twoCharacter, two) >= 0)
                    {
                        text = two;
                    }
                }
                i += text.Length;
            }
            tokens.Add(new DefsToken(kind, text, file, start, i - start, line, startsLine, space));
            startsLine = false;
            space = false;
        }
        tokens.Add(new DefsToken(DefsTokenKind.EndOfFile, string.Empty, file, s.Length, 0, line + 1, true, true));
        return tokens;
    }

    /// <summary>Parses a decimal, octal (leading 0) or hexadecimal (0x) integer, as C does; false when it is none.</summary>
    public static bool TryParseNumber(string text, out long value)
    {
        value = 0;
        string digits = text.TrimEnd('u', 'U', 'l', 'L');
        int radix = 10;
        int start = 0;
        if (digits.Length > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        {
            radix = 16;
            start = 2;
        }
        else if (digits.Length > 1 && digits[0] == '0')
        {
            radix = 8;
            start = 1;
        }
        if (start >= digits.Length && radix != 8)
        {
            return false;
        }
        for (int i = start; i < digits.Length; i++)
        {
            int d = digits[i] switch
            {
                >= '0' and <= '9' => digits[i] - '0',
                >= 'a' and <= 'f' => digits[i] - 'a' + 10,
                >= 'A' and <= 'F' => digits[i] - 'A' + 10,
                _ => 99,
            };
            if (d >= radix || value > (long.MaxValue - d) / radix)
            {
                return false;
            }
            value = (value * radix) + d;
        }
        return true;
    }

    private static bool NextIsNewline(string s, int i, out int after)
    {
        if (i < s.Length && s[i] == '\n')
        {
            after = i + 1;
            return true;
        }
        if (i + 1 < s.Length && s[i] == '\r' && s[i + 1] == '\n')
        {
            after = i + 2;
            return true;
        }
        after = i;
        return false;
    }

    private static bool IsIdentifierStart(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';

    private static bool IsIdentifierPart(char c) => IsIdentifierStart(c) || c is >= '0' and <= '9';
}
