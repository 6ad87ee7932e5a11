using System.Collections.Immutable;
using System.Linq;
using MachIpc.Generator.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>MACHIPC027: the analyzer runs over the compilation with the generated Send/SendReceive in it, as in a build.</summary>
public class SendWithoutPrepareTests
{
    private const string Prefix =
        "using System;\nusing MachIpc.Abi;\nusing MachIpc.Client;\nusing MachIpc.Messages;\nnamespace Demo;\n" +
        "[MachMessage(1000, Local = MachMsgType.MakeSendOnce)] public partial struct A { public MachMsgHeader Header; public int V; }\n" +
        "[MachMessage(1100, Remote = MachMsgType.MoveSendOnce)] public partial struct B { public MachMsgHeader Header; public int V; }\n" +
        "public static class C {\n";

    private static ImmutableArray<Diagnostic> Analyze(string body, out string source)
    {
        source = Prefix + body + "\n}\n";
        Compilation compilation = GeneratorHarness.CreateCompilation(new[] { source });
        CSharpGeneratorDriverFor(compilation).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        return output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new SendWithoutPrepareAnalyzer()))
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
    }

    private static GeneratorDriver CSharpGeneratorDriverFor(Compilation compilation) =>
        Microsoft.CodeAnalysis.CSharp.CSharpGeneratorDriver.Create(
            new[] { new MachMessageGenerator().AsSourceGenerator() }, parseOptions: GeneratorHarness.ParseOptions);

    [Theory]
    [InlineData("static void M(uint port) { var m = new A { V = 1 }; m.Send(); }", "m.Send()", "Send()")]
    [InlineData("static void M(uint port) { A m = default; m.V = 2; Span<byte> b = stackalloc byte[256]; m.SendReceive<B>(b); }", "m.SendReceive<B>(b)", "SendReceive()")]
    [InlineData("static void M(MachRpcClient client) { A m = new A(); client.Call<A, B>(m); }", "client.Call<A, B>(m)", "Call()")]
    [InlineData("static void M(MachRpcClient client) { A m = new A(); client.TryCall<A, B>(m, out var r, out _, out _); }", "client.TryCall<A, B>(m, out var r, out _, out _)", "TryCall()")]
    [InlineData("static void M() { A m; m.Header = default; var copy = new A(); copy.Send(); }", "copy.Send()", "Send()")]
    public void MACHIPC027_ReportedAtTheSend(string body, string at, string call)
    {
        ImmutableArray<Diagnostic> diagnostics = Analyze(body, out string source);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("MACHIPC027", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal(at, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        string local = at.StartsWith("client", System.StringComparison.Ordinal) ? "m" : at.Substring(0, at.IndexOf('.'));
        Assert.Equal($"'{local}' is sent by {call} but never prepared; call {local}.Prepare(...) first, which writes the header's bits, size, id and ports", d.GetMessage());
        Assert.EndsWith("/blob/main/docs/diagnostics/MACHIPC027.md", d.Descriptor.HelpLinkUri, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("static void M(uint port) { var m = new A { V = 1 }; m.Prepare(port, 0); m.Send(); }")]
    [InlineData("static void M(uint port) { var m = new A(); m.Header.Bits = 0x1513; m.Send(); }")]
    [InlineData("static void M(uint port) { var m = new A { Header = new MachMsgHeader { Id = 1000 } }; m.Send(); }")]
    [InlineData("static void M(uint port) { var m = new A(); Fill(ref m, port); m.Send(); } static void Fill(ref A m, uint port) => m.Prepare(port, 0);")]
    [InlineData("static void M(uint port) { var m = Make(port); m.Send(); } static A Make(uint port) { var m = new A(); m.Prepare(port, 0); return m; }")]
    [InlineData("static void M(A m) { m.Send(); }")]
    [InlineData("static void M(uint port) { var m = new A(); Action prepare = () => m.Prepare(port, 0); prepare(); m.Send(); }")]
    [InlineData("static void M(uint port) { var m = new A(); var other = new A(); other.Prepare(port, 0); m = other; m.Send(); }")]
    [InlineData("static void M(MachRpcClient client, uint port) { var m = new A(); m.Prepare(port, 0); client.Call<A, B>(m); }")]
    [InlineData("static void M(MachIpc.Ports.SendRight server, MachIpc.Ports.ReceiveRight reply) { var m = new A { V = 1 }; m.Send(server, reply); }")] // prepares itself
    [InlineData("static void M(MachIpc.Ports.SendRight server, MachIpc.Ports.ReceiveRight reply) { var m = new A(); m.Prepare(server, reply); m.Send(); }")]
    public void MACHIPC027_SilentWhenPreparedOrOutOfSight(string body)
    {
        Assert.Empty(Analyze(body, out _));
    }
}
