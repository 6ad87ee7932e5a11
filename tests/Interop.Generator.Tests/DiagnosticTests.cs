using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>One test per diagnostic id: id, location (the exact source text it points at) and message.</summary>
public class DiagnosticTests
{
    private const string Usings = "using MachIpc.Abi;\nusing MachIpc.Messages;\nusing System.Runtime.InteropServices;\nnamespace Demo;\n";

    private Diagnostic Single(string source, string id, bool allowUnsafe = true, MetadataReference? library = null)
    {
        _lastSource = Usings + source;
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(new[] { _lastSource }, allowUnsafe);
        GeneratorHarness.Result result = GeneratorHarness.Run(library is null ? compilation : compilation.AddReferences(library));
        Diagnostic[] matching = result.GeneratorDiagnostics.Where(d => d.Id == id).ToArray();
        Assert.True(matching.Length == 1, $"expected one {id}, got: {string.Join("; ", result.GeneratorDiagnostics)}");
        Assert.Equal(DiagnosticSeverity.Error, matching[0].Severity);
        return matching[0];
    }

    // Generator diagnostics carry file path + span (the model holds no SyntaxTree), so read the span from the input.
    private string SpanText(Diagnostic d)
    {
        Assert.Equal("Input0.cs", d.Location.GetLineSpan().Path);
        return _lastSource.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);
    }

    private string _lastSource = "";

    [Fact]
    public void MACHIPC001_NotPartial()
    {
        Diagnostic d = Single("[MachMessage(1)] public struct Bad { public MachMsgHeader Header; }", "MACHIPC001");
        Assert.Equal("Bad", SpanText(d));
        Assert.Equal("'Bad' is marked [MachMessage] but is not declared 'partial'; the generator adds its layout and members to a partial part", d.GetMessage());
    }

    [Theory]
    [InlineData("bool", "bool has no fixed C size and is not blittable; use byte")]
    [InlineData("char", "char is a UTF-16 code unit with marshalling rules; use ushort")]
    [InlineData("string", "strings are references; use a fixed byte buffer")]
    [InlineData("int[]", "arrays are references; use a fixed buffer or an out-of-line descriptor")]
    [InlineData("object", "reference types cannot be sent in a message")]
    [InlineData("int*", "pointers are meaningless in another process; use an out-of-line descriptor")]
    [InlineData("WithBool", "its field 'B' has no usable layout (bool has no fixed C size and is not blittable; use byte)")]
    public void MACHIPC002_FieldNotBlittable(string type, string reason)
    {
        Diagnostic d = Single(
            "public struct WithBool { public bool B; }\n" +
            $"[MachMessage(1)] public unsafe partial struct Bad {{ public MachMsgHeader Header; public {type} Field; }}", "MACHIPC002");
        Assert.Equal("Field", SpanText(d));
        string display = type == "WithBool" ? "Demo.WithBool" : type;
        Assert.Equal($"Field 'Field' of type '{display}' cannot be part of a Mach message: {reason}", d.GetMessage());
    }

    [Fact]
    public void MACHIPC002_AutoProperty()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public int Value { get; set; } }", "MACHIPC002");
        Assert.Equal("Value", SpanText(d));
        Assert.Equal("Field 'Value' of type 'int' cannot be part of a Mach message: auto-properties hide their storage; declare a field", d.GetMessage());
    }

    [Fact]
    public void MACHIPC003_HeaderNotFirst()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public uint X; public MachMsgHeader Header; }", "MACHIPC003");
        Assert.Equal("Bad", SpanText(d));
        Assert.Equal("'Bad' must declare a 'MachMsgHeader' as its first instance field", d.GetMessage());

        Diagnostic empty = Single("[MachMessage(1)] public partial struct Empty { }", "MACHIPC003");
        Assert.Equal("Empty", SpanText(empty));
    }

    [Fact]
    public void MACHIPC004_DescriptorAfterInlineData()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public MachMsgBody Body; public uint X; [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Port; }", "MACHIPC004");
        Assert.Equal("Port", SpanText(d));
        Assert.Equal("Descriptor 'Port' follows inline data; the kernel expects every descriptor directly after the body", d.GetMessage());
    }

    [Fact]
    public void MACHIPC005_BodyMissing()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Port; }", "MACHIPC005");
        Assert.Equal("Port", SpanText(d));
        Assert.Equal("'Bad' must declare a 'MachMsgBody' directly after its header, before any descriptor or data (descriptor 'Port' has no body before it)", d.GetMessage());

        Diagnostic late = Single("[MachMessage(1)] public partial struct Late { public MachMsgHeader Header; public uint X; public MachMsgBody Body; }", "MACHIPC005");
        Assert.Equal("Body", SpanText(late));
    }

    [Fact]
    public void MACHIPC006_IsNotReportedForOneIdInSeveralMessagesOfOneCompilation()
    {
        // Ids are unique per server (ServerGeneratorTests.MACHIPC006_*), not per compilation: one binary may speak
        // several protocols that reuse ids, as Ladybird's do.
        GeneratorHarness.Result result = GeneratorHarness.Run(Usings +
            "[MachMessage(7)] public partial struct A { public MachMsgHeader Header; }\n" +
            "[MachMessage(7)] public partial struct B { public MachMsgHeader Header; }\n");
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilerErrors);
    }

    [Fact]
    public void MACHIPC007_ReservedId()
    {
        Diagnostic d = Single("[MachMessage(70)] public partial struct Bad { public MachMsgHeader Header; }", "MACHIPC007");
        Assert.Equal("MachMessage(70)", SpanText(d));
        Assert.Equal("Message id 70 of 'Bad' is in the kernel notification range 64..72; a forged notification could be confused with it", d.GetMessage());
    }

    [Fact]
    public void MACHIPC008_InvalidTrailer()
    {
        Diagnostic d = Single("[MachMessage(1, Trailer = (MachTrailerElements)5)] public partial struct Bad { public MachMsgHeader Header; }", "MACHIPC008");
        Assert.Equal("MachMessage(1, Trailer = (MachTrailerElements)5)", SpanText(d));
        Assert.Equal("'Bad' requests trailer elements value 5, which is not a MACH_RCV_TRAILER_* value (0, 1, 2, 3, 4, 7, 8)", d.GetMessage());
    }

    [Fact]
    public void MACHIPC009_UnsafeRequired()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Good { public MachMsgHeader Header; }", "MACHIPC009", allowUnsafe: false);
        Assert.Equal("MachMessage(1)", SpanText(d));
        Assert.Equal("'Good' cannot be generated: the project must set <AllowUnsafeBlocks>true</AllowUnsafeBlocks> (the generated code passes message pointers to mach_msg)", d.GetMessage());
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(new[] { Usings + "[MachMessage(1)] public partial struct Good { public MachMsgHeader Header; }" }, allowUnsafe: false));
        Assert.Empty(result.Run.Results.Single().GeneratedSources);
    }

    [Fact]
    public void MACHIPC010_InvalidDisposition()
    {
        Diagnostic missing = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public MachMsgBody Body; public MachMsgPortDescriptor Port; }", "MACHIPC010");
        Assert.Equal("Port", SpanText(missing));
        Assert.Equal("Descriptor 'Port': declare its disposition with [MachPort(...)]", missing.GetMessage());

        Diagnostic remote = Single("[MachMessage(1, Remote = MachMsgType.MoveReceive)] public partial struct Bad { public MachMsgHeader Header; }", "MACHIPC010");
        Assert.Equal("MachMessage(1, Remote = MachMsgType.MoveReceive)", SpanText(remote));
        Assert.Equal("Bad: Remote disposition 16 must be one of MoveSend, MoveSendOnce, CopySend, MakeSend, MakeSendOnce", remote.GetMessage());

        Diagnostic port = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public MachMsgBody Body; [MachPort(MachMsgType.CopyReceive)] public MachMsgPortDescriptor Port; }", "MACHIPC010");
        Assert.Equal("Descriptor 'Port': disposition 22 must be one of MoveReceive, MoveSend, MoveSendOnce, CopySend, MakeSend, MakeSendOnce", port.GetMessage());
    }

    [Fact]
    public void MACHIPC011_UserStructLayout()
    {
        Diagnostic d = Single("[MachMessage(1)] [StructLayout(LayoutKind.Sequential, Pack = 1)] public partial struct Bad { public MachMsgHeader Header; }", "MACHIPC011");
        Assert.Equal("StructLayout(LayoutKind.Sequential, Pack = 1)", SpanText(d));
        Assert.Equal("'Bad' declares [StructLayout]; the generator emits the layout itself (choose it with MachMessage.Layout)", d.GetMessage());
    }

    [Fact]
    public void MACHIPC012_InvalidMinSize()
    {
        Diagnostic d = Single("[MachMessage(1, MinSize = 26)] public partial struct Bad { public MachMsgHeader Header; public uint A; public uint B; }", "MACHIPC012");
        Assert.Equal("MachMessage(1, MinSize = 26)", SpanText(d));
        Assert.Equal("MinSize 26 of 'Bad' must be a multiple of 4 between 24 (the end of the descriptors) and the send size 32", d.GetMessage());
    }

    [Theory]
    [InlineData("[MachMessage(1)] public unsafe partial struct Bad { public MachMsgHeader Header; [MachCount] public uint Length; public fixed byte Text[8]; }",
        "the message must be variable-length (MinSize) and end with a fixed-size buffer")]
    [InlineData("[MachMessage(1, MinSize = 28)] public unsafe partial struct Bad { public MachMsgHeader Header; public uint Before; [MachCount] public uint Length; public fixed byte Text[8]; }",
        "it ends at 32, after MinSize 28, so a short message would not carry it")]
    [InlineData("[MachMessage(1, MinSize = 28)] public unsafe partial struct Bad { public MachMsgHeader Header; [MachCount] public byte Length; public fixed byte Text[256]; }",
        "a byte cannot hold the buffer's length 256")]
    [InlineData("[MachMessage(1, MinSize = 28)] public unsafe partial struct Bad { public MachMsgHeader Header; [MachCount] public float Length; public fixed byte Text[8]; }",
        "a count is an integer field of inline data (byte, short, ushort, int, uint, long or ulong)")]
    public void MACHIPC028_InvalidCount(string source, string reason)
    {
        Diagnostic d = Single(source, "MACHIPC028");
        Assert.Equal("Length", SpanText(d));
        Assert.Equal($"'Length' cannot be the [MachCount] of 'Bad': {reason}", d.GetMessage());
    }

    [Fact]
    public void MACHIPC013_UnsupportedDeclaration()
    {
        Diagnostic d = Single("public partial class Outer { [MachMessage(1)] public partial struct Inner { public MachMsgHeader Header; } }", "MACHIPC013");
        Assert.Equal("Inner", SpanText(d));
        Assert.Equal("'Inner' cannot be a Mach message: nested types are not supported; declare the message at namespace level", d.GetMessage());
    }

    [Fact]
    public void MACHIPC014_InvalidOolBounds()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public MachMsgBody Body; [MachOol(MinSize = 10, MaxSize = 5)] public MachMsgOolDescriptor Data; }", "MACHIPC014");
        Assert.Equal("Data", SpanText(d));
        Assert.Equal("Out-of-line descriptor 'Data' has invalid bounds: MinSize 10 and Max 5 must satisfy 0 <= MinSize <= Max", d.GetMessage());
    }

    [Fact]
    public void MACHIPC015_TrailerField()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public MachMsgAuditTrailer Trailer; }", "MACHIPC015");
        Assert.Equal("Trailer", SpanText(d));
        Assert.Equal("Field 'Trailer' is a trailer; the kernel writes the trailer at round_msg(msgh_size), never at a struct offset, so read it through MachReceived<T>", d.GetMessage());
    }

    [Fact]
    public void MACHIPC016_ReservedMemberName()
    {
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public int SendSize; }", "MACHIPC016");
        Assert.Equal("SendSize", SpanText(d));
        Assert.Equal("'Bad' declares a member named 'SendSize', which the generator emits for every message; rename it", d.GetMessage());
    }

    // A descriptor named after a generated method ("Send" for the send right a channel-end message moves) used to be
    // CS0102 inside a generated file.
    [Theory]
    [InlineData("Send")]
    [InlineData("Receive")]
    [InlineData("Prepare")]
    [InlineData("SendReceive")]
    [InlineData("TryRead")]
    [InlineData("Validate")]
    public void MACHIPC016_AFieldNamedAfterAGeneratedMethod(string name)
    {
        Diagnostic d = Single($"[MachMessage(1)] public partial struct Bad {{ public MachMsgHeader Header; public MachMsgBody Body; [MachPort(MachMsgType.MoveSend)] public MachMsgPortDescriptor {name}; }}", "MACHIPC016");
        Assert.Equal(name, SpanText(d));
    }

    [Theory]
    [InlineData("[StructLayout(LayoutKind.Auto)] public struct Nested { public int A; }", "Natural",
        "'Demo.Nested' has LayoutKind.Auto: the CLR may reorder and pad its fields as it likes")]
    [InlineData("[StructLayout(LayoutKind.Explicit)] public struct Nested { [FieldOffset(0)] public int A; }", "Pack4",
        "'Demo.Nested' has an explicit layout; declare its fields in order with a sequential layout")]
    [InlineData("public struct Nested { }", "Pack4", "'Demo.Nested' has no fields: the CLR gives it one byte, a C compiler none")]
    [InlineData("[StructLayout(LayoutKind.Sequential, Size = 8)] public struct Nested { public long A; public int B; }", "Natural",
        "it is 12 bytes with 8-byte alignment here: its [StructLayout(Size = ...)] is below its natural size and the CLR does not " +
        "pad it, but every C struct is padded to a multiple of its alignment")]
    [InlineData("[StructLayout(LayoutKind.Sequential, Size = 13)] public struct Nested { public long A; }", "Pack4",
        "it is 13 bytes with 4-byte alignment here: its [StructLayout(Size = ...)] is below its natural size and the CLR does not " +
        "pad it, but every C struct is padded to a multiple of its alignment")]
    [InlineData("public struct Nested { public Inner I; } [StructLayout(LayoutKind.Auto)] public struct Inner { public int A; }", "Pack4",
        "its field 'I' has no usable layout ('Demo.Inner' has LayoutKind.Auto: the CLR may reorder and pad its fields as it likes)")]
    public void MACHIPC017_NoCLayout(string nested, string layout, string reason)
    {
        Diagnostic d = Single(nested + $"\n[MachMessage(1, Layout = MachMessageLayout.{layout})] public partial struct Bad {{ public MachMsgHeader Header; public Nested Field; }}", "MACHIPC017");
        Assert.Equal("Field", SpanText(d));
        Assert.Equal($"Field 'Field' of type 'Demo.Nested' has no layout a C peer can share: {reason}", d.GetMessage());
    }

    [Fact]
    public void MACHIPC017_NoCLayout_AutoLayoutFromAnotherAssembly()
    {
        // In metadata [StructLayout] is the type's layout flags, not an attribute.
        MetadataReference library = Library("[StructLayout(LayoutKind.Auto)] public struct Remote { public int A; public long B; }", referenceAssembly: false);
        Diagnostic d = Single("[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public Lib.Remote Field; }", "MACHIPC017", library: library);
        Assert.Equal("Field", SpanText(d));
        Assert.Equal("Field 'Field' of type 'Lib.Remote' has no layout a C peer can share: 'Lib.Remote' has LayoutKind.Auto: the CLR may reorder and pad its fields as it likes", d.GetMessage());
    }

    [Fact]
    public void MACHIPC018_FieldsInSeveralParts()
    {
        Diagnostic d = Single(
            "[MachMessage(1)] public partial struct Split { public MachMsgHeader Header; public int A; }\n" +
            "public partial struct Split { public void Helper() { } public int B; }", "MACHIPC018");
        Assert.Equal("B", SpanText(d));
        Assert.Equal("'Split' declares field 'B' in another partial declaration than 'Header'; C# leaves the order of fields across " +
            "partial declarations undefined (CS0282) and a C struct has one declaration: declare every field in one part", d.GetMessage());

        // Methods and other members may live in any part.
        GeneratorHarness.Result fine = GeneratorHarness.Run(Usings +
            "[MachMessage(1)] public partial struct Whole { public MachMsgHeader Header; public int A; }\n" +
            "public partial struct Whole { public int Twice() => A * 2; public const int Limit = 3; public static int Count; }");
        Assert.Empty(fine.GeneratorDiagnostics);
    }

    [Theory]
    [InlineData("System.DateTime")]
    [InlineData("System.TimeSpan")]
    [InlineData("System.DateTimeOffset")]
    [InlineData("System.Numerics.Complex")]
    public void MACHIPC019_LayoutNotVisible_BclStructsWithoutALayoutContract(string type)
    {
        string assembly = type == "System.Numerics.Complex" ? "System.Runtime.Numerics" : "System.Runtime";
        Diagnostic d = Single($"[MachMessage(1)] public partial struct Bad {{ public MachMsgHeader Header; public {type} Field; }}", "MACHIPC019");
        Assert.Equal("Field", SpanText(d));
        Assert.Equal($"Field 'Field' of type '{type}' has a layout the generator cannot see: '{type}' comes from the reference " +
            $"assembly '{assembly}', which need not carry its private fields (the .NET reference assemblies replace them with a " +
            "placeholder), so its layout is unknown at compile time; send its contents as primitive fields", d.GetMessage());
    }

    [Fact]
    public void MACHIPC019_LayoutNotVisible_PrivateFieldsOfAReferenceAssembly()
    {
        MetadataReference library = Library("public struct Remote { private int _a; private long _b; public int A => _a + (int)_b; }", referenceAssembly: true);
        Diagnostic d = Single("public struct Wrapper { public Lib.Remote R; }\n" +
            "[MachMessage(1)] public partial struct Bad { public MachMsgHeader Header; public Wrapper Field; }", "MACHIPC019", library: library);
        Assert.Equal("Field", SpanText(d));
        Assert.Equal("Field 'Field' of type 'Demo.Wrapper' has a layout the generator cannot see: its field 'R' has no usable layout " +
            "('Lib.Remote' comes from the reference assembly 'Lib', which need not carry its private fields (the .NET reference " +
            "assemblies replace them with a placeholder), so its layout is unknown at compile time; send its contents as primitive fields)", d.GetMessage());

        // The same struct from its implementation assembly is laid out from its real fields.
        MetadataReference implementation = Library("public struct Remote { private int _a; private long _b; public int A => _a + (int)_b; }", referenceAssembly: false);
        GeneratorHarness.Result fine = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(new[] { Usings +
            "[MachMessage(1)] public partial struct Good { public MachMsgHeader Header; public Lib.Remote Field; }" }).AddReferences(implementation));
        Assert.Empty(fine.GeneratorDiagnostics);
    }

    /// <summary>A library "Lib" compiled in memory: its implementation assembly, or its reference assembly as refout makes it.</summary>
    private static MetadataReference Library(string source, bool referenceAssembly)
    {
        CSharpCompilation library = GeneratorHarness.CreateCompilation(new[] { "using System.Runtime.InteropServices;\nnamespace Lib;\n" + source })
            .WithAssemblyName("Lib");
        using var image = new MemoryStream();
        var result = library.Emit(image, options: new EmitOptions(metadataOnly: referenceAssembly, includePrivateMembers: !referenceAssembly));
        Assert.True(result.Success, string.Join("; ", result.Diagnostics));
        return MetadataReference.CreateFromImage(image.ToArray());
    }

    [Fact]
    public void ValidMessagesReportNothing()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(Usings + "[MachMessage(1)] public partial struct Good { public MachMsgHeader Header; }");
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilerErrors);
    }
}
