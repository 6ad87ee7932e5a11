using System;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Parsing;

/// <summary>Why a field type has no layout the generator can use; each maps to one diagnostic.</summary>
internal enum LayoutProblem
{
    None,
    /// <summary>MACHIPC002: not blittable, or meaningless in another process.</summary>
    NotBlittable,
    /// <summary>MACHIPC017: blittable, but no C struct has its layout (auto or explicit layout, a short <c>Size</c>).</summary>
    NoCLayout,
    /// <summary>MACHIPC019: its layout is not visible at compile time (a reference assembly hides its fields).</summary>
    NotVisible,
}

/// <summary>The C size and alignment of a field type, or why it has none.</summary>
internal readonly struct TypeLayout
{
    public TypeLayout(int size, int alignment)
    {
        Size = size;
        Alignment = alignment;
        Error = null;
        Problem = LayoutProblem.None;
    }

    private TypeLayout(LayoutProblem problem, string error)
    {
        Size = 0;
        Alignment = 1;
        Error = error;
        Problem = problem;
    }

    public int Size { get; }

    public int Alignment { get; }

    public string? Error { get; }

    public LayoutProblem Problem { get; }

    public static TypeLayout Invalid(string reason) => new(LayoutProblem.NotBlittable, reason);

    private static TypeLayout NoCLayout(string reason) => new(LayoutProblem.NoCLayout, reason);

    private static TypeLayout NotVisible(string reason) => new(LayoutProblem.NotVisible, reason);

    private TypeLayout Because(string reason) => new(Problem, reason);

    public static int Align(int offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    // BCL structs whose memory layout is part of their contract. Their reference assemblies show only a
    // placeholder field, so the layout comes from the contract, each with the C type that mirrors it:
    //   Guid     GUID { uint32_t Data1; uint16_t Data2, Data3; uint8_t Data4[8]; }: the COM interop contract
    //            passes a Guid* as a REFIID, and Guid(uint, ushort, ushort, byte x 8) takes exactly those fields.
    //   Half     IEEE 754 binary16 (C _Float16): BitConverter.HalfToUInt16Bits is its bit pattern.
    //   Int128   __int128 and unsigned __int128: the CLR's type loader aligns them to 16 as the SysV x86-64
    //            and AAPCS64 ABIs do (dotnet/runtime#69204); MachIpc runs only on those 64-bit ABIs.
    //   NFloat   CGFloat: C float on 32-bit and double on 64-bit platforms, by its documentation; 64-bit here.
    // Every other BCL struct whose fields are private (TimeSpan, DateTime, Complex, ...) is rejected below:
    // nothing promises its layout, and DateTime is LayoutKind.Auto in the runtime.
    private static readonly (string Name, int Size, int Alignment)[] s_documentedLayouts =
    {
        ("System.Guid", 16, 4),
        ("System.Half", 2, 2),
        ("System.Int128", 16, 16),
        ("System.UInt128", 16, 16),
        ("System.Runtime.InteropServices.NFloat", 8, 8),
    };

    /// <summary>The layout of a field's storage: its type's, or for a fixed buffer its element's repeated.</summary>
    public static TypeLayout OfField(IFieldSymbol field, Compilation compilation, int depth = 0)
    {
        if (field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer)
        {
            TypeLayout element = Of(pointer.PointedAtType, compilation, depth + 1);
            return element.Error is null ? new TypeLayout(element.Size * field.FixedSize, element.Alignment) : element;
        }
        return Of(field.Type, compilation, depth + 1);
    }

    /// <summary>
    /// This layout as a field of a struct packed to <paramref name="pack"/> (0 = natural alignment): C and the CLR
    /// both cap its alignment at the packing. A struct whose <c>[StructLayout(Size = n)]</c> is below its natural
    /// size has a size that is not a multiple of its alignment (the CLR does not pad it); a C compiler always pads
    /// a struct to a multiple of its alignment, so no C peer can declare such a field unless the packing hides it.
    /// </summary>
    public TypeLayout PlacedIn(int pack)
    {
        int alignment = pack == 0 ? Alignment : Math.Min(pack, Alignment);
        if (Error is not null || Size % alignment == 0)
        {
            return Error is null ? new TypeLayout(Size, alignment) : this;
        }
        return NoCLayout($"it is {Size} bytes with {alignment}-byte alignment here: its [StructLayout(Size = ...)] is below its " +
            "natural size and the CLR does not pad it, but every C struct is padded to a multiple of its alignment");
    }

    /// <summary>
    /// Computes the layout the CLR gives <paramref name="type"/> as a sequential blittable field, which for the types
    /// accepted here is also the layout a C compiler gives its C mirror. Types whose layout has no C mirror, or cannot
    /// be seen at compile time, get a reason instead.
    /// </summary>
    public static TypeLayout Of(ITypeSymbol type, Compilation compilation, int depth = 0)
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
                return type is INamedTypeSymbol { EnumUnderlyingType: { } underlying } ? Of(underlying, compilation, depth + 1) : Invalid("unknown enum");
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
            // The SDK's own mirrors of <mach/message.h>, declared there under #pragma pack(4).
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
        }
        if (named.IsGenericType)
        {
            return Invalid("generic structs (including Nullable<T>) are not supported");
        }
        foreach ((string Name, int Size, int Alignment) documented in s_documentedLayouts)
        {
            if (name == documented.Name && SymbolEqualityComparer.Default.Equals(named, compilation.GetTypeByMetadataName(documented.Name)))
            {
                return new TypeLayout(documented.Size, documented.Alignment);
            }
        }

        LayoutKind kind = LayoutKind.Sequential;
        int pack = 0;
        int explicitSize = 0;
        int inlineArrayLength = 0;
        bool fromSource = named.DeclaringSyntaxReferences.Length > 0;
        if (!fromSource)
        {
            if (MetadataLayout.Read(named) is not MetadataLayout row)
            {
                return NotVisible($"the layout of '{name}' cannot be read from the metadata of '{named.ContainingAssembly?.Name}'");
            }
            if (!row.AllFieldsPublic && IsReferenceAssembly(named.ContainingAssembly))
            {
                return NotVisible($"'{name}' comes from the reference assembly '{named.ContainingAssembly!.Name}', which need not carry its " +
                    "private fields (the .NET reference assemblies replace them with a placeholder), so its layout is unknown at " +
                    "compile time; send its contents as primitive fields");
            }
            if (row.InstanceFields != InstanceFieldCount(named))
            {
                return NotVisible($"the compiler does not import every field of '{name}' from '{named.ContainingAssembly?.Name}'");
            }
            (kind, pack, explicitSize) = (row.Kind, row.Pack, row.Size);
        }
        foreach (AttributeData attribute in named.GetAttributes())
        {
            string? attributeName = attribute.AttributeClass?.ToDisplayString();
            if (attributeName == "System.Runtime.CompilerServices.InlineArrayAttribute" &&
                attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int length)
            {
                inlineArrayLength = length;
            }
            else if (fromSource && attributeName == "System.Runtime.InteropServices.StructLayoutAttribute")
            {
                // Source symbols keep the pseudo-attribute; metadata symbols carry it as the row read above.
                if (attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is { } k)
                {
                    kind = (LayoutKind)Convert.ToInt32(k, System.Globalization.CultureInfo.InvariantCulture);
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
        if (kind == LayoutKind.Auto)
        {
            return NoCLayout($"'{name}' has LayoutKind.Auto: the CLR may reorder and pad its fields as it likes");
        }
        if (kind != LayoutKind.Sequential)
        {
            return NoCLayout($"'{name}' has an explicit layout; declare its fields in order with a sequential layout");
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
            TypeLayout fieldLayout = OfField(field, compilation, depth).PlacedIn(pack);
            if (fieldLayout.Error is not null)
            {
                return fieldLayout.Because($"its field '{field.Name}' has no usable layout ({fieldLayout.Error})");
            }
            offset = Align(offset, fieldLayout.Alignment) + fieldLayout.Size;
            alignment = Math.Max(alignment, fieldLayout.Alignment);
        }

        if (inlineArrayLength > 0)
        {
            // [InlineArray(n)] repeats its single field n times.
            return fieldCount == 1 ? new TypeLayout(offset * inlineArrayLength, alignment) : Invalid("malformed inline array");
        }
        if (fieldCount == 0 && explicitSize == 0)
        {
            return NoCLayout($"'{name}' has no fields: the CLR gives it one byte, a C compiler none");
        }
        // The CLR's rule (coreclr vm/classlayoutinfo.cpp): a declared Size is a minimum and the result is not padded
        // to the alignment; without one, the size is padded to a multiple of the alignment, as in C.
        int size = explicitSize > 0 ? Math.Max(explicitSize, offset) : Align(offset, alignment);
        return new TypeLayout(size, alignment);
    }

    private static int InstanceFieldCount(INamedTypeSymbol type)
    {
        int count = 0;
        foreach (ISymbol member in type.GetMembers())
        {
            if (member is IFieldSymbol { IsStatic: false, IsConst: false })
            {
                count++;
            }
        }
        return count;
    }

    private static bool IsReferenceAssembly(IAssemblySymbol? assembly)
    {
        if (assembly is null)
        {
            return false;
        }
        foreach (AttributeData attribute in assembly.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() == "System.Runtime.CompilerServices.ReferenceAssemblyAttribute")
            {
                return true;
            }
        }
        return false;
    }
}
