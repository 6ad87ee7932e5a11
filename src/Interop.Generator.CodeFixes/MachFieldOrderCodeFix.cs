using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;

namespace MachIpc.Generator.CodeFixes;

/// <summary>
/// MACHIPC003 / 004 / 005: puts a message's fields in the order <c>mach_msg</c> reads them — header, body,
/// descriptors, inline data — keeping the relative order within each group, and adds the header or (when there
/// are descriptors) the body if it is missing. Methods and other members stay where they are.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MachFieldOrderCodeFix)), Shared]
public sealed class MachFieldOrderCodeFix : CodeFixProvider
{
    private const string Title = "Put fields in Mach order (header, body, descriptors, data)";
    private const string Abi = "MachIpc.Abi.";

    private enum Rank
    {
        Header,
        Body,
        Descriptor,
        Data,
    }

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(
        MachDiagnostics.HeaderNotFirst.Id, MachDiagnostics.DescriptorAfterInlineData.Id, MachDiagnostics.BodyMissing.Id);

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
            if (SyntaxFix.Enclosing<StructDeclarationSyntax>(root, diagnostic) is not { } message
                || Reorder(message, model, context.CancellationToken) is not { } reordered)
            {
                continue;
            }
            SyntaxFix.Offer(context, diagnostic, root, message, reordered, Title, Title);
        }
    }

    /// <summary>The struct with its fields reordered, or null when that cannot be done safely here.</summary>
    private static StructDeclarationSyntax? Reorder(StructDeclarationSyntax message, SemanticModel model, CancellationToken cancellationToken)
    {
        // Fields in another partial part would keep their place in the layout: leave such structs to the user.
        if (model.GetDeclaredSymbol(message, cancellationToken) is not { } symbol || symbol.DeclaringSyntaxReferences.Length != 1)
        {
            return null;
        }
        var slots = new List<int>();
        var fields = new List<(FieldDeclarationSyntax Field, Rank Rank)>();
        for (int i = 0; i < message.Members.Count; i++)
        {
            if (message.Members[i] is FieldDeclarationSyntax field
                && !field.Modifiers.Any(m => m.IsKind(SyntaxKind.StaticKeyword) || m.IsKind(SyntaxKind.ConstKeyword)))
            {
                slots.Add(i);
                fields.Add((field, RankOf(model.GetTypeInfo(field.Declaration.Type, cancellationToken).Type)));
            }
        }

        List<FieldDeclarationSyntax> ordered = fields
            .Select((f, index) => (f.Field, f.Rank, index))
            .OrderBy(f => f.Rank).ThenBy(f => f.index)
            .Select(f => f.Field)
            .ToList();
        int added = 0;
        if (!fields.Any(f => f.Rank == Rank.Header))
        {
            ordered.Insert(0, NewField("MachMsgHeader", "Header"));
            added++;
        }
        if (fields.Any(f => f.Rank == Rank.Descriptor) && !fields.Any(f => f.Rank == Rank.Body))
        {
            ordered.Insert(1, NewField("MachMsgBody", "Body"));
            added++;
        }
        if (slots.Count == 0 || (added == 0 && ordered.SequenceEqual(fields.Select(f => f.Field))))
        {
            return null;
        }

        // Fill the fields' old slots in the new order; added fields go into the first slot ahead of the rest.
        var members = new List<MemberDeclarationSyntax>();
        int next = 0;
        for (int i = 0; i < message.Members.Count; i++)
        {
            if (!slots.Contains(i))
            {
                members.Add(message.Members[i]);
                continue;
            }
            int take = i == slots[0] ? 1 + added : 1;
            for (int k = 0; k < take; k++)
            {
                members.Add(ordered[next++]);
            }
        }
        return message.WithMembers(SyntaxFactory.List(members));
    }

    private static Rank RankOf(ITypeSymbol? type) => type?.ToDisplayString() switch
    {
        Abi + "MachMsgHeader" => Rank.Header,
        Abi + "MachMsgBody" => Rank.Body,
        Abi + "MachMsgPortDescriptor" or Abi + "MachMsgOolDescriptor" or Abi + "MachMsgOolPortsDescriptor" => Rank.Descriptor,
        _ => Rank.Data,
    };

    private static FieldDeclarationSyntax NewField(string type, string name) =>
        SyntaxFactory.FieldDeclaration(
                SyntaxFactory.VariableDeclaration(SyntaxFactory.ParseTypeName("global::MachIpc.Abi." + type).WithAdditionalAnnotations(Simplifier.Annotation))
                    .AddVariables(SyntaxFactory.VariableDeclarator(name)))
            .AddModifiers(SyntaxFactory.Token(SyntaxKind.PublicKeyword))
            .WithAdditionalAnnotations(Formatter.Annotation);
}
