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
        foreach (ISymbol member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (member is not IMethodSymbol { MethodKind: MethodKind.Ordinary } method || method.Parameters.Length == 0)
            {
                continue;
            }
            LocationInfo? at = LocationInfo.From(method.Locations.FirstOrDefault());
            if (method.Parameters[0].Type is not INamedTypeSymbol parameter
                || parameter.OriginalDefinition.ToDisplayString() != ReceivedType)
            {
                if (LooksLikeHandlerTakingMessage(method) is { } id)
                {
                    string taken = method.Parameters[0].Type.ToDisplayString();
                    diagnostics.Add(Info(MachDiagnostics.HandlerTakesMessage, at, method.Name, taken, Format(id)));
                }
                continue;
            }
            string? broken = BrokenHandlerRules(method);
            if (broken is not null)
            {
                diagnostics.Add(Info(MachDiagnostics.InvalidHandler, at, method.Name, broken));
                continue;
            }
            ITypeSymbol message = parameter.TypeArguments[0];
            if (MessageId(message) is not int messageId)
            {
                diagnostics.Add(Info(MachDiagnostics.HandlerNotMessage, at, method.Name, message.ToDisplayString()));
                continue;
            }
            var handler = new HandlerModel(method.Name, message.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), messageId);
            if (handlers.FirstOrDefault(h => h.Id == messageId) is { } other)
            {
                diagnostics.Add(other.MessageType == handler.MessageType
                    ? Info(MachDiagnostics.DuplicateHandler, at, method.Name, other.MethodName, message.ToDisplayString())
                    : Info(MachDiagnostics.DuplicateId, at, method.Name, message.ToDisplayString(), Format(messageId),
                        other.MessageType.Substring("global::".Length), other.MethodName));
                continue;
            }
            handlers.Add(handler);
        }
        if (handlers.Count == 0 && diagnostics.Count == 0)
        {
            diagnostics.Add(Info(MachDiagnostics.NoHandlers, where, type.Name));
        }

        // Warnings leave the server emittable: it still implements IMachDispatcher.
        bool emittable = diagnostics.All(d => MachDiagnostics.ById(d.Id).DefaultSeverity != DiagnosticSeverity.Error);
        string ns = type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString();
        ServerModel? model = emittable
            ? new ServerModel(ns, type.Name, (ns.Length == 0 ? string.Empty : ns + ".") + type.Name,
                new EquatableArray<HandlerModel>(handlers.OrderBy(h => h.Id).ToArray()))
            : null;
        return new ServerParseResult(model, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()), where);
    }

    /// <summary>The <c>[MachMessage]</c> id of <paramref name="type"/>, or null when it is not a message.</summary>
    private static int? MessageId(ITypeSymbol type)
    {
        AttributeData? attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == MessageAttribute);
        return attribute is { ConstructorArguments.Length: 1 } && attribute.ConstructorArguments[0].Value is int id ? id : null;
    }

    /// <summary>
    /// A method that would be a handler if it took <c>MachReceived&lt;T&gt;</c> instead of the message <c>T</c>
    /// itself: an instance method returning void with one message parameter passed by value or <c>in</c>. Static
    /// methods and <c>ref</c>/<c>out</c> parameters look like helpers that fill a message, so they are left alone.
    /// </summary>
    private static int? LooksLikeHandlerTakingMessage(IMethodSymbol method) =>
        method is { IsStatic: false, ReturnsVoid: true, IsGenericMethod: false, Parameters.Length: 1 }
        && method.Parameters[0].RefKind is RefKind.None or RefKind.In
            ? MessageId(method.Parameters[0].Type)
            : null;

    /// <summary>Every handler rule <paramref name="method"/> breaks, as one sentence, or null when it keeps them all.</summary>
    private static string? BrokenHandlerRules(IMethodSymbol method)
    {
        var broken = new List<string>();
        if (!method.ReturnsVoid)
        {
            broken.Add($"must return void (it returns '{method.ReturnType.ToDisplayString()}')");
        }
        if (method.Parameters.Length != 1)
        {
            broken.Add($"must take exactly one parameter, the MachReceived<T> (it takes {Format(method.Parameters.Length)})");
        }
        if (method.Parameters[0].RefKind != RefKind.None)
        {
            broken.Add($"must take its MachReceived<T> by value (it is passed '{RefKindText(method.Parameters[0].RefKind)}')");
        }
        if (method.IsStatic)
        {
            broken.Add("must be an instance method (it is static)");
        }
        if (method.IsGenericMethod)
        {
            broken.Add("must not be generic (the server calls it for one message type)");
        }
        return broken.Count == 0 ? null : string.Join("; ", broken);
    }

    private static string RefKindText(RefKind kind) => kind switch
    {
        RefKind.Ref => "ref",
        RefKind.Out => "out",
        RefKind.In => "in",
        _ => "ref readonly",
    };

    private static string Format(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static DiagnosticInfo Info(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, new EquatableArray<string>(arguments));
}
