using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

using MachIpc.Tests.Shared;

namespace MachIpc.Generator.Benchmarks;

/// <summary>
/// Cost of the MIG path for 8 interfaces (mach_exc, exc, notify and the tests' shapes.defs, twice over in two
/// namespaces: 38 routines, 64 messages). Every iteration starts from new additional texts and a new compilation.
/// Baseline: the same final C# (the generator's output added as ordinary sources) compiled without the generator.
/// </summary>
[MemoryDiagnoser]
public class MigGeneratorCostBenchmarks
{
    private const int Copies = 2;
    private static readonly CSharpParseOptions s_parseOptions = new(LanguageVersion.Latest);
    private ImmutableArray<(string Path, string Text, string Namespace)> _defs;
    private ImmutableArray<(SourceText Text, string Path)> _generated;
    private ImmutableArray<MetadataReference> _references;

    [GlobalSetup]
    public void Setup()
    {
        _references = CompileCost.References();

        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "MachIpc.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("MachIpc.sln not found above " + AppContext.BaseDirectory);
        }
        string tests = Path.Combine(root, "tests", "Interop.Generator.Tests", "Mig", "Defs");
        string[] files =
        {
            Path.Combine(root, "samples", "MachExceptionServer", "mach_exc.defs"),
            Path.Combine(tests, "exc.defs"), Path.Combine(tests, "notify.defs"), Path.Combine(tests, "shapes.defs"),
        };
        var defs = ImmutableArray.CreateBuilder<(string, string, string)>();
        for (int copy = 0; copy < Copies; copy++)
        {
            foreach (string file in files)
            {
                defs.Add(($"/bench/{copy}/{Path.GetFileName(file)}", File.ReadAllText(file), $"Bench{copy}"));
            }
        }
        _defs = defs.ToImmutable();

        Compilation output = Generate(NewCompilation(), out ImmutableArray<Diagnostic> diagnostics);
        if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error) || output.GetDiagnostics().Any(d => d.Severity == DiagnosticSeverity.Error))
        {
            throw new InvalidOperationException(string.Join("\n", diagnostics.Concat(output.GetDiagnostics()).Where(d => d.Severity == DiagnosticSeverity.Error).Take(5)));
        }
        _generated = output.SyntaxTrees.Select(t => (t.GetText(), t.FilePath)).ToImmutableArray();
    }

    private CSharpCompilation NewCompilation(bool withGeneratedSources = false) => CSharpCompilation.Create(
        "Bench",
        withGeneratedSources ? _generated.Select(s => CSharpSyntaxTree.ParseText(s.Text, s_parseOptions, s.Path)) : Array.Empty<SyntaxTree>(),
        _references,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, optimizationLevel: OptimizationLevel.Release));

    private Compilation Generate(Compilation input, out ImmutableArray<Diagnostic> diagnostics)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new MachInterfaceGenerator().AsSourceGenerator() },
            _defs.Select(d => (AdditionalText)new InMemoryDefs(d.Path, d.Text)),
            s_parseOptions,
            new MachInterfaceOptions(_defs.Select(d => (d.Path, string.Empty, d.Namespace))));
        driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out diagnostics);
        return output;
    }

    [Benchmark(Baseline = true, Description = "Same final sources compiled without the generator")]
    public long CompileEquivalentSources() => CompileCost.EmitSize(NewCompilation(withGeneratedSources: true));

    [Benchmark(Description = "The .defs files compiled with the generator")]
    public long CompileWithGenerator() => CompileCost.EmitSize(Generate(NewCompilation(), out _));

    [Benchmark(Description = "Generator run only (read .defs, emit C#; no compile)")]
    public int RunGeneratorOnly() => Generate(NewCompilation(), out _).SyntaxTrees.Count();
}
