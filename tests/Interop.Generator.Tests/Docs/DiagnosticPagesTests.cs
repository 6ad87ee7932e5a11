using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MachIpc.Tests.Shared;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace MachIpc.Generator.Tests.Docs;

/// <summary>
/// Every diagnostic id the generator assembly and the package's MSBuild files can report has a help link to its page,
/// docs/diagnostics/&lt;id&gt;.md, and the page's examples are honest: the wrong one reports the id, the right one
/// reports nothing. Descriptors are found by reflection, so a new id fails here until its page exists.
/// </summary>
public class DiagnosticPagesTests
{
    private static readonly string s_repoRoot = Path.GetFullPath(Path.Combine(GeneratorHarness.ProjectDirectory(), "..", ".."));
    private static readonly string s_pages = Path.Combine(s_repoRoot, "docs", "diagnostics");
    private static readonly Assembly s_generator = typeof(MachMessageGenerator).Assembly;

    /// <summary>RepositoryUrl as Directory.Build.props declares it: the help links are built from it.</summary>
    private static string RepositoryUrl() =>
        XDocument.Load(Path.Combine(s_repoRoot, "Directory.Build.props")).Descendants("RepositoryUrl").Single().Value.TrimEnd('/');

    private static string ExpectedHelpLink(string id) => RepositoryUrl() + "/blob/main/docs/diagnostics/" + id + ".md";

    /// <summary>Every descriptor of the generator assembly: static fields of any type, and every analyzer's supported ones.</summary>
    private static IReadOnlyList<DiagnosticDescriptor> Descriptors()
    {
        var found = new Dictionary<string, DiagnosticDescriptor>(StringComparer.Ordinal);
        foreach (Type type in s_generator.GetTypes())
        {
            foreach (FieldInfo field in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            {
                if (field.FieldType == typeof(DiagnosticDescriptor) && field.GetValue(null) is DiagnosticDescriptor d)
                {
                    found[d.Id] = d;
                }
            }
        }
        foreach (DiagnosticAnalyzer analyzer in Analyzers())
        {
            foreach (DiagnosticDescriptor d in analyzer.SupportedDiagnostics)
            {
                found[d.Id] = d;
            }
        }
        return found.Values.OrderBy(d => d.Id, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The codes of the package's MSBuild errors, with the help link each declares.</summary>
    private static IReadOnlyList<(string Code, string? HelpLink, string File)> MsBuildErrors() =>
        Directory.EnumerateFiles(Path.Combine(s_repoRoot, "src", "MachIpc"), "*.targets", SearchOption.AllDirectories)
            .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                        && !f.Contains(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .SelectMany(f => XDocument.Load(f).Descendants().Where(e => e.Name.LocalName == "Error")
                .Select(e => (Code: (string?)e.Attribute("Code"), HelpLink: (string?)e.Attribute("HelpLink"), File: f)))
            .Where(e => e.Code is not null && e.Code.StartsWith("MACHIPC", StringComparison.Ordinal))
            .Select(e => (e.Code!, e.HelpLink, e.File))
            .ToArray();

    private static IEnumerable<DiagnosticAnalyzer> Analyzers() =>
        s_generator.GetTypes().Where(t => typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!);

    private static IEnumerable<ISourceGenerator> Generators() =>
        s_generator.GetTypes().Where(t => typeof(IIncrementalGenerator).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(t => ((IIncrementalGenerator)Activator.CreateInstance(t)!).AsSourceGenerator());

    public static TheoryData<string> CompilerIds() => new(Descriptors().Select(d => d.Id));

    [Fact]
    public void TheDescriptorsAreFound()
    {
        // Guards the enumeration itself: if reflection found nothing, every theory below would pass vacuously.
        IReadOnlyList<DiagnosticDescriptor> all = Descriptors();
        Assert.Contains(all, d => d.Id == "MACHIPC001");
        Assert.Contains(all, d => d.Id == "MACHIPC027");
        Assert.True(all.Count >= 24, string.Join(", ", all.Select(d => d.Id)));
        Assert.Contains(MsBuildErrors(), e => e.Code == "MACHIPC100");
    }

    [Theory]
    [MemberData(nameof(CompilerIds))]
    public void Descriptor_HasAHelpLinkToItsPage(string id)
    {
        DiagnosticDescriptor d = Descriptors().Single(x => x.Id == id);
        Assert.Equal(ExpectedHelpLink(id), d.HelpLinkUri);
        Assert.True(File.Exists(Path.Combine(s_pages, id + ".md")), $"{id} has no page docs/diagnostics/{id}.md");
    }

    [Fact]
    public void MsBuildErrors_HaveAHelpLinkToTheirPage()
    {
        foreach ((string code, string? helpLink, string file) in MsBuildErrors())
        {
            Assert.True(helpLink == ExpectedHelpLink(code), $"{file}: the Error {code} must declare HelpLink=\"{ExpectedHelpLink(code)}\", not '{helpLink}'");
            Assert.True(File.Exists(Path.Combine(s_pages, code + ".md")), $"{code} has no page docs/diagnostics/{code}.md");
        }
    }

    [Fact]
    public void EveryPage_IsForAnIdThatExists_AndTheIndexListsIt()
    {
        var ids = Descriptors().Select(d => d.Id).Concat(MsBuildErrors().Select(e => e.Code)).ToHashSet(StringComparer.Ordinal);
        string index = File.ReadAllText(Path.Combine(s_pages, "README.md"));
        foreach (string page in Directory.EnumerateFiles(s_pages, "MACHIPC*.md"))
        {
            string id = Path.GetFileNameWithoutExtension(page);
            Assert.True(ids.Contains(id), $"{page} documents {id}, which nothing reports any more");
            Assert.StartsWith($"# {id}: ", File.ReadAllText(page), StringComparison.Ordinal);
            Assert.Contains($"[{id}]({id}.md)", index, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(CompilerIds))]
    public void Page_WrongExampleReportsTheId_RightExampleReportsNothing(string id)
    {
        string path = Path.Combine(s_pages, id + ".md");
        Assert.True(File.Exists(path), $"{id} has no page docs/diagnostics/{id}.md");
        IReadOnlyList<MarkdownCodeBlock> blocks = MarkdownCodeBlocks.Read(File.ReadAllText(path));
        DiagnosticDescriptor descriptor = Descriptors().Single(d => d.Id == id);
        Assert.StartsWith($"# {id}: {descriptor.Title}", File.ReadAllText(path), StringComparison.Ordinal);

        ImmutableArray<Diagnostic> wrong = Compile(blocks, "Wrong", out string wrongCode);
        Diagnostic[] reported = wrong.Where(d => d.Id == id).ToArray();
        Assert.True(reported.Length > 0, $"{id}.md: the wrong example does not report {id}; it reports: {Describe(wrong)}\n{wrongCode}");
        Assert.All(reported, d => Assert.True(d.Location.IsInSource, $"{id} reported without a source location"));

        ImmutableArray<Diagnostic> right = Compile(blocks, "Right", out string rightCode);
        Assert.True(right.IsEmpty, $"{id}.md: the right example reports: {Describe(right)}\n{rightCode}");
    }

    [Fact]
    public void MACHIPC100_PageExamples_DifferOnlyInAllowUnsafeBlocks()
    {
        IReadOnlyList<MarkdownCodeBlock> blocks = MarkdownCodeBlocks.Read(File.ReadAllText(Path.Combine(s_pages, "MACHIPC100.md")));
        XDocument wrong = XDocument.Parse(blocks.Single(b => b.Section == "Wrong" && b.Language == "xml").Code);
        XDocument right = XDocument.Parse(blocks.Single(b => b.Section == "Right" && b.Language == "xml").Code);
        Assert.Empty(wrong.Descendants("AllowUnsafeBlocks"));
        Assert.Equal("true", right.Descendants("AllowUnsafeBlocks").Single().Value);
        right.Descendants("AllowUnsafeBlocks").Single().Remove();
        Assert.Equal(wrong.ToString(), right.ToString());
    }

    /// <summary>
    /// Compiles a section's C# block with every generator and analyzer, as a build would, and returns everything
    /// reported: generator and analyzer diagnostics, and compiler warnings and errors (also in generated code). A
    /// section's xml block may set AllowUnsafeBlocks; it is on otherwise, as the package requires.
    /// </summary>
    private static ImmutableArray<Diagnostic> Compile(IReadOnlyList<MarkdownCodeBlock> blocks, string section, out string code)
    {
        MarkdownCodeBlock csharp = Assert.Single(blocks, b => b.Section == section && b.Language == "csharp");
        code = csharp.Code;
        bool allowUnsafe = true;
        foreach (MarkdownCodeBlock xml in blocks.Where(b => b.Section == section && b.Language == "xml"))
        {
            Match m = Regex.Match(xml.Code, "<AllowUnsafeBlocks>(true|false)</AllowUnsafeBlocks>");
            if (m.Success)
            {
                allowUnsafe = m.Groups[1].Value == "true";
            }
        }
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(new[] { code }, allowUnsafe);
        CSharpGeneratorDriver.Create(Generators(), parseOptions: GeneratorHarness.ParseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        ImmutableArray<Diagnostic> analyzerDiagnostics = output.WithAnalyzers(Analyzers().ToImmutableArray())
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return generatorDiagnostics.AddRange(analyzerDiagnostics)
            .AddRange(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    private static string Describe(ImmutableArray<Diagnostic> diagnostics) =>
        diagnostics.IsEmpty ? "nothing" : string.Join("; ", diagnostics.Select(d => d.ToString()));
}
