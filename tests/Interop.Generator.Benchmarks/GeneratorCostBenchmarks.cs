using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace MachIpc.Generator.Benchmarks;

/// <summary>
/// Cost of the generator for 1,000 declared messages. Every iteration parses its sources afresh and starts from a new
/// compilation, so neither parsed trees nor bound state are reused between runs (a cached tree would hide the parse
/// cost the generator's output pays in a real build).
/// Baseline: compile (emit) the same final sources without the generator — the declarations plus the generated files
/// added as ordinary source, i.e. what a hand-written equivalent costs to compile.
/// CompileWithGenerator: the declarations compiled with the generator running (what a user's build does).
/// The other two rows put the numbers in context: the generator run alone (no emit), and the bare declarations.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class GeneratorCostBenchmarks
{
    private const int MessageCount = 1000;
    private ImmutableArray<(SourceText Text, string Path)> _declarations;
    private ImmutableArray<(SourceText Text, string Path)> _generated;
    private ImmutableArray<MetadataReference> _references;
    private static readonly CSharpParseOptions s_parseOptions = new(LanguageVersion.Latest);

    [GlobalSetup]
    public void Setup()
    {
        _references = CompileCost.References();

        // 100 files of 10 messages each, cycling through the representative shapes.
        var declarations = ImmutableArray.CreateBuilder<(SourceText, string)>();
        for (int file = 0; file < MessageCount / 10; file++)
        {
            var source = new StringBuilder("using MachIpc.Abi;\nusing MachIpc.Messages;\nnamespace Bench;\n");
            for (int j = 0; j < 10; j++)
            {
                int i = (file * 10) + j;
                source.Append(Declaration(i));
            }
            declarations.Add((SourceText.From(source.ToString(), Encoding.UTF8), $"Messages{file}.cs"));
        }
        _declarations = declarations.ToImmutable();

        // Sanity: the generated build is error-free. Its generated trees become the baseline's hand-written equivalent.
        Compilation output = Generate(NewCompilation(), out _);
        _generated = output.SyntaxTrees.Skip(_declarations.Length)
            .Select(t => (t.GetText(), t.FilePath))
            .ToImmutableArray();
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (errors.Length > 0)
        {
            throw new InvalidOperationException(string.Join("\n", errors.Take(5)));
        }
    }

    private static string Declaration(int i)
    {
        int id = 1000 + i;
        return (i % 5) switch
        {
            0 => $"[MachMessage({id}, Local = MachMsgType.MakeSendOnce)] public partial struct M{i} {{ public MachMsgHeader Header; public MachMsgBody Body; [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor TaskPort; }}\n",
            1 => $"[MachMessage({id}, Remote = MachMsgType.MoveSendOnce)] public partial struct M{i} {{ public MachMsgHeader Header; public MachMsgBody Body; [MachPort(MachMsgType.MoveReceive)] public MachMsgPortDescriptor R; [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor S; }}\n",
            2 => $"[MachMessage({id}, Layout = MachMessageLayout.Natural)] public partial struct M{i} {{ public MachMsgHeader Header; public MachMsgBody Body; [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor A; [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor B; public ulong Id; public uint W; public uint H; }}\n",
            3 => $"[MachMessage({id})] public partial struct M{i} {{ public MachMsgHeader Header; public MachMsgBody Body; [MachOol(MaxSize = 4096)] public MachMsgOolDescriptor Data; public int Flags; }}\n",
            _ => $"[MachMessage({id})] public partial struct M{i} {{ public MachMsgHeader Header; }}\n",
        };
    }

    private CSharpCompilation NewCompilation(bool withGeneratedSources = false) => CSharpCompilation.Create(
        "Bench",
        (withGeneratedSources ? _declarations.AddRange(_generated) : _declarations)
            .Select(s => CSharpSyntaxTree.ParseText(s.Text, s_parseOptions, s.Path)),
        _references,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, optimizationLevel: OptimizationLevel.Release));

    private static Compilation Generate(Compilation input, out ImmutableArray<Diagnostic> diagnostics)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new MachMessageGenerator().AsSourceGenerator() }, parseOptions: s_parseOptions);
        driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out diagnostics);
        return output;
    }

    [Benchmark(Baseline = true, Description = "Same final sources compiled without the generator")]
    public long CompileEquivalentSources() => CompileCost.EmitSize(NewCompilation(withGeneratedSources: true));

    [Benchmark(Description = "Declarations compiled with the generator")]
    public long CompileWithGenerator() => CompileCost.EmitSize(Generate(NewCompilation(), out _));

    [Benchmark(Description = "Generator run only (no emit)")]
    public int RunGeneratorOnly() => Generate(NewCompilation(), out _).SyntaxTrees.Count();

    [Benchmark(Description = "Bare declarations, no generator, no generated code")]
    public long CompileDeclarationsOnly() => CompileCost.EmitSize(NewCompilation());
}
