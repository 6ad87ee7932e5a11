using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;

namespace MachIpc.Generator.CodeFixes;

/// <summary>What the syntax fixes share: finding the declaration a diagnostic points into, and offering a replacement.</summary>
internal static class SyntaxFix
{
    /// <summary>The innermost <typeparamref name="T"/> around the start of <paramref name="diagnostic"/>'s location.</summary>
    public static T? Enclosing<T>(SyntaxNode root, Diagnostic diagnostic) where T : SyntaxNode =>
        root.FindToken(diagnostic.Location.SourceSpan.Start).Parent?.AncestorsAndSelf().OfType<T>().FirstOrDefault();

    /// <summary>Offers replacing <paramref name="node"/> by <paramref name="replacement"/> in the context's document.</summary>
    public static void Offer(CodeFixContext context, Diagnostic diagnostic, SyntaxNode root, SyntaxNode node, SyntaxNode replacement,
        string title, string equivalenceKey) =>
        context.RegisterCodeFix(
            CodeAction.Create(title, _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(node, replacement))), equivalenceKey),
            diagnostic);
}
