using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator.CodeFixes;

/// <summary>
/// MACHIPC002 for the two non-blittable primitives that have an exact C counterpart: <c>bool</c> → <c>byte</c>
/// (C's <c>bool</c> / <c>uint8_t</c>) and <c>char</c> → <c>ushort</c> (a UTF-16 unit), also in <c>fixed</c> buffers.
/// Other reasons (references, arrays, pointers) need a design decision, so they get no fix.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BlittableFieldTypeCodeFix)), Shared]
public sealed class BlittableFieldTypeCodeFix : CodeFixProvider
{
    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(MachDiagnostics.FieldNotBlittable.Id);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        SemanticModel? model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            TypeSyntax? type = SyntaxFix.Enclosing<FieldDeclarationSyntax>(root, diagnostic)?.Declaration.Type;
            SpecialType special = type is null ? SpecialType.None : model.GetTypeInfo(type, context.CancellationToken).Type?.SpecialType ?? SpecialType.None;
            (SyntaxKind replacement, string name) = special switch
            {
                SpecialType.System_Boolean => (SyntaxKind.ByteKeyword, "byte"),
                SpecialType.System_Char => (SyntaxKind.UShortKeyword, "ushort"),
                _ => (SyntaxKind.None, ""),
            };
            if (type is null || replacement == SyntaxKind.None)
            {
                continue;
            }
            string title = $"Use '{name}' instead of '{(special == SpecialType.System_Boolean ? "bool" : "char")}'";
            TypeSyntax fixedType = SyntaxFactory.PredefinedType(SyntaxFactory.Token(replacement)).WithTriviaFrom(type);
            // One equivalence key for both, so "fix all" makes every such field blittable in one pass.
            SyntaxFix.Offer(context, diagnostic, root, type, fixedType, title, nameof(BlittableFieldTypeCodeFix));
        }
    }
}
