using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// Generated source for representative messages, compared exactly with baselines under Snapshots/.
/// Set MACHIPC_UPDATE_SNAPSHOTS=1 to rewrite the baselines.
/// </summary>
public class SnapshotTests
{
    public static TheoryData<string> Messages => new()
    {
        "TaskPortCheckIn.cs", // (a) COPY_SEND task port + MAKE_SEND_ONCE reply port
        "PortPairReply.cs",   // (b) MOVE_RECEIVE + MAKE_SEND
        "SurfacePorts.cs",    // (c) two ports + u64 + 2×u32, Pack4 and Natural
        "OolData.cs",         // (d) OOL data (and OOL ports)
        "Ping.cs",            // (e) header only
        "VarText.cs",         // variable length
        "Mixed.cs",           // enums, nested structs, fixed buffers in both packings
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void GeneratedSourceMatchesBaseline(string file)
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.MessageSource(file));

        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilerErrors);
        GeneratedSourceResult[] sources = result.Run.Results.Single().GeneratedSources.OrderBy(s => s.HintName, StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(sources);

        GeneratorHarness.AssertMatchesBaselines(Path.Combine(GeneratorHarness.ProjectDirectory(), "Snapshots"), sources);
    }
}

/// <summary>The generated code compiles cleanly in consumer configurations the snapshots do not cover.</summary>
public class ConsumerConfigurationTests
{
    private static readonly string[] s_all =
    {
        "TaskPortCheckIn.cs", "PortPairReply.cs", "SurfacePorts.cs", "OolData.cs", "Ping.cs", "VarText.cs", "Mixed.cs",
    };

    [Fact]
    public void CompilesWithDisableRuntimeMarshalling()
    {
        string[] sources = s_all.Select(GeneratorHarness.MessageSource)
            .Append("[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]").ToArray();
        GeneratorHarness.Result result = GeneratorHarness.Run(sources);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilerErrors);
    }

    [Fact]
    public void GeneratedPublicMembersAreDocumented()
    {
        // With documentation diagnostics on (GenerateDocumentationFile), CS1591 must not fire inside generated files.
        CSharpParseOptions options = GeneratorHarness.ParseOptions.WithDocumentationMode(DocumentationMode.Diagnose);
        var compilation = CSharpCompilation.Create("Docs",
            s_all.Select((f, i) => CSharpSyntaxTree.ParseText(GeneratorHarness.MessageSource(f), options, $"Input{i}.cs")),
            GeneratorHarness.CreateCompilation(Array.Empty<string>()).References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new MachMessageGenerator().AsSourceGenerator() }, parseOptions: options);
        driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        Diagnostic[] inGenerated = output.GetDiagnostics()
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true)
            .ToArray();
        Assert.Empty(inGenerated);
        Assert.Contains(output.GetDiagnostics(), d => d.Id == "CS1591"); // the hand-written declarations are undocumented: the check is live
    }
}
