using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MachIpc.Generator.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace MachIpc.Generator.Tests.CodeFixes;

/// <summary>The code fixes shipped in the package's analyzers folder, each run through Roslyn's code-fix test harness.</summary>
public class CodeFixTests
{
    private const string Usings = "using MachIpc.Abi;\nusing MachIpc.Messages;\nusing MachIpc.Server;\n\n";

    [Fact]
    public Task AddPartial_ToAMessageWithModifiers() => MachCodeFixTest<AddPartialCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic struct {|MACHIPC001:Hello|}\n{\n    public MachMsgHeader Header;\n}\n",
        Usings + "[MachMessage(1)]\npublic partial struct Hello\n{\n    public MachMsgHeader Header;\n}\n");

    [Fact]
    public Task AddPartial_ToAMessageWithoutModifiers_KeepsItsTrivia() => MachCodeFixTest<AddPartialCodeFix>.VerifyAsync(
        Usings + "// the greeting\n[MachMessage(1)] struct {|MACHIPC001:Hello|} { public MachMsgHeader Header; }\n",
        Usings + "// the greeting\n[MachMessage(1)] partial struct Hello { public MachMsgHeader Header; }\n");

    [Fact]
    public Task AddPartial_ToAServer() => MachCodeFixTest<AddPartialCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)] public partial struct Ping { public MachMsgHeader Header; }\n" +
        "[MachServer] public sealed class {|MACHIPC020:Pinger|} { void OnPing(MachReceived<Ping> m) { } }\n",
        Usings + "[MachMessage(1)] public partial struct Ping { public MachMsgHeader Header; }\n" +
        "[MachServer] public sealed partial class Pinger { void OnPing(MachReceived<Ping> m) { } }\n");

    [Fact]
    public Task BoolBecomesByte_AndCharBecomesUshort_AlsoInFixedBuffers() => MachCodeFixTest<BlittableFieldTypeCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic unsafe partial struct Flags\n{\n    public MachMsgHeader Header;\n" +
        "    public bool {|MACHIPC002:Urgent|};\n    public fixed char {|MACHIPC002:Name|}[8];\n}\n",
        Usings + "[MachMessage(1)]\npublic unsafe partial struct Flags\n{\n    public MachMsgHeader Header;\n" +
        "    public byte Urgent;\n    public fixed ushort Name[8];\n}\n");

    [Fact]
    public Task CharBecomesUshort_AlsoWhenSpelledSystemChar() => MachCodeFixTest<BlittableFieldTypeCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)] public partial struct Initial { public MachMsgHeader Header; public System.Char {|MACHIPC002:Value|}; }\n",
        Usings + "[MachMessage(1)] public partial struct Initial { public MachMsgHeader Header; public ushort Value; }\n");

    [Fact]
    public async Task NoTypeFix_ForOtherNonBlittableFields()
    {
        const string source = Usings + "[MachMessage(1)] public partial struct Text { public MachMsgHeader Header; public string {|MACHIPC002:Value|}; }\n";
        var test = new MachCodeFixTest<BlittableFieldTypeCodeFix> { TestCode = source, FixedCode = source };
        await test.RunAsync();
    }

    [Fact]
    public Task FieldOrder_MovesTheHeaderFirst() => MachCodeFixTest<MachFieldOrderCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic partial struct {|MACHIPC003:Hello|}\n{\n    public int Value; // the payload\n    public MachMsgHeader Header;\n}\n",
        Usings + "[MachMessage(1)]\npublic partial struct Hello\n{\n    public MachMsgHeader Header;\n    public int Value; // the payload\n}\n");

    [Fact]
    public Task FieldOrder_MovesDescriptorsBeforeData_KeepingTheirOrder_AndLeavesMethodsInPlace() => MachCodeFixTest<MachFieldOrderCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic partial struct Share\n{\n    public MachMsgHeader Header;\n    public MachMsgBody Body;\n" +
        "    public int Tag;\n    public override string ToString() => \"share\";\n" +
        "    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor {|MACHIPC004:First|};\n" +
        "    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor {|MACHIPC004:Second|};\n}\n",
        Usings + "[MachMessage(1)]\npublic partial struct Share\n{\n    public MachMsgHeader Header;\n    public MachMsgBody Body;\n" +
        "    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor First;\n    public override string ToString() => \"share\";\n" +
        "    [MachPort(MachMsgType.MakeSend)] public MachMsgPortDescriptor Second;\n    public int Tag;\n}\n");

    [Fact]
    public Task FieldOrder_AddsAMissingBody() => MachCodeFixTest<MachFieldOrderCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic partial struct Share\n{\n    public MachMsgHeader Header;\n" +
        "    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor {|MACHIPC005:Port|};\n}\n",
        Usings + "[MachMessage(1)]\npublic partial struct Share\n{\n    public MachMsgHeader Header;\n    public MachMsgBody Body;\n" +
        "    [MachPort(MachMsgType.CopySend)] public MachMsgPortDescriptor Port;\n}\n");

    [Fact]
    public Task FieldOrder_AddsAMissingHeader() => MachCodeFixTest<MachFieldOrderCodeFix>.VerifyAsync(
        Usings + "[MachMessage(1)]\npublic partial struct {|MACHIPC003:Hello|}\n{\n    public int Value;\n}\n",
        Usings + "[MachMessage(1)]\npublic partial struct Hello\n{\n    public MachMsgHeader Header;\n    public int Value;\n}\n");

    private const string NeedsUnsafe = Usings + "[MachMessage(1)] public partial struct Hello { public MachMsgHeader Header; }\n";

    [Fact]
    public async Task AllowUnsafeBlocks_ChangesTheProjectsCompilationOptions()
    {
        // Like Visual Studio: no blanket option changes, but this one the project system can write to the project file.
        Project project = new OptionsWorkspace(allowUnsafeChange: true).Add(NeedsUnsafe);
        CodeAction action = Assert.Single(await Fixes(project));
        Solution fixedSolution = ((ApplyChangesOperation)(await action.GetOperationsAsync(CancellationToken.None)).Single()).ChangedSolution;
        Project fixedProject = fixedSolution.GetProject(project.Id)!;
        Assert.True(((CSharpCompilationOptions)fixedProject.CompilationOptions!).AllowUnsafe);
        // The fix edits no document, only the project; with it the generator runs and MACHIPC009 is gone.
        Assert.Equal((await project.Documents.Single().GetTextAsync()).ToString(), (await fixedProject.Documents.Single().GetTextAsync()).ToString());
        CSharpGeneratorDriver.Create(new[] { new MachMessageGenerator().AsSourceGenerator() }, parseOptions: GeneratorHarness.ParseOptions)
            .RunGeneratorsAndUpdateCompilation((await fixedProject.GetCompilationAsync())!, out _, out ImmutableArray<Diagnostic> after);
        Assert.Empty(after);
    }

    [Fact]
    public async Task AllowUnsafeBlocks_IsNotOffered_WhereTheWorkspaceCannotChangeTheProject()
    {
        // A command-line-like host: documents can change, the project's options cannot.
        Project project = new OptionsWorkspace(allowUnsafeChange: false).Add(NeedsUnsafe);
        Assert.Empty(await Fixes(project));
    }

    /// <summary>A host whose project system may or may not be able to turn AllowUnsafeBlocks on.</summary>
    private sealed class OptionsWorkspace(bool allowUnsafeChange) : Workspace(Microsoft.CodeAnalysis.Host.Mef.MefHostServices.DefaultHost, "Test")
    {
        public override bool CanApplyChange(ApplyChangesKind feature) => feature != ApplyChangesKind.ChangeCompilationOptions;

        public override bool CanApplyCompilationOptionChange(CompilationOptions oldOptions, CompilationOptions newOptions, Project project) =>
            allowUnsafeChange && ((CSharpCompilationOptions)oldOptions).WithAllowUnsafe(true).Equals(newOptions);

        public Project Add(string source)
        {
            ProjectId id = ProjectId.CreateNewId();
            Solution solution = CurrentSolution
                .AddProject(id, "Consumer", "Consumer", LanguageNames.CSharp)
                .WithProjectCompilationOptions(id, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: false))
                .WithProjectParseOptions(id, GeneratorHarness.ParseOptions)
                .AddMetadataReferences(id, GeneratorHarness.CreateCompilation(System.Array.Empty<string>()).References)
                .AddDocument(DocumentId.CreateNewId(id), "Hello.cs", SourceText.From(source));
            SetCurrentSolution(solution);
            return CurrentSolution.GetProject(id)!;
        }
    }

    private static async Task<IReadOnlyList<CodeAction>> Fixes(Project project)
    {
        Document document = project.Documents.Single();
        Compilation compilation = (await project.GetCompilationAsync())!;
        CSharpGeneratorDriver.Create(new[] { new MachMessageGenerator().AsSourceGenerator() }, parseOptions: GeneratorHarness.ParseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out _, out ImmutableArray<Diagnostic> diagnostics);
        Diagnostic unsafeRequired = Assert.Single(diagnostics, d => d.Id == "MACHIPC009");
        var actions = new List<CodeAction>();
        var context = new CodeFixContext(document, unsafeRequired, (a, _) => actions.Add(a), CancellationToken.None);
        await new AllowUnsafeBlocksCodeFix().RegisterCodeFixesAsync(context);
        return actions;
    }
}
