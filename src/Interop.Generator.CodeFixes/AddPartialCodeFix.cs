using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator.CodeFixes;

/// <summary>MACHIPC001 / MACHIPC020: adds <c>partial</c> to a message struct or server class.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AddPartialCodeFix)), Shared]
public sealed class AddPartialCodeFix : CodeFixProvider
{
    private const string Title = "Add 'partial'";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(MachDiagnostics.NotPartial.Id, MachDiagnostics.ServerNotPartial.Id);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            if (root is null || SyntaxFix.Enclosing<TypeDeclarationSyntax>(root, diagnostic) is not { } type
                || type.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                continue;
            }
            SyntaxFix.Offer(context, diagnostic, root, type, WithPartial(type), Title, Title);
        }
    }

    /// <summary><c>partial</c> goes last among the modifiers, directly before <c>struct</c> / <c>class</c>.</summary>
    private static TypeDeclarationSyntax WithPartial(TypeDeclarationSyntax type)
    {
        if (type.Modifiers.Count > 0)
        {
            return type.AddModifiers(SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space));
        }
        // No modifiers: the keyword carries the declaration's leading trivia; hand it to `partial`.
        SyntaxToken keyword = type.Keyword;
        SyntaxToken partial = SyntaxFactory.Token(keyword.LeadingTrivia, SyntaxKind.PartialKeyword, SyntaxFactory.TriviaList(SyntaxFactory.Space));
        return type.WithKeyword(keyword.WithLeadingTrivia()).WithModifiers(SyntaxFactory.TokenList(partial));
    }
}
