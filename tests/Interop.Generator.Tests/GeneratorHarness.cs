using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using MachIpc.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MachIpc.Generator.Tests;

/// <summary>Runs the generator with CSharpGeneratorDriver over a compilation referencing the framework's reference assemblies and MachIpc.dll.</summary>
internal static class GeneratorHarness
{
    // The framework's reference assemblies this project is compiled with (written by the WriteCompileReferences target),
    // not the runtime's implementation assemblies: a user's compiler sees the former.
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    {
        var references = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "compile-references.txt"))
            .Where(p => p.Contains("Microsoft.NETCore.App.Ref", StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
        references.Add(MetadataReference.CreateFromFile(typeof(MachIpc.Abi.MachMsgHeader).Assembly.Location));
        return references.ToImmutableArray();
    });

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    // Baselines, message sources and the C oracle live next to the project. The path comes from the build
    // (not [CallerFilePath], which ContinuousIntegrationBuild maps to "/_/").
    public static string ProjectDirectory() =>
        typeof(GeneratorHarness).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ProjectDirectory").Value!;

    public static CSharpCompilation CreateCompilation(IEnumerable<string> sources, bool allowUnsafe = true) =>
        CSharpCompilation.Create(
            "GeneratorInput",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Input{i}.cs")),
            s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: allowUnsafe, nullableContextOptions: NullableContextOptions.Enable));

    public static CSharpGeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            new[] { new MachMessageGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    public sealed record Result(GeneratorDriverRunResult Run, Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics)
    {
        public IEnumerable<Diagnostic> CompilerErrors => Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning);
    }

    public static Result Run(params string[] sources) => Run(CreateCompilation(sources));

    public static Result Run(CSharpCompilation compilation)
    {
        GeneratorDriver driver = CreateDriver();
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new Result(driver.GetRunResult(), output, diagnostics);
    }

    public static string MessageSource(string fileName) => File.ReadAllText(Path.Combine(ProjectDirectory(), "Messages", fileName));
}
