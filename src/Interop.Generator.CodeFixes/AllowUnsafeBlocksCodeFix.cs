using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;

namespace MachIpc.Generator.CodeFixes;

/// <summary>
/// MACHIPC009: turns on <c>AllowUnsafeBlocks</c> by changing the project's compilation options, as Roslyn's own fix
/// for CS0227 does. A code fix cannot write a project file itself; the workspace can, where its project system
/// supports that change (Visual Studio writes the property to the project file). The fix is offered only there; where
/// the workspace cannot apply it (the command line, editors whose workspace cannot edit project files) the diagnostic's
/// message and its help page say exactly which property to add.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AllowUnsafeBlocksCodeFix)), Shared]
public sealed class AllowUnsafeBlocksCodeFix : CodeFixProvider
{
    private const string Title = "Allow unsafe code in this project";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(MachDiagnostics.UnsafeRequired.Id);

    /// <summary>One project-wide change fixes every occurrence, so there is nothing to batch.</summary>
    public override FixAllProvider? GetFixAllProvider() => null;

    /// <inheritdoc/>
    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        Project project = context.Document.Project;
        if (project.CompilationOptions is not CSharpCompilationOptions { AllowUnsafe: false } options)
        {
            return Task.CompletedTask;
        }
        CSharpCompilationOptions allowed = options.WithAllowUnsafe(true);
        Workspace workspace = project.Solution.Workspace;
        if (!workspace.CanApplyChange(ApplyChangesKind.ChangeCompilationOptions)
            && !workspace.CanApplyCompilationOptionChange(options, allowed, project))
        {
            return Task.CompletedTask;
        }
        context.RegisterCodeFix(
            CodeAction.Create(Title, _ => Task.FromResult(project.WithCompilationOptions(allowed).Solution), Title),
            context.Diagnostics);
        return Task.CompletedTask;
    }
}
