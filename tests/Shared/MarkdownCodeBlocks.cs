using System;
using System.Collections.Generic;

namespace MachIpc.Tests.Shared;

/// <summary>A fenced code block of a Markdown file: its info string, text, first line and the heading above it.</summary>
internal sealed record MarkdownCodeBlock(string Language, string Code, int Line, string Section);

/// <summary>
/// Reads the fenced code blocks out of Markdown, so tests can compile what the documentation shows (README quick
/// starts, diagnostic pages) and the docs cannot drift from the code.
/// </summary>
internal static class MarkdownCodeBlocks
{
    public static IReadOnlyList<MarkdownCodeBlock> Read(string markdown)
    {
        var blocks = new List<MarkdownCodeBlock>();
        string[] lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        string section = "";
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith('#'))
            {
                section = line.TrimStart('#').Trim();
                continue;
            }
            if (!line.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }
            string language = line[3..].Trim();
            int start = i + 1;
            int end = start;
            while (end < lines.Length && !lines[end].StartsWith("```", StringComparison.Ordinal))
            {
                end++;
            }
            if (end == lines.Length)
            {
                throw new FormatException($"Code block opened at line {i + 1} is never closed.");
            }
            blocks.Add(new MarkdownCodeBlock(language, string.Join("\n", lines, start, end - start) + "\n", start + 1, section));
            i = end;
        }
        return blocks;
    }
}
