using System;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Parsing;

/// <summary>The C size and alignment of a field type, or why it has none.</summary>
internal readonly struct TypeLayout
{
    public TypeLayout(int size, int alignment)
    {
        Size = size;
        Alignment = alignment;
        Error = null;
    }

    private TypeLayout(string error)
    {
        Size = 0;
        Alignment = 1;
        Error = error;
    }

    public int Size { get; }

    public int Alignment { get; }

    public string? Error { get; }

    public static TypeLayout Invalid(string reason) => new(reason);

    public static int Align(int offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    /// <summary>
    /// Computes the layout a C compiler gives <paramref name="type"/>, which for the blittable types accepted here is
    /// also the CLR's sequential layout. ABI structs are pinned to the Mach headers' <c>#pragma pack(4)</c> because
    /// the packing of a referenced assembly's struct is not visible through Roslyn's symbol API.
    /// </summary>
    public static TypeLayout Of(ITypeSymbol type, int depth = 0)
    {
        if (depth > 16)
        {
            return Invalid("the type nests too deeply");
        }
        switch (type.SpecialType)
        {
            case SpecialType.System_Boolean:
                return Invalid("bool has no fixed C size and is not blittable; use byte");
            case SpecialType.System_Char:
                return Invalid("char is a UTF-16 code unit with marshalling rules; use ushort");
            case SpecialType.System_String:
                return Invalid("strings are references; use a fixed byte buffer");
            case SpecialType.System_Decimal:
                return Invalid("decimal has no C equivalent");
            case SpecialType.System_Byte:
            case SpecialType.System_SByte:
                return new TypeLayout(1, 1);
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
                return new TypeLayout(2, 2);
            case SpecialType.System_Int32:
            case SpecialType.System_UInt32:
            case SpecialType.System_Single:
                return new TypeLayout(4, 4);
            case SpecialType.System_Int64:
            case SpecialType.System_UInt64:
            case SpecialType.System_Double:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
                return new TypeLayout(8, 8);
        }
        switch (type.TypeKind)
        {
            case TypeKind.Enum:
                return type is INamedTypeSymbol { EnumUnderlyingType: { } underlying } ? Of(underlying, depth + 1) : Invalid("unknown enum");
            case TypeKind.Array:
                return Invalid("arrays are references; use a fixed buffer or an out-of-line descriptor");
            case TypeKind.Pointer:
            case TypeKind.FunctionPointer:
                return Invalid("pointers are meaningless in another process; use an out-of-line descriptor");
            case TypeKind.Struct:
                break;
            default:
                return Invalid("reference types cannot be sent in a message");
        }

        var named = (INamedTypeSymbol)type;
        string name = named.ToDisplayString();
        switch (name)
        {
            case "MachIpc.Abi.MachMsgHeader": return new TypeLayout(24, 4);
            case "MachIpc.Abi.MachMsgBody": return new TypeLayout(4, 4);
            case "MachIpc.Abi.MachMsgBase": return new TypeLayout(28, 4);
            case "MachIpc.Abi.MachMsgPortDescriptor": return new TypeLayout(12, 4);
            case "MachIpc.Abi.MachMsgTypeDescriptor": return new TypeLayout(12, 4);
            case "MachIpc.Abi.MachMsgOolDescriptor": return new TypeLayout(16, 4);
            case "MachIpc.Abi.MachMsgOolPortsDescriptor": return new TypeLayout(16, 4);
            case "MachIpc.Abi.MachMsgGuardedPortDescriptor": return new TypeLayout(16, 4);
            case "MachIpc.Abi.AuditToken": return new TypeLayout(32, 4);
            case "MachIpc.Abi.SecurityToken": return new TypeLayout(8, 4);
            case "MachIpc.Abi.NdrRecord": return new TypeLayout(8, 1);
            case "System.Int128":
            case "System.UInt128":
                return Invalid("128-bit integers are aligned differently by C compilers and the CLR");
        }
        if (named.IsGenericType)
        {
            return Invalid("generic structs (including Nullable<T>) are not supported");
        }

        int inlineArrayLength = 0;
        int pack = 0;
        int explicitSize = 0;
        foreach (AttributeData attribute in named.GetAttributes())
        {
            string? attributeName = attribute.AttributeClass?.ToDisplayString();
            if (attributeName == "System.Runtime.CompilerServices.InlineArrayAttribute" &&
                attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int length)
            {
                inlineArrayLength = length;
            }
            else if (attributeName == "System.Runtime.InteropServices.StructLayoutAttribute")
            {
                if (attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int kind && kind != 0)
                {
                    return Invalid("only sequential struct layouts are supported");
                }
                foreach (var argument in attribute.NamedArguments)
                {
                    if (argument.Key == "Pack" && argument.Value.Value is int p)
                    {
                        pack = p;
                    }
                    else if (argument.Key == "Size" && argument.Value.Value is int s)
                    {
                        explicitSize = s;
                    }
                }
            }
        }

        int offset = 0;
        int alignment = 1;
        int fieldCount = 0;
        foreach (ISymbol member in named.GetMembers())
        {
            if (member is not IFieldSymbol { IsStatic: false, IsConst: false } field)
            {
                continue;
            }
            fieldCount++;
            TypeLayout fieldLayout;
            if (field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer)
            {
                TypeLayout element = Of(pointer.PointedAtType, depth + 1);
                fieldLayout = element.Error is null ? new TypeLayout(element.Size * field.FixedSize, element.Alignment) : element;
            }
            else
            {
                fieldLayout = Of(field.Type, depth + 1);
            }
            if (fieldLayout.Error is not null)
            {
                return Invalid($"its field '{field.Name}' is not blittable ({fieldLayout.Error})");
            }
            int fieldAlignment = pack == 0 ? fieldLayout.Alignment : Math.Min(pack, fieldLayout.Alignment);
            offset = Align(offset, fieldAlignment) + fieldLayout.Size;
            alignment = Math.Max(alignment, fieldAlignment);
        }

        if (inlineArrayLength > 0)
        {
            // [InlineArray(n)] repeats its single field n times.
            return fieldCount == 1 ? new TypeLayout(offset * inlineArrayLength, alignment) : Invalid("malformed inline array");
        }
        int size = Math.Max(Align(offset, alignment), explicitSize);
        return new TypeLayout(size, alignment);
    }
}
