using System;
using System.IO;
using System.Linq;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>The [MachServer] dispatch generator: its output, its diagnostics and its incrementality.</summary>
public class ServerGeneratorTests
{
    private const string Usings = "using MachIpc.Abi;\nusing MachIpc.Messages;\nusing MachIpc.Server;\nnamespace Demo;\n";

    private const string Messages =
        "[MachMessage(1000, Local = MachMsgType.MakeSendOnce)] public partial struct A { public MachMsgHeader Header; public int V; }\n" +
        "[MachMessage(1001, Local = MachMsgType.MakeSendOnce)] public partial struct B { public MachMsgHeader Header; public long V; }\n";

    private static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            new[] { new MachMessageGenerator().AsSourceGenerator(), new MachServerGenerator().AsSourceGenerator() },
            parseOptions: GeneratorHarness.ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    private static (GeneratorDriverRunResult Run, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(params string[] sources) =>
        Run(GeneratorHarness.CreateCompilation(sources));

    private static (GeneratorDriverRunResult Run, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(CSharpCompilation compilation)
    {
        GeneratorDriver driver = CreateDriver().RunGeneratorsAndUpdateCompilation(
            compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return (driver.GetRunResult(), output, diagnostics);
    }

    [Fact]
    public void DispatchMatchesBaseline_AndCompiles()
    {
        var (run, output, diagnostics) = Run(GeneratorHarness.MessageSource("EchoServer.cs"));
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        GeneratedSourceResult dispatch = run.Results.SelectMany(r => r.GeneratedSources).Single(s => s.HintName.EndsWith(".Dispatch.g.cs", StringComparison.Ordinal));
        string baselinePath = Path.Combine(GeneratorHarness.ProjectDirectory(), "Snapshots", Path.GetFileNameWithoutExtension(dispatch.HintName) + ".cs.txt");
        string actual = dispatch.SourceText.ToString();
        if (Environment.GetEnvironmentVariable("MACHIPC_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(baselinePath, actual);
        }
        Assert.True(File.Exists(baselinePath), $"Missing baseline {baselinePath}; run with MACHIPC_UPDATE_SNAPSHOTS=1.");
        Assert.Equal(File.ReadAllText(baselinePath), actual);
        // Cases are ordered by id, and only real handlers are dispatched.
        Assert.True(actual.IndexOf("EchoRequest.MsgId", StringComparison.Ordinal) < actual.IndexOf("PortRequest.MsgId", StringComparison.Ordinal));
        Assert.DoesNotContain("Helper(", actual);
    }

    private static Diagnostic Single(string source, string id, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        var (_, _, diagnostics) = Run(Usings + Messages + source);
        Diagnostic[] matching = diagnostics.Where(d => d.Id == id).ToArray();
        Assert.True(matching.Length == 1, $"expected one {id}, got: {string.Join("; ", diagnostics)}");
        Assert.Equal(severity, matching[0].Severity);
        return matching[0];
    }

    private static string SpanText(Diagnostic d, string source)
    {
        string full = Usings + Messages + source;
        return full.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);
    }

    [Fact]
    public void MACHIPC020_ServerNotPartial()
    {
        const string source = "[MachServer] public class S { void H(MachReceived<A> m) { } }";
        Diagnostic d = Single(source, "MACHIPC020");
        Assert.Equal("S", SpanText(d, source));
        Assert.Equal("'S' is marked [MachServer] but is not declared 'partial'; the generator adds its dispatch to a partial part", d.GetMessage());
    }

    [Fact]
    public void MACHIPC021_HandlerTakesANonMessage()
    {
        const string source = "public struct NotAMessage { public int X; }\n[MachServer] public partial class S { void H(MachReceived<NotAMessage> m) { } }";
        Diagnostic d = Single(source, "MACHIPC021");
        Assert.Equal("H", SpanText(d, source));
        Assert.Equal("Handler 'H' takes MachReceived<Demo.NotAMessage>, but 'Demo.NotAMessage' is not a [MachMessage] struct", d.GetMessage());
    }

    [Fact]
    public void MACHIPC022_TwoHandlersForOneMessage()
    {
        const string source = "[MachServer] public partial class S { void First(MachReceived<A> m) { } void Second(MachReceived<A> m) { } }";
        Diagnostic d = Single(source, "MACHIPC022");
        Assert.Equal("Second", SpanText(d, source));
        Assert.Equal("Handler 'Second' handles 'Demo.A', which 'First' already handles", d.GetMessage());
        Assert.DoesNotContain(Run(Usings + Messages + source).Diagnostics, x => x.Id == "MACHIPC006");
    }

    [Fact]
    public void MACHIPC006_TwoMessagesWithOneIdInOneServer()
    {
        const string source =
            "[MachMessage(1000, Local = MachMsgType.MakeSendOnce)] public partial struct OtherA { public MachMsgHeader Header; public short V; }\n" +
            "[MachServer] public partial class S { void OnA(MachReceived<A> m) { } void OnOther(MachReceived<OtherA> m) { } }";
        Diagnostic d = Single(source, "MACHIPC006");
        Assert.Equal("OnOther", SpanText(d, source));
        Assert.Equal("Handler 'OnOther' takes 'Demo.OtherA', whose msgh_id 1000 is also the id of 'Demo.A' handled by 'OnA'; the server could not tell them apart, give one of them another id", d.GetMessage());
        Assert.DoesNotContain(Run(Usings + Messages + source).Diagnostics, x => x.Id == "MACHIPC022");
    }

    [Fact]
    public void MACHIPC006_OneIdInTwoServers_IsFine_AndEachDispatcherWorks()
    {
        // Ladybird reuses ids across protocols in one binary: only one dispatcher seeing both is ambiguous.
        const string source =
            "[MachMessage(1000, Local = MachMsgType.MakeSendOnce)] public partial struct OtherA { public MachMsgHeader Header; public short V; }\n" +
            "[MachServer] public partial class S1 { void OnA(MachReceived<A> m) { } }\n" +
            "[MachServer] public partial class S2 { void OnOther(MachReceived<OtherA> m) { } }";
        var (_, output, diagnostics) = Run(Usings + Messages + source);
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(x => x.Severity >= DiagnosticSeverity.Warning));
    }

    [Theory]
    [InlineData("int H(MachReceived<A> m) => 0;", "must return void (it returns 'int')")]
    [InlineData("void H(MachReceived<A> m, int extra) { }", "must take exactly one parameter, the MachReceived<T> (it takes 2)")]
    [InlineData("static void H(MachReceived<A> m) { }", "must be an instance method (it is static)")]
    [InlineData("void H<T>(MachReceived<A> m) { }", "must not be generic (the server calls it for one message type)")]
    [InlineData("void H(scoped in MachReceived<A> m) { }", "must take its MachReceived<T> by value (it is passed 'in')")]
    [InlineData("static int H(ref MachReceived<A> m) => 0;",
        "must return void (it returns 'int'); must take its MachReceived<T> by value (it is passed 'ref'); must be an instance method (it is static)")]
    public void MACHIPC023_InvalidHandlerSignature_NamesEveryBrokenRule(string handler, string rules)
    {
        string source = "[MachServer] public partial class S { " + handler + " }";
        Diagnostic d = Single(source, "MACHIPC023");
        Assert.Equal("H", SpanText(d, source));
        Assert.Equal("Handler 'H' " + rules, d.GetMessage());
    }

    [Theory]
    [InlineData("void OnA(A m) { }")]
    [InlineData("public void OnA(in A m) { }")]
    public void MACHIPC026_HandlerTakingTheMessageItself_IsAWarning_AndTheServerStillBuilds(string method)
    {
        string source = "[MachServer] public partial class S { " + method + " void OnB(MachReceived<B> m) { } }";
        Diagnostic d = Single(source, "MACHIPC026", DiagnosticSeverity.Warning);
        Assert.Equal("OnA", SpanText(d, source));
        Assert.Equal("'OnA' takes 'Demo.A' itself, so it is not a handler and the server answers msgh_id 1000 with MIG_BAD_ID; take MachReceived<Demo.A> instead", d.GetMessage());
        var (_, output, _) = Run(Usings + Messages + source);
        Assert.Empty(output.GetDiagnostics().Where(x => x.Severity == DiagnosticSeverity.Error));
    }

    [Theory]
    [InlineData("static void Fill(A m) { }")]
    [InlineData("void Fill(ref A m) { }")]
    [InlineData("int Count(A m) => 0;")]
    [InlineData("void Two(A m, int x) { }")]
    public void MACHIPC026_LeavesHelpersAlone(string method)
    {
        string source = "[MachServer] public partial class S { " + method + " void OnB(MachReceived<B> m) { } }";
        var (_, _, diagnostics) = Run(Usings + Messages + source);
        Assert.Empty(diagnostics);
    }

    [Fact]
    public void MACHIPC009_ServerWithoutAllowUnsafeBlocks_GetsTheDiagnostic_NotCS0227InAGeneratedFile()
    {
        const string source = "[MachServer] public partial class S { void OnA(MachReceived<A> m) { } }";
        var (run, output, diagnostics) = Run(GeneratorHarness.CreateCompilation(new[] { Usings + Messages + source }, allowUnsafe: false));
        // The messages A and B get their own MACHIPC009; the server gets one at its name.
        Assert.All(diagnostics, x => Assert.Equal("MACHIPC009", x.Id));
        Diagnostic d = Assert.Single(diagnostics, x => SpanText(x, source) == "S");
        Assert.Equal("'S' cannot be generated: the project must set <AllowUnsafeBlocks>true</AllowUnsafeBlocks> (the generated code passes message pointers to mach_msg)", d.GetMessage());
        Assert.Empty(run.Results.SelectMany(r => r.GeneratedSources));
        Assert.DoesNotContain(output.GetDiagnostics(), x => x.Id == "CS0227");
    }

    [Fact]
    public void MACHIPC024_NoHandlers_IsAWarning_AndStillImplementsTheDispatcher()
    {
        const string source = "[MachServer] public partial class S { void NotAHandler(int x) { } }";
        Diagnostic d = Single(source, "MACHIPC024", DiagnosticSeverity.Warning);
        Assert.Equal("S", SpanText(d, source));
        var (_, output, _) = Run(Usings + Messages + source);
        Assert.Empty(output.GetDiagnostics().Where(x => x.Severity == DiagnosticSeverity.Error));
        Assert.Contains(output.GetTypeByMetadataName("Demo.S")!.AllInterfaces, i => i.Name == "IMachDispatcher");
    }

    [Fact]
    public void Diagnostics_PointIntoTheSourceTree_SoPragmasAndEditorsSeeThem()
    {
        // The model keeps only a file path and span; the reporting step maps them back onto the compilation's
        // tree, which is what lets the compiler apply #pragma warning disable and editors place squiggles.
        const string source = "[MachServer] public partial class S { void NotAHandler(int x) { } }";
        var compilation = GeneratorHarness.CreateCompilation(new[] { Usings + Messages + source });
        CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out _, out var diagnostics);
        Diagnostic d = diagnostics.Single(x => x.Id == "MACHIPC024");
        Assert.True(d.Location.IsInSource);
        Assert.Same(compilation.SyntaxTrees.Single(), d.Location.SourceTree);
    }

    [Theory]
    [InlineData("public partial class Outer { [MachServer] public partial class S { void H(MachReceived<A> m) { } } }")]
    [InlineData("[MachServer] public partial class S<T> { void H(MachReceived<A> m) { } }")]
    public void MACHIPC025_NestedOrGenericServer(string source)
    {
        Diagnostic d = Single(source, "MACHIPC025");
        Assert.Equal("S", SpanText(d, source));
    }

    [Fact]
    public void UnrelatedEdit_LeavesEveryServerStepCachedOrUnchanged()
    {
        string server = GeneratorHarness.MessageSource("EchoServer.cs");
        GeneratorDriver driver = CreateDriver(trackSteps: true);
        driver = driver.RunGenerators(GeneratorHarness.CreateCompilation(new[] { server, "namespace Other { class X { } }" }));
        driver = driver.RunGenerators(GeneratorHarness.CreateCompilation(new[] { server, "namespace Other { class X { int Y; } }" }));
        GeneratorRunResult result = driver.GetRunResult().Results.Single(r => r.Generator.GetGeneratorType() == typeof(MachServerGenerator));
        foreach (string step in new[] { MachServerGenerator.Steps.Parse, MachServerGenerator.Steps.Models, MachServerGenerator.Steps.Diagnostics })
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} did not run");
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object _, IncrementalStepRunReason reason) in run.Outputs)
                {
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
                }
            }
        }
    }

    [Fact]
    public void ServerModel_IsSymbolFree_AndValueEqualAcrossRuns()
    {
        string server = GeneratorHarness.MessageSource("EchoServer.cs");
        object[] Models() => CreateDriver(trackSteps: true).RunGenerators(GeneratorHarness.CreateCompilation(new[] { server })).GetRunResult()
            .Results.Single(r => r.Generator.GetGeneratorType() == typeof(MachServerGenerator))
            .TrackedSteps[MachServerGenerator.Steps.Models].SelectMany(s => s.Outputs).Select(o => o.Value).ToArray();
        object[] first = Models(), second = Models();
        Assert.Single(first);
        Assert.Equal(first, second);
        Assert.NotSame(first[0], second[0]);
        var model = (Model.ServerModel)first[0];
        Assert.Equal(new[] { 4800, 4801 }, model.Handlers.Select(h => h.Id).ToArray());
        Assert.All(model.GetType().GetProperties().Select(p => p.PropertyType).Concat(typeof(Model.HandlerModel).GetProperties().Select(p => p.PropertyType)),
            t => Assert.False(typeof(ISymbol).IsAssignableFrom(t) || typeof(SyntaxNode).IsAssignableFrom(t) || typeof(Location).IsAssignableFrom(t) || typeof(Compilation).IsAssignableFrom(t)));
    }
}
