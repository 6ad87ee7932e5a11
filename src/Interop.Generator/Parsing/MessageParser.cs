using System;
using System.Collections.Generic;
using System.Threading;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator.Parsing;

/// <summary>Turns one <c>[MachMessage]</c> struct into a symbol-free <see cref="MessageModel"/> plus diagnostics.</summary>
internal static class MessageParser
{
    private const string AbiNamespace = "MachIpc.Abi.";

    // Names the emitters declare in every message; a user member with one of them would not compile. The methods
    // among them (Prepare ... SetPayload) may be overloaded by a user's method, but not reused by a field or property.
    private static readonly string[] s_reservedNames =
    {
        "Prepare", "Send", "Receive", "SendReceive", "TryRead", "Validate",
        "MsgId", "SendSize", "MinSize", "DescriptorCount", "IsComplex", "RemoteDisposition", "LocalDisposition",
        "TrailerElements", "TrailerSize", "TrailerOffset", "ReceiveBufferSize", "TrailerOption", "Offsets", "SetPayload", "__MachMsg", "__Native",
    };

    // MACH_MSG_TYPE_* values (see the ABI fact sheet).
    private const int MoveReceive = 16;
    private const int MoveSend = 17;
    private const int MakeSendOnce = 21;

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (StructDeclarationSyntax)context.TargetNode;
        AttributeData attribute = context.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? typeLocation = LocationInfo.From(syntax.Identifier.GetLocation());
        LocationInfo? attributeLocation = LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()) ?? typeLocation;
        string typeName = symbol.Name;

        void Report(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
            diagnostics.Add(new DiagnosticInfo(descriptor.Id, location, new EquatableArray<string>(arguments)));

        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            Report(MachDiagnostics.NotPartial, typeLocation, typeName);
            return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()), attributeLocation);
        }
        if (symbol.ContainingType is not null)
        {
            Report(MachDiagnostics.UnsupportedDeclaration, typeLocation, typeName, "nested types are not supported; declare the message at namespace level");
        }
        if (symbol.IsGenericType)
        {
            Report(MachDiagnostics.UnsupportedDeclaration, typeLocation, typeName, "generic structs are not supported");
        }
        if (symbol.IsReadOnly || symbol.IsRefLikeType)
        {
            Report(MachDiagnostics.UnsupportedDeclaration, typeLocation, typeName, "readonly and ref structs are not supported; the generated Prepare writes the header");
        }
        foreach (AttributeData a in symbol.GetAttributes())
        {
            if (a.AttributeClass?.ToDisplayString() == "System.Runtime.InteropServices.StructLayoutAttribute")
            {
                Report(MachDiagnostics.UserStructLayout, LocationInfo.From(a.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()) ?? typeLocation, typeName);
            }
        }

        foreach (ISymbol member in symbol.GetMembers())
        {
            if (!member.IsImplicitlyDeclared && member is not IMethodSymbol && System.Array.IndexOf(s_reservedNames, member.Name) >= 0)
            {
                Report(MachDiagnostics.ReservedMemberName, LocationInfo.From(member.Locations.Length > 0 ? member.Locations[0] : null) ?? typeLocation, typeName, member.Name);
            }
        }

        // [MachMessage(id, Remote =, Local =, Trailer =, Layout =, MinSize =)]
        int id = attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int i ? i : 0;
        int remote = 19; // COPY_SEND
        int local = 0;
        int trailer = 3; // AUDIT
        int layout = 0;
        int minSize = 0;
        foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
        {
            int value = Convert.ToInt32(argument.Value.Value ?? 0, System.Globalization.CultureInfo.InvariantCulture);
            switch (argument.Key)
            {
                case "Remote": remote = value; break;
                case "Local": local = value; break;
                case "Trailer": trailer = value; break;
                case "Layout": layout = value; break;
                case "MinSize": minSize = value; break;
            }
        }
        if (id is >= 64 and <= 72)
        {
            Report(MachDiagnostics.ReservedId, attributeLocation, id.ToString(System.Globalization.CultureInfo.InvariantCulture), typeName);
        }
        if (remote is < MoveSend or > MakeSendOnce)
        {
            Report(MachDiagnostics.InvalidDisposition, attributeLocation, typeName,
                $"Remote disposition {remote} must be one of MoveSend, MoveSendOnce, CopySend, MakeSend, MakeSendOnce");
        }
        if (local != 0 && local is < MoveSend or > MakeSendOnce)
        {
            Report(MachDiagnostics.InvalidDisposition, attributeLocation, typeName,
                $"Local disposition {local} must be None or one of MoveSend, MoveSendOnce, CopySend, MakeSend, MakeSendOnce");
        }
        int trailerSize = trailer switch
        {
            0 => 8,
            1 => 12,
            2 => 20,
            3 => 52,
            4 => 60,
            7 or 8 => 68,
            _ => -1,
        };
        if (trailerSize < 0)
        {
            Report(MachDiagnostics.InvalidTrailer, attributeLocation, typeName, trailer.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var layoutKind = layout == 1 ? LayoutKindModel.Natural : LayoutKindModel.Pack4;

        ReportFieldsInSeveralParts(symbol, typeLocation, Report);

        Compilation compilation = context.SemanticModel.Compilation;
        var fields = new List<FieldModel>();
        int offset = 0;
        int alignment = 1;
        bool seenInline = false;
        bool seenDescriptor = false;
        int bodyIndex = -1;
        int index = 0;
        int descriptorsEnd = 0;
        LocationInfo? countLocation = null;
        foreach (ISymbol member in symbol.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (member is not IFieldSymbol { IsStatic: false, IsConst: false } field)
            {
                continue;
            }
            LocationInfo? fieldLocation = LocationInfo.From(field.Locations.Length > 0 ? field.Locations[0] : null) ?? typeLocation;
            if (field.AssociatedSymbol is not null)
            {
                LocationInfo? propertyLocation = LocationInfo.From(field.AssociatedSymbol.Locations.Length > 0 ? field.AssociatedSymbol.Locations[0] : null) ?? typeLocation;
                Report(MachDiagnostics.FieldNotBlittable, propertyLocation, field.AssociatedSymbol.Name, field.Type.ToDisplayString(),
                    "auto-properties hide their storage; declare a field");
                index++;
                continue;
            }

            TypeLayout fieldLayout = TypeLayout.OfField(field, compilation).PlacedIn(layoutKind == LayoutKindModel.Pack4 ? 4 : 0);
            if (fieldLayout.Error is not null)
            {
                DiagnosticDescriptor descriptor = fieldLayout.Problem switch
                {
                    LayoutProblem.NoCLayout => MachDiagnostics.NoCLayout,
                    LayoutProblem.NotVisible => MachDiagnostics.LayoutNotVisible,
                    _ => MachDiagnostics.FieldNotBlittable,
                };
                Report(descriptor, fieldLocation, field.Name, field.Type.ToDisplayString(), fieldLayout.Error);
                index++;
                continue;
            }

            string typeFullName = field.Type.ToDisplayString();
            FieldKind kind = typeFullName switch
            {
                AbiNamespace + "MachMsgHeader" when index == 0 => FieldKind.Header,
                AbiNamespace + "MachMsgBody" => FieldKind.Body,
                AbiNamespace + "MachMsgPortDescriptor" => FieldKind.PortDescriptor,
                AbiNamespace + "MachMsgOolDescriptor" => FieldKind.OolDescriptor,
                AbiNamespace + "MachMsgOolPortsDescriptor" => FieldKind.OolPortsDescriptor,
                _ => FieldKind.Inline,
            };
            if (typeFullName.StartsWith(AbiNamespace + "MachMsg", StringComparison.Ordinal) && typeFullName.EndsWith("Trailer", StringComparison.Ordinal))
            {
                Report(MachDiagnostics.TrailerField, fieldLocation, field.Name);
            }
            if (typeFullName is AbiNamespace + "MachMsgGuardedPortDescriptor" or AbiNamespace + "MachMsgTypeDescriptor")
            {
                Report(MachDiagnostics.FieldNotBlittable, fieldLocation, field.Name, typeFullName, "this descriptor kind is not supported by the generator");
            }
            if (index == 0 && kind != FieldKind.Header)
            {
                Report(MachDiagnostics.HeaderNotFirst, typeLocation, typeName);
            }

            int disposition = 0;
            int copy = 0;
            bool deallocate = false;
            long minBytes = 0;
            long maxBytes = 0;
            switch (kind)
            {
                case FieldKind.Body:
                    bodyIndex = index;
                    if (index != 1)
                    {
                        Report(MachDiagnostics.BodyMissing, fieldLocation, typeName, "the body is not the second field");
                    }
                    break;
                case FieldKind.PortDescriptor:
                case FieldKind.OolDescriptor:
                case FieldKind.OolPortsDescriptor:
                    if (seenInline)
                    {
                        Report(MachDiagnostics.DescriptorAfterInlineData, fieldLocation, field.Name);
                    }
                    if (bodyIndex < 0)
                    {
                        Report(MachDiagnostics.BodyMissing, fieldLocation, typeName, $"descriptor '{field.Name}' has no body before it");
                    }
                    seenDescriptor = true;
                    ReadDescriptorAttributes(field, kind, fieldLocation, Report, ref disposition, ref copy, ref deallocate, ref minBytes, ref maxBytes);
                    break;
                case FieldKind.Inline:
                    if (index > 0)
                    {
                        seenInline = true;
                    }
                    break;
            }

            string scalarType = "";
            int elementCount = 0;
            bool isCount = false;
            if (kind == FieldKind.Inline && field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer)
            {
                scalarType = pointer.PointedAtType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                elementCount = field.FixedSize;
            }
            foreach (AttributeData a in field.GetAttributes())
            {
                if (a.AttributeClass?.ToDisplayString() == "MachIpc.Messages.MachCountAttribute")
                {
                    isCount = true;
                    scalarType = field.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                    if (kind != FieldKind.Inline || field.Type.SpecialType is not (SpecialType.System_Byte or SpecialType.System_UInt16 or SpecialType.System_Int16
                        or SpecialType.System_UInt32 or SpecialType.System_Int32 or SpecialType.System_UInt64 or SpecialType.System_Int64))
                    {
                        Report(MachDiagnostics.InvalidCount, fieldLocation, field.Name, typeName, "a count is an integer field of inline data (byte, short, ushort, int, uint, long or ulong)");
                    }
                    countLocation ??= fieldLocation;
                }
            }

            int fieldAlignment = fieldLayout.Alignment;
            offset = TypeLayout.Align(offset, fieldAlignment);
            string name = SyntaxFacts.GetKeywordKind(field.Name) != SyntaxKind.None ? "@" + field.Name : field.Name;
            fields.Add(new FieldModel(name, kind, offset, fieldLayout.Size, disposition, copy, deallocate, minBytes, maxBytes, scalarType, elementCount, isCount));
            offset += fieldLayout.Size;
            alignment = Math.Max(alignment, fieldAlignment);
            if (kind is FieldKind.Header or FieldKind.Body or FieldKind.PortDescriptor or FieldKind.OolDescriptor or FieldKind.OolPortsDescriptor)
            {
                descriptorsEnd = offset;
            }
            index++;
        }
        if (index == 0)
        {
            Report(MachDiagnostics.HeaderNotFirst, typeLocation, typeName);
        }
        _ = seenDescriptor;

        int sendSize = TypeLayout.Align(offset, alignment);
        if (minSize == 0)
        {
            minSize = sendSize;
        }
        else if (minSize % 4 != 0 || minSize < descriptorsEnd || minSize > sendSize)
        {
            Report(MachDiagnostics.InvalidMinSize, attributeLocation,
                minSize.ToString(System.Globalization.CultureInfo.InvariantCulture), typeName,
                descriptorsEnd.ToString(System.Globalization.CultureInfo.InvariantCulture),
                sendSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        ReportCountProblems(fields, minSize, sendSize, typeName, countLocation, Report);

        var diagnosticArray = new EquatableArray<DiagnosticInfo>(diagnostics.ToArray());
        if (diagnostics.Count > 0)
        {
            return new ParseResult(null, diagnosticArray, attributeLocation);
        }
        string ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : string.Empty;
        var model = new MessageModel(
            ns,
            typeName,
            ns.Length == 0 ? typeName : ns + "." + typeName,
            id,
            remote,
            local,
            trailer,
            trailerSize,
            layoutKind,
            sendSize,
            minSize,
            alignment,
            new EquatableArray<FieldModel>(fields.ToArray()));
        return new ParseResult(model, diagnosticArray, attributeLocation);
    }

    /// <summary>
    /// A <c>[MachCount]</c> counts the elements of the trailing fixed-size buffer of a variable-length message, so there is
    /// one, before that buffer and inside the part every receiver gets (<c>MinSize</c>), wide enough for the buffer's length.
    /// </summary>
    private static void ReportCountProblems(List<FieldModel> fields, int minSize, int sendSize, string typeName, LocationInfo? location, Reporter report)
    {
        FieldModel? count = null;
        foreach (FieldModel f in fields)
        {
            if (f.IsCount)
            {
                if (count is not null)
                {
                    report(MachDiagnostics.InvalidCount, location, f.Name, typeName, $"'{count.Name}' is already the count");
                    return;
                }
                count = f;
            }
        }
        if (count is null)
        {
            return;
        }
        FieldModel last = fields[fields.Count - 1];
        string? problem = null;
        if (minSize == sendSize || last.ElementCount == 0)
        {
            problem = "the message must be variable-length (MinSize) and end with a fixed-size buffer";
        }
        else if (count.Offset + count.Size > minSize)
        {
            problem = $"it ends at {count.Offset + count.Size}, after MinSize {minSize}, so a short message would not carry it";
        }
        else if (count.Size < 8 && last.ElementCount >= 1L << (count.Size * 8 - (count.ScalarType is "short" or "int" ? 1 : 0)))
        {
            problem = $"a {count.ScalarType} cannot hold the buffer's length {last.ElementCount}";
        }
        if (problem is not null)
        {
            report(MachDiagnostics.InvalidCount, location, count.Name, typeName, problem);
        }
    }

    private delegate void Reporter(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments);

    /// <summary>
    /// The field order rule: a C struct has one declaration, and C# leaves the order of fields declared in different
    /// parts of a partial struct undefined (CS0282), so every instance field of a message (auto-property storage too)
    /// must be in the part that declares its first one. Reported once, at the first field outside that part.
    /// </summary>
    private static void ReportFieldsInSeveralParts(INamedTypeSymbol symbol, LocationInfo? typeLocation, Reporter report)
    {
        if (symbol.DeclaringSyntaxReferences.Length < 2)
        {
            return;
        }
        int firstPart = -1;
        string firstName = "";
        foreach (ISymbol member in symbol.GetMembers())
        {
            if (member is not IFieldSymbol { IsStatic: false, IsConst: false } field)
            {
                continue;
            }
            ISymbol declared = field.AssociatedSymbol ?? field;
            Location? location = declared.Locations.Length > 0 ? declared.Locations[0] : null;
            int part = -1;
            for (int i = 0; location is not null && i < symbol.DeclaringSyntaxReferences.Length; i++)
            {
                SyntaxReference reference = symbol.DeclaringSyntaxReferences[i];
                if (reference.SyntaxTree == location.SourceTree && reference.Span.Contains(location.SourceSpan))
                {
                    part = i;
                }
            }
            if (firstPart < 0)
            {
                (firstPart, firstName) = (part, declared.Name);
            }
            else if (part != firstPart)
            {
                report(MachDiagnostics.FieldsInSeveralParts, LocationInfo.From(location) ?? typeLocation, symbol.Name, declared.Name, firstName);
                return;
            }
        }
    }

    private static void ReadDescriptorAttributes(
        IFieldSymbol field, FieldKind kind, LocationInfo? location, Reporter report,
        ref int disposition, ref int copy, ref bool deallocate, ref long minBytes, ref long maxBytes)
    {
        string expected = kind switch
        {
            FieldKind.PortDescriptor => "MachIpc.Messages.MachPortAttribute",
            FieldKind.OolDescriptor => "MachIpc.Messages.MachOolAttribute",
            _ => "MachIpc.Messages.MachOolPortsAttribute",
        };
        AttributeData? found = null;
        foreach (AttributeData a in field.GetAttributes())
        {
            if (a.AttributeClass?.ToDisplayString() == expected)
            {
                found = a;
            }
        }

        if (kind == FieldKind.OolDescriptor)
        {
            copy = 1; // MACH_MSG_VIRTUAL_COPY
            maxBytes = int.MaxValue;
        }
        else
        {
            maxBytes = 16383;
        }
        if (found is null)
        {
            if (kind != FieldKind.OolDescriptor)
            {
                string shortName = expected.Substring("MachIpc.Messages.".Length, expected.Length - "MachIpc.Messages.".Length - "Attribute".Length);
                report(MachDiagnostics.InvalidDisposition, location, $"Descriptor '{field.Name}'", $"declare its disposition with [{shortName}(...)]");
            }
            return;
        }
        if (kind != FieldKind.OolDescriptor && found.ConstructorArguments.Length == 1)
        {
            disposition = Convert.ToInt32(found.ConstructorArguments[0].Value ?? 0, System.Globalization.CultureInfo.InvariantCulture);
            if (disposition is < MoveReceive or > MakeSendOnce)
            {
                report(MachDiagnostics.InvalidDisposition, location, $"Descriptor '{field.Name}'",
                    $"disposition {disposition} must be one of MoveReceive, MoveSend, MoveSendOnce, CopySend, MakeSend, MakeSendOnce");
            }
        }
        if (kind == FieldKind.OolPortsDescriptor)
        {
            copy = 0; // MACH_MSG_PHYSICAL_COPY
        }
        foreach (KeyValuePair<string, TypedConstant> argument in found.NamedArguments)
        {
            object value = argument.Value.Value ?? 0;
            switch (argument.Key)
            {
                case "MaxSize":
                case "MaxCount":
                    maxBytes = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "MinSize":
                    minBytes = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "Copy":
                    copy = Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "Deallocate":
                    deallocate = value is true;
                    break;
            }
        }
        if (minBytes < 0 || maxBytes < 0 || minBytes > maxBytes)
        {
            report(MachDiagnostics.InvalidOolBounds, location, field.Name,
                $"MinSize {minBytes} and Max {maxBytes} must satisfy 0 <= MinSize <= Max");
        }
        if (copy is not (0 or 1))
        {
            report(MachDiagnostics.InvalidOolBounds, location, field.Name, $"copy option {copy} must be Physical or Virtual");
        }
    }
}
