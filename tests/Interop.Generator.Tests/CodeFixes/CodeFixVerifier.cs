using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace MachIpc.Generator.Tests.CodeFixes;

/// <summary>
/// Stands in for the IDE in code-fix tests: runs the MachIpc generators over the compilation and reports their
/// diagnostics (as Roslyn's IDE surfaces generator diagnostics), so the testing framework can offer the fixes.
/// </summary>
// A test double, never loaded by a compiler: the rules for shipped compiler extensions do not apply.
#pragma warning disable RS1036, RS1038, RS1041
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class GeneratorDiagnosticsAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = MachDiagnostics.All.ToImmutableArray();

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationAction(c =>
        {
            var parseOptions = (CSharpParseOptions)c.Compilation.SyntaxTrees.First().Options;
            CSharpGeneratorDriver.Create(
                    new[] { new MachMessageGenerator().AsSourceGenerator(), new MachServerGenerator().AsSourceGenerator() },
                    parseOptions: parseOptions)
                .RunGeneratorsAndUpdateCompilation(c.Compilation, out _, out ImmutableArray<Diagnostic> diagnostics, c.CancellationToken);
            foreach (Diagnostic d in diagnostics)
            {
                c.ReportDiagnostic(d);
            }
        });
    }
}

#pragma warning restore RS1036, RS1038, RS1041

/// <summary>The Roslyn code-fix test harness, set up with the framework and MachIpc references of this test run.</summary>
public sealed class MachCodeFixTest<TCodeFix> : CSharpCodeFixTest<GeneratorDiagnosticsAnalyzer, TCodeFix, DefaultVerifier>
    where TCodeFix : CodeFixProvider, new()
{
    private static readonly ImmutableArray<MetadataReference> s_references =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(MachIpc.Abi.MachMsgHeader).Assembly.Location))
            .ToImmutableArray();

    public MachCodeFixTest(bool allowUnsafe = true)
    {
        // No reference-assembly package download: the running framework's assemblies are the references.
        ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        // Generator diagnostics come from one compilation-wide run (as in the IDE), so they are not "local" to a tree.
        CodeFixTestBehaviors |= CodeFixTestBehaviors.SkipLocalDiagnosticCheck;
        TestState.AdditionalReferences.AddRange(s_references);
        SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!;
            return solution.WithProjectCompilationOptions(projectId, options.WithAllowUnsafe(allowUnsafe));
        });
    }

    public static async Task VerifyAsync(string source, string fixedSource, params DiagnosticResult[] expected)
    {
        var test = new MachCodeFixTest<TCodeFix> { TestCode = source, FixedCode = fixedSource };
        test.ExpectedDiagnostics.AddRange(expected);
        await test.RunAsync();
    }

    public static DiagnosticResult Diagnostic(string id) => new DiagnosticResult(MachDiagnostics.ById(id));
}
