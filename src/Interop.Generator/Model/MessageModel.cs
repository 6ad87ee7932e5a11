namespace MachIpc.Generator.Model;

/// <summary>What a message field is, as far as the Mach ABI is concerned.</summary>
internal enum FieldKind
{
    Header,
    Body,
    PortDescriptor,
    OolDescriptor,
    OolPortsDescriptor,
    Inline,
}

/// <summary>Mirrors <c>MachIpc.Messages.MachMessageLayout</c>.</summary>
internal enum LayoutKindModel
{
    Pack4 = 0,
    Natural = 1,
}

/// <summary>One instance field of a message, with its C offset and what the generator must do with it.</summary>
/// <param name="Name">The field name as declared (already escaped if it is a keyword).</param>
/// <param name="Kind">Header, body, descriptor kind or inline data.</param>
/// <param name="Offset">C offset in bytes.</param>
/// <param name="Size">C size in bytes.</param>
/// <param name="Disposition">Declared disposition for port and OOL-ports descriptors (<c>MACH_MSG_TYPE_*</c>).</param>
/// <param name="Copy">OOL / OOL-ports copy option.</param>
/// <param name="Deallocate">OOL / OOL-ports deallocate flag.</param>
/// <param name="MinBytes">OOL minimum size.</param>
/// <param name="MaxBytes">OOL maximum size, or OOL-ports maximum count.</param>
/// <param name="ScalarType">The C# element type of a fixed-size buffer, or the integer type of a <c>[MachCount]</c> field.</param>
/// <param name="ElementCount">The length of a fixed-size buffer (0 for other fields).</param>
/// <param name="IsCount">Whether the field is the <c>[MachCount]</c> of the trailing buffer of a variable-length message.</param>
internal sealed record FieldModel(
    string Name,
    FieldKind Kind,
    int Offset,
    int Size,
    int Disposition,
    int Copy,
    bool Deallocate,
    long MinBytes,
    long MaxBytes,
    string ScalarType = "",
    int ElementCount = 0,
    bool IsCount = false);

/// <summary>Everything the emitters need to know about one <c>[MachMessage]</c> struct. Symbol-free.</summary>
internal sealed record MessageModel(
    string Namespace,
    string TypeName,
    string HintName,
    int Id,
    int RemoteDisposition,
    int LocalDisposition,
    int TrailerElements,
    int TrailerSize,
    LayoutKindModel Layout,
    int SendSize,
    int MinSize,
    int Alignment,
    EquatableArray<FieldModel> Fields)
{
    public bool IsComplex
    {
        get
        {
            foreach (FieldModel f in Fields)
            {
                if (f.Kind == FieldKind.Body)
                {
                    return true;
                }
            }
            return false;
        }
    }

    public int DescriptorCount
    {
        get
        {
            int n = 0;
            foreach (FieldModel f in Fields)
            {
                if (f.Kind is FieldKind.PortDescriptor or FieldKind.OolDescriptor or FieldKind.OolPortsDescriptor)
                {
                    n++;
                }
            }
            return n;
        }
    }

    public bool IsVariableSize => MinSize != SendSize;

    /// <summary>The trailing fixed-size buffer of a variable-length message, which <c>SetPayload</c> fills, or null.</summary>
    public FieldModel? Payload => IsVariableSize && Fields.Count > 0 && Fields[Fields.Count - 1].ElementCount > 0 ? Fields[Fields.Count - 1] : null;

    /// <summary>The <c>[MachCount]</c> field, or null.</summary>
    public FieldModel? Count
    {
        get
        {
            foreach (FieldModel f in Fields)
            {
                if (f.IsCount)
                {
                    return f;
                }
            }
            return null;
        }
    }

    /// <summary><c>round_msg(SendSize)</c>: where the trailer of a full-size message starts.</summary>
    public int TrailerOffset => (SendSize + 3) & ~3;

    public int ReceiveBufferSize => TrailerOffset + TrailerSize;
}

/// <summary>The parser's output for one attributed struct: a model (unless it is unusable) and its diagnostics.</summary>
internal sealed record ParseResult(MessageModel? Model, EquatableArray<DiagnosticInfo> Diagnostics, LocationInfo? IdLocation);
