namespace MachIpc.Generator.Parsing.Mig;

/// <summary>
/// A MIG type as migcom models it (type.c's <c>ipc_type_t</c>): the element size in bits, the number of elements,
/// whether the data is inline, a port, a string or a variable array, and the port names it is sent and received as.
/// Declarations build new types from old ones exactly as migcom's <c>itArrayDecl</c>, <c>itVarArrayDecl</c>,
/// <c>itPtrDecl</c>, <c>itStructDecl</c> and <c>itCStringDecl</c> do, so sizes and shapes come out the same.
/// </summary>
internal sealed class MigType
{
    // MACH_MSG_TYPE_* values of the MIG (not the kernel) vocabulary, from migcom's type.h and <mach/message.h>.
    public const int Polymorphic = -1;
    public const int TypeBoolean = 0;
    public const int TypeInteger16 = 1;
    public const int TypeInteger32 = 2;
    public const int TypeInteger64 = 3;
    public const int TypeChar = 8;
    public const int TypeByte = 9;
    public const int TypeReal32 = 10;
    public const int TypeReal64 = 11;
    public const int TypeStringC = 12;
    public const int TypePortName = 15;
    public const int MoveReceive = 16;
    public const int MoveSend = 17;
    public const int MoveSendOnce = 18;
    public const int CopySend = 19;
    public const int MakeSend = 20;
    public const int MakeSendOnce = 21;
    public const int PortReceive = MoveReceive;
    public const int PortSend = MoveSend;
    public const int PortSendOnce = MoveSendOnce;

    private MigType()
    {
    }

    /// <summary>MIG's name for the type, or null for an anonymous one (an argument's inline declaration).</summary>
    public string? Name { get; private set; }

    /// <summary>The type this one was made from (<c>itElement</c>): the declared type of the elements of an array.</summary>
    public MigType? Element { get; private set; }

    /// <summary>The name supplied to the kernel when sending (a disposition for ports).</summary>
    public int InName { get; private set; }

    /// <summary>The name received from the kernel (a received right type for ports).</summary>
    public int OutName { get; private set; }

    /// <summary>Bits per element (<c>itSize</c>).</summary>
    public int Size { get; private set; }

    /// <summary>Number of elements (<c>itNumber</c>), 0 for an unbounded array.</summary>
    public int Number { get; private set; } = 1;

    /// <summary>Number of kernel-processed descriptors the type takes (<c>itKPD_Number</c>).</summary>
    public int KpdNumber { get; private set; }

    public bool InLine { get; private set; } = true;

    /// <summary>An unbounded array presented inline but sent out of line (<c>itMigInLine</c>).</summary>
    public bool MigInLine { get; private set; }

    public bool PortType { get; private set; }

    public bool Struct { get; private set; } = true;

    public bool IsString { get; private set; }

    public bool VarArray { get; private set; }

    /// <summary>The bound of a bounded out-of-line array (<c>itOOL_Number</c>).</summary>
    public int OolNumber { get; private set; }

    /// <summary>A <c>PointerTo</c>/<c>ValueOf</c> native C type: outside MachIpc's subset.</summary>
    public bool Native { get; private set; }

    public int TypeSize { get; private set; }

    public int PadSize { get; private set; }

    public int MinTypeSize { get; private set; }

    /// <summary>Kernel-processed data: a port or out-of-line memory, carried in a descriptor (<c>IS_KERN_PROC_DATA</c>).</summary>
    public bool IsKernelProcessed => !InLine || PortType;

    /// <summary>Inline data whose size varies with a count (<c>IS_VARIABLE_SIZED_UNTYPED</c>).</summary>
    public bool IsVariableInline => VarArray && InLine && !PortType;

    public bool IsMultipleKpd => KpdNumber > 1;

    public static bool IsPortName(int name) => name is >= MoveReceive and <= MakeSendOnce;

    /// <summary><c>itShortDecl</c>: a basic type such as <c>MACH_MSG_TYPE_INTEGER_32</c> or a port disposition.</summary>
    public static MigType Basic(int inName, int outName, int bits)
    {
        var t = new MigType { InName = inName, OutName = outName, Size = bits };
        if (inName == TypeStringC)
        {
            t.Struct = false;
            t.IsString = true;
        }
        if (IsPortName(inName) || inName == Polymorphic)
        {
            t.PortType = true;
            t.KpdNumber = 1;
        }
        t.CalculateSize();
        return t;
    }

    /// <summary><c>type new = old;</c> (<c>itPrevDecl</c>): a copy that remembers where it came from.</summary>
    public MigType Copy()
    {
        var t = (MigType)MemberwiseClone();
        t.Name = null;
        t.Element = this;
        return t;
    }

    public void SetName(string name) => Name = name;

    /// <summary><c>array[] of</c>, <c>array[*] of</c> and <c>array[*:n] of</c> (<c>itVarArrayDecl</c>); null when too complicated.</summary>
    public MigType? VariableArray(int number)
    {
        MigType t = Copy();
        if (!t.InLine)
        {
            if (t.KpdNumber != 1 || number == 0)
            {
                return null;
            }
            t.KpdNumber *= number;
            t.Number = 1;
            t.Struct = false;
            t.OolNumber = number;
        }
        else if (t.VarArray)
        {
            return null;
        }
        else if (number != 0)
        {
            // Bounded: inline.
            t.Number *= number;
            t.Struct = false;
            if (t.PortType)
            {
                t.KpdNumber *= number;
            }
            t.OolNumber = number;
        }
        else
        {
            // Unbounded: presented inline, sent out of line.
            t.Number = 0;
            t.MigInLine = true;
            t.InLine = false;
            t.Struct = true;
            t.KpdNumber = 1;
            t.OolNumber = 0;
        }
        t.VarArray = true;
        t.IsString = false;
        t.CalculateSize();
        return t;
    }

    /// <summary><c>array[n] of</c> (<c>itArrayDecl</c>); null when too complicated.</summary>
    public MigType? FixedArray(int number)
    {
        MigType t = Copy();
        if (!t.InLine)
        {
            if (t.KpdNumber != 1)
            {
                return null;
            }
            t.KpdNumber *= number;
            t.Number = 1;
            t.Struct = false;
            t.IsString = false;
            t.VarArray = false;
        }
        else if (t.VarArray)
        {
            return null;
        }
        else
        {
            t.Number *= number;
            t.Struct = false;
            t.IsString = false;
            if (t.PortType)
            {
                t.KpdNumber *= number;
            }
        }
        t.CalculateSize();
        return t;
    }

    /// <summary><c>^ type</c> (<c>itPtrDecl</c>): out of line; null when it already is.</summary>
    public MigType? Pointer()
    {
        if (!InLine && !MigInLine)
        {
            return null;
        }
        MigType t = (MigType)MemberwiseClone();
        t.InLine = false;
        t.Struct = true;
        t.IsString = false;
        t.MigInLine = false;
        t.KpdNumber = 1;
        t.CalculateSize();
        return t;
    }

    /// <summary><c>struct[n] of</c> (<c>itStructDecl</c>); null when too complicated.</summary>
    public MigType? StructOf(int number)
    {
        MigType t = Copy();
        if (!t.InLine || t.VarArray)
        {
            return null;
        }
        t.Number *= number;
        t.Struct = true;
        t.IsString = false;
        t.CalculateSize();
        return t;
    }

    /// <summary><c>c_string[n]</c> and <c>c_string[*:n]</c> (<c>itCStringDecl</c>).</summary>
    public static MigType CString(int count, bool varying)
    {
        MigType element = Basic(TypeStringC, TypeStringC, 8);
        element.Name = "char";
        MigType t = element.Copy();
        t.Number = count;
        t.VarArray = varying;
        t.Struct = false;
        t.IsString = true;
        t.CalculateSize();
        return t;
    }

    /// <summary>A <c>PointerTo(...)</c> or <c>ValueOf(...)</c> native type.</summary>
    public static MigType NativeType() => new() { Native = true, InName = TypeByte, OutName = TypeByte };

    /// <summary><c>itCalculateSizeInfo</c>: the inline size, MIG's padding to 4, and the smallest size.</summary>
    private void CalculateSize()
    {
        if (!IsKernelProcessed)
        {
            int bytes = ((Number * Size) + 7) / 8;
            TypeSize = bytes;
            PadSize = (bytes & 3) != 0 ? 4 - (bytes & 3) : 0;
            // A variable array contributes only its count (and a string its offset) when it is empty.
            MinTypeSize = IsVariableInline ? (IsString ? 8 : 4) : bytes + PadSize;
        }
        else
        {
            TypeSize = IsMultipleKpd ? KpdNumber * 12 : 12;
            PadSize = 0;
            MinTypeSize = TypeSize;
        }
    }
}
