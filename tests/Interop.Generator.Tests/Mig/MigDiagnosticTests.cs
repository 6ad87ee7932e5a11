using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// One test per MIG diagnostic id (MACHIPC040–050, and MACHIPC009 for an interface): its severity, its message, and its
/// location — the .defs file, the line and the exact text it points at.
/// </summary>
public class MigDiagnosticTests
{
    private const string Path = "/defs/test.defs";
    private const string Head = "subsystem test 500;\n#include <mach/std_types.defs>\n";

    private static GeneratorHarness.Result Run(string defs, string defines = "", bool allowUnsafe = true, params MigHarness.DefsFile[] others) =>
        MigHarness.Run(GeneratorHarness.CreateCompilation(Array.Empty<string>(), allowUnsafe),
            others.Prepend(new MigHarness.DefsFile(Path, defs, defines, "Diag")).ToArray());

    /// <summary>The one diagnostic with <paramref name="id"/>; checks it points at <paramref name="text"/> on <paramref name="line"/> (1-based) of the .defs file.</summary>
    private static Diagnostic Single(string defs, string id, string text, int line, string defines = "", DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        GeneratorHarness.Result result = Run(defs, defines);
        Diagnostic[] matching = result.GeneratorDiagnostics.Where(d => d.Id == id).ToArray();
        Assert.True(matching.Length == 1, $"expected one {id}, got: {string.Join("; ", result.GeneratorDiagnostics)}");
        Diagnostic d = matching[0];
        Assert.Equal(severity, d.Severity);
        FileLinePositionSpan span = d.Location.GetLineSpan();
        Assert.Equal(Path, span.Path);
        Assert.Equal(line, span.StartLinePosition.Line + 1);
        Assert.Equal(text, defs.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        // Nothing is generated from an interface with errors.
        if (severity == DiagnosticSeverity.Error)
        {
            Assert.Empty(result.Run.Results.Single().GeneratedSources);
        }
        return d;
    }

    [Fact]
    public void MACHIPC040_Syntax()
    {
        Diagnostic d = Single(Head + "routine r(p : mach_port_t; x : int\nroutine s(p : mach_port_t);\n", "MACHIPC040", "routine", 4);
        Assert.Equal("MIG syntax error: expected ')' at the end of routine 'r', found 'routine'", d.GetMessage());
    }

    [Fact]
    public void MACHIPC041_Preprocessor()
    {
        Diagnostic d = Single(Head + "#define TWICE(x) x x\n", "MACHIPC041", "TWICE", 3);
        Assert.Contains("function-like macro 'TWICE' is not supported", d.GetMessage(), StringComparison.Ordinal);
        Assert.Equal("#if without #endif", Single(Head + "#if FOO\n", "MACHIPC041", "#", 3).GetMessage());
        Assert.Equal("#error stop here", Single(Head + "#ifndef GO\n#error stop here\n#endif\n", "MACHIPC041", "error", 4).GetMessage());
    }

    [Fact]
    public void MACHIPC042_IncludeNotFound()
    {
        Diagnostic d = Single(Head + "#include <mach/clock_types.defs>\n", "MACHIPC042", "#include <mach/clock_types.defs>", 3);
        Assert.Equal("Cannot #include 'mach/clock_types.defs': add it to the project as a <MachInterface> item (or AdditionalFiles)", d.GetMessage());
        Assert.Contains("C headers are not read", Single(Head + "#include \"thread_state.h\"\n", "MACHIPC042", "#include \"thread_state.h\"", 3).GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void MACHIPC042_IncludesFindTheCompilationsDefsFiles()
    {
        var types = new MigHarness.DefsFile("/defs/types/extra.defs", "type pair_t = struct[2] of int32_t;\n", "", "Diag");
        GeneratorHarness.Result result = Run(Head + "#include \"types/extra.defs\"\nroutine r(p : mach_port_t; x : pair_t);\n", others: types);
        Assert.Empty(result.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Empty(result.CompilerErrors);
    }

    [Fact]
    public void MACHIPC043_UndefinedType()
    {
        Diagnostic d = Single(Head + "routine r(p : mach_port_t; x : thread_state_t);\n", "MACHIPC043", "thread_state_t", 3);
        Assert.StartsWith("MIG type 'thread_state_t' is not defined", d.GetMessage(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("routine r(p : mach_port_t; x : mach_port_poly_t);", "x", "Polymorphic port argument 'x'")]
    [InlineData("routine r(p : mach_port_t; x : mach_port_array_t);", "x", "Argument 'x' (an out-of-line array of port rights)")]
    [InlineData("routine r(p : mach_port_t; ServerContextToken c : uint64_t);", "ServerContextToken", "'ServerContextToken' arguments")]
    [InlineData("routine r(p : mach_port_t; out x : pointer_t, Dealloc[]);", "Dealloc", "The 'Dealloc[]' flag of argument 'x'")]
    [InlineData("type t = PointerTo(foo);", "PointerTo", "'PointerTo'")]
    [InlineData("UseSpecialReplyPort 1;", "UseSpecialReplyPort", "'UseSpecialReplyPort'")]
    public void MACHIPC044_Unsupported(string statement, string text, string what)
    {
        Diagnostic d = Single(Head + statement + "\n", "MACHIPC044", text, 3);
        Assert.StartsWith(what + " is not supported: ", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void MACHIPC045_IgnoredStatementsAreNotes_AndTheInterfaceIsStillGenerated()
    {
        const string defs = Head + "import <mach/mach.h>;\nroutine r(p : mach_port_t);\n";
        Diagnostic d = Single(defs, "MACHIPC045", "import", 3, severity: DiagnosticSeverity.Info);
        Assert.Equal("'import' is ignored: it names a C header for the generated C code; the C# code needs none", d.GetMessage());
        Assert.NotEmpty(Run(defs).Run.Results.Single().GeneratedSources);
    }

    [Fact]
    public void MACHIPC046_InvalidSubsystem()
    {
        Diagnostic d = Single("subsystem KernelServer test 500;\n", "MACHIPC046", "KernelServer", 1);
        Assert.StartsWith("Invalid subsystem: 'KernelServer' describes the kernel's side", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void MACHIPC046_AFileWithoutSubsystemThatNothingIncludes()
    {
        // A misspelt subsystem statement: the file is neither an interface nor anyone's include file.
        GeneratorHarness.Result result = Run("subsytem test 500;\nroutine r(p : mach_port_t);\n");
        Diagnostic d = Assert.Single(result.GeneratorDiagnostics, x => x.Id == "MACHIPC046");
        Assert.Equal(Path, d.Location.GetLineSpan().Path);
        Assert.Equal("Invalid subsystem: the file declares no subsystem, and no other .defs file includes it", d.GetMessage());
        Diagnostic syntax = Assert.Single(result.GeneratorDiagnostics, x => x.Id == "MACHIPC040");
        Assert.Equal(0, syntax.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Theory]
    [InlineData("routine r(in x : int);", "r", "(none)", "the routine has no request port")]
    [InlineData("simpleroutine r(p : mach_port_t; out x : int);", "x", "x", "a simpleroutine has no reply")]
    [InlineData("routine r(p : int);", "p", "p", "a request port must be a single send or send-once right")]
    [InlineData("type a = array[*:4] of int; routine r(p : mach_port_t; inout x : a);", "x", "x", "an inline variable-sized argument cannot be inout")]
    public void MACHIPC047_InvalidArgument(string statement, string text, string argument, string why)
    {
        Diagnostic d = Single(Head + statement + "\n", "MACHIPC047", text, 3);
        Assert.Equal($"Argument '{argument}' of routine 'r': {why}" + (why.StartsWith("a simple", StringComparison.Ordinal) ? ", so it cannot have out or inout arguments" : why.StartsWith("the routine", StringComparison.Ordinal) ? " (its first argument, or one marked 'requestport')" : why.StartsWith("a request", StringComparison.Ordinal) ? " (mach_port_t, mach_port_make_send_once_t, …)" : string.Empty), d.GetMessage());
    }

    [Fact]
    public void MACHIPC048_InvalidType()
    {
        Diagnostic d = Single(Head + "type v = array[*:4] of int;\ntype vv = array[*:2] of v;\n", "MACHIPC048", "array", 4);
        Assert.StartsWith("MIG type 'vv': an array of this element type is too complicated", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void MACHIPC049_DuplicateNames()
    {
        Diagnostic d = Single(Head + "routine r_a(p : mach_port_t);\nroutine rA(p : mach_port_t);\n", "MACHIPC049", "rA", 4);
        Assert.Equal("'rA' and 'r_a' both become 'RA' in C#", d.GetMessage());
        Assert.Equal("'Offsets' names two fields of ROffsetsRequest, or a member the generator emits; rename the argument",
            Single(Head + "routine r_offsets(p : mach_port_t; Offsets : int);\n", "MACHIPC049", "Offsets", 3).GetMessage());
    }

    [Fact]
    public void MACHIPC049_TwoInterfacesGeneratingTheSameTypes()
    {
        var copy = new MigHarness.DefsFile("/defs/z-copy.defs", Head + "routine r(p : mach_port_t);\n", "", "Diag");
        GeneratorHarness.Result result = Run(Head + "routine r(p : mach_port_t);\n", others: copy);
        Diagnostic d = Assert.Single(result.GeneratorDiagnostics, x => x.Id == "MACHIPC049");
        Assert.Equal("/defs/z-copy.defs", d.Location.GetLineSpan().Path);
        Assert.Equal("'Diag.TestClient' is also generated from '/defs/test.defs'; give one of the MachInterface items another Namespace", d.GetMessage());
    }

    [Fact]
    public void MACHIPC050_InvalidOption()
    {
        Diagnostic d = Single(Head + "WaitTime my_timeout;\n", "MACHIPC050", "my_timeout", 3);
        Assert.Equal("WaitTime value 'my_timeout' is not supported: give the timeout in milliseconds, or declare a 'WaitTime' argument so that callers pass it", d.GetMessage());
        Assert.StartsWith("MsgOption value 'MACH_RCV_LARGE' is not supported", Single(Head + "MsgOption MACH_RCV_LARGE;\n", "MACHIPC050", "MACH_RCV_LARGE", 3).GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void MACHIPC009_AnInterfaceNeedsUnsafeCode()
    {
        GeneratorHarness.Result result = Run(Head + "routine r(p : mach_port_t);\n", allowUnsafe: false);
        Diagnostic d = Assert.Single(result.GeneratorDiagnostics, x => x.Id == "MACHIPC009");
        Assert.Equal(Path, d.Location.GetLineSpan().Path);
        Assert.Equal(0, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Empty(result.Run.Results.Single().GeneratedSources);
    }

    [Fact]
    public void DiagnosticsInsideAnIncludedFile_PointIntoIt()
    {
        var types = new MigHarness.DefsFile("/defs/bad.defs", "type ok_t = int;\ntype bad_t = nonsense_t;\n", "", "Diag");
        GeneratorHarness.Result result = Run(Head + "#include \"bad.defs\"\nroutine r(p : mach_port_t);\n", others: types);
        Diagnostic d = result.GeneratorDiagnostics.First(x => x.Id == "MACHIPC043" && x.Location.GetLineSpan().Path == "/defs/bad.defs");
        Assert.Equal(1, d.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void TheRealInterfacesReadCleanly_WithTheirConditionalBranches()
    {
        foreach ((string file, string defines) in new[]
        {
            ("mach_exc.defs", ""), ("mach_exc.defs", "MACH_EXC_SERVER_AUDITTOKEN"), ("exc.defs", ""), ("notify.defs", ""), ("notify.defs", "SEQNOS"),
            ("shapes.defs", ""),
        })
        {
            GeneratorHarness.Result result = MigHarness.Run(MigHarness.Load(file, defines, "Clean"));
            Assert.Empty(result.GeneratorDiagnostics);
            Assert.Empty(result.CompilerErrors);
        }
    }
}
