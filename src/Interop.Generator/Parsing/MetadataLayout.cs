using System.IO;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Parsing;

/// <summary>
/// The layout a referenced (metadata) struct declares: its layout kind, <c>Pack</c> and <c>Size</c>.
/// <para>
/// <c>[StructLayout]</c> is a pseudo-attribute: the compiler stores it in the type's <c>TypeAttributes</c> and its
/// <c>ClassLayout</c> row (ECMA-335 II.22.8), not as a custom attribute, so <c>GetAttributes()</c> of a metadata
/// symbol does not return it, and Roslyn's public symbol API has no layout property (its <c>TypeLayout</c> is
/// internal). The public API does reach the metadata itself: the symbol's <see cref="ISymbol.MetadataToken"/>, its
/// module's <see cref="IModuleSymbol.GetMetadata"/> and <see cref="ModuleMetadata.GetMetadataReader"/>. The rows
/// read here are the ones the CLR's type loader reads.
/// </para>
/// </summary>
internal readonly struct MetadataLayout
{
    private MetadataLayout(LayoutKind kind, int pack, int size, int instanceFields, bool allPublic)
    {
        Kind = kind;
        Pack = pack;
        Size = size;
        InstanceFields = instanceFields;
        AllFieldsPublic = allPublic;
    }

    public LayoutKind Kind { get; }

    /// <summary>The declared packing, or 0 for the default (natural alignment).</summary>
    public int Pack { get; }

    /// <summary>The declared size, or 0 for none.</summary>
    public int Size { get; }

    /// <summary>
    /// Instance fields in the metadata. The compiler does not import every private field of a metadata struct
    /// (System.Runtime's DateTime shows none), so its symbol may have fewer.
    /// </summary>
    public int InstanceFields { get; }

    /// <summary>Whether every instance field is public (a reference assembly need carry only those faithfully).</summary>
    public bool AllFieldsPublic { get; }

    /// <summary>Reads the layout of <paramref name="type"/> from the metadata of its module, if it has one.</summary>
    public static MetadataLayout? Read(INamedTypeSymbol type)
    {
        ModuleMetadata? module;
        try
        {
            module = type.ContainingModule?.GetMetadata();
        }
        catch (System.Exception e) when (e is IOException or System.BadImageFormatException)
        {
            return null;
        }
        if (module is null)
        {
            return null;
        }
        MetadataReader reader = module.GetMetadataReader();
        EntityHandle handle = MetadataTokens.EntityHandle(type.MetadataToken);
        if (handle.Kind != HandleKind.TypeDefinition)
        {
            return null;
        }
        TypeDefinition definition = reader.GetTypeDefinition((TypeDefinitionHandle)handle);
        if (!reader.StringComparer.Equals(definition.Name, type.MetadataName))
        {
            return null;
        }
        System.Reflection.Metadata.TypeLayout row = definition.GetLayout();
        LayoutKind kind = (definition.Attributes & TypeAttributes.LayoutMask) switch
        {
            TypeAttributes.SequentialLayout => LayoutKind.Sequential,
            TypeAttributes.ExplicitLayout => LayoutKind.Explicit,
            _ => LayoutKind.Auto,
        };
        int instanceFields = 0;
        bool allPublic = true;
        foreach (FieldDefinitionHandle fieldHandle in definition.GetFields())
        {
            FieldAttributes attributes = reader.GetFieldDefinition(fieldHandle).Attributes;
            if ((attributes & FieldAttributes.Static) == 0)
            {
                instanceFields++;
                allPublic &= (attributes & FieldAttributes.FieldAccessMask) == FieldAttributes.Public;
            }
        }
        return new MetadataLayout(kind, row.PackingSize, row.Size, instanceFields, allPublic);
    }
}

/// <summary>The three layout kinds of <c>System.Runtime.InteropServices.LayoutKind</c>, with its values.</summary>
internal enum LayoutKind
{
    Sequential = 0,
    Explicit = 2,
    Auto = 3,
}
