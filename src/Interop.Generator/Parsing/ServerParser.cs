using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator.Parsing;

/// <summary>Turns a <c>[MachServer]</c> class into a <see cref="ServerModel"/>, or diagnostics.</summary>
internal static class ServerParser
{
    private const string ReceivedType = "MachIpc.Messages.MachReceived<T>";
    private const string MessageAttribute = "MachIpc.Messages.MachMessageAttribute";

    public static ServerParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? where = LocationInfo.From(syntax.Identifier.GetLocation());

        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(Info(MachDiagnostics.ServerNotPartial, where, type.Name));
        }
        if (type.ContainingType is not null || type.IsGenericType)
        {
            diagnostics.Add(Info(MachDiagnostics.UnsupportedServer, where, type.Name));
        }

        var handlers = new List<HandlerModel>();
        var byId = new Dictionary<int, string>();
        foreach (ISymbol member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (member is not IMethodSymbol { MethodKind: MethodKind.Ordinary } method
                || method.Parameters.Length == 0
                || method.Parameters[0].Type is not INamedTypeSymbol parameter
                || parameter.OriginalDefinition.ToDisplayString() != ReceivedType)
            {
                continue;
            }
            LocationInfo? at = LocationInfo.From(method.Locations.FirstOrDefault());
            if (method.Parameters.Length != 1 || !method.ReturnsVoid || method.IsGenericMethod || method.IsStatic
                || method.Parameters[0].RefKind != RefKind.None)
            {
                diagnostics.Add(Info(MachDiagnostics.InvalidHandler, at, method.Name));
                continue;
            }
            ITypeSymbol message = parameter.TypeArguments[0];
            AttributeData? attribute = message.GetAttributes()
                .FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == MessageAttribute);
            if (attribute is null || attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not int id)
            {
                diagnostics.Add(Info(MachDiagnostics.HandlerNotMessage, at, method.Name, message.ToDisplayString()));
                continue;
            }
            if (byId.TryGetValue(id, out string? other))
            {
                diagnostics.Add(Info(MachDiagnostics.DuplicateHandler, at, method.Name, other, id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                continue;
            }
            byId[id] = method.Name;
            handlers.Add(new HandlerModel(method.Name, message.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), id));
        }
        if (handlers.Count == 0 && diagnostics.Count == 0)
        {
            diagnostics.Add(Info(MachDiagnostics.NoHandlers, where, type.Name));
        }

        bool emittable = diagnostics.All(d => d.Id == MachDiagnostics.NoHandlers.Id);
        string ns = type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString();
        ServerModel? model = emittable
            ? new ServerModel(ns, type.Name, (ns.Length == 0 ? string.Empty : ns + ".") + type.Name,
                new EquatableArray<HandlerModel>(handlers.OrderBy(h => h.Id).ToArray()))
            : null;
        return new ServerParseResult(model, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));
    }

    private static DiagnosticInfo Info(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, new EquatableArray<string>(arguments));
}
