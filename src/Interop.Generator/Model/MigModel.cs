namespace MachIpc.Generator.Model;

/// <summary>One <c>.defs</c> file as the pipeline reads it: its text and the options of its <c>MachInterface</c> item.</summary>
/// <param name="Path">The file's path, as given to the compiler.</param>
/// <param name="Text">Its text.</param>
/// <param name="Defines">Preprocessor definitions, <c>NAME</c> or <c>NAME=VALUE</c>, separated by ';'.</param>
/// <param name="Namespace">The namespace of the generated types.</param>
internal sealed record DefsSource(string Path, string Text, string Defines, string Namespace);

/// <summary>How an argument of a MIG routine travels, in MIG's own vocabulary.</summary>
internal enum MigArgKind
{
    RequestPort,
    /// <summary><c>replyport</c>: the client supplies the reply port and the handler sees it.</summary>
    ReplyPort,
    /// <summary><c>ureplyport</c>: the client supplies the reply port.</summary>
    UserReplyPort,
    /// <summary><c>sreplyport</c>: the handler sees the reply port (to answer later, with <c>MIG_NO_REPLY</c>).</summary>
    ServerReplyPort,
    In,
    Out,
    InOut,
    WaitTime,
    MsgOption,
    MsgSeqno,
    ServerSecToken,
    ServerAuditToken,
}

/// <summary>The shape of an argument's data in the message.</summary>
internal enum MigDataShape
{
    /// <summary>One inline scalar.</summary>
    Scalar,
    /// <summary>A fixed inline array or <c>struct[n]</c>.</summary>
    FixedArray,
    /// <summary>A bounded inline array with a count (<c>array[*:n] of</c>); later fields move up when it is short.</summary>
    VariableArray,
    /// <summary><c>c_string[n]</c>: a NUL-terminated string in a fixed buffer.</summary>
    FixedString,
    /// <summary><c>c_string[*:n]</c>: offset, count (including the NUL) and the bytes.</summary>
    VariableString,
    /// <summary>One port right (a port descriptor).</summary>
    Port,
    /// <summary>Out-of-line memory (an OOL descriptor), with a count field when its size varies.</summary>
    OutOfLine,
}

/// <summary>
/// One user-visible argument of a routine, with where it lives in the request and the reply. Symbol-free; names are
/// MIG's C names (the message field names) and the C# parameter name.
/// </summary>
/// <param name="Name">The argument's name in the .defs file (the message field name).</param>
/// <param name="Parameter">The C# parameter name.</param>
/// <param name="Kind">Its MIG argument kind.</param>
/// <param name="Shape">The shape of its data.</param>
/// <param name="Element">The C# element type: <c>int</c>, <c>ulong</c>, … (<c>uint</c> for ports).</param>
/// <param name="ElementSize">Size of one element in bytes.</param>
/// <param name="Count">Number of elements: fixed count, or maximum for variable shapes (0: unbounded).</param>
/// <param name="Multiplier">Elements per counted unit (<c>array[*:n] of struct[2] of int</c> counts pairs).</param>
/// <param name="InDisposition">Ports: the disposition it is sent with (<c>MACH_MSG_TYPE_*</c>).</param>
/// <param name="OutDisposition">Ports: the received right type the receiver checks.</param>
/// <param name="PhysicalCopy">OOL: sent with <c>MACH_MSG_PHYSICAL_COPY</c>.</param>
/// <param name="RequestPos">How many variable-size fields precede it in the request (which shifted view reads it).</param>
/// <param name="ReplyPos">How many variable-size fields precede it in the reply.</param>
/// <param name="Special">For audit/security tokens: the C# type of the value (otherwise empty).</param>
/// <param name="Varying">Its size varies with a count field (variable arrays and strings, variable out-of-line data).</param>
internal sealed record MigArgModel(
    string Name,
    string Parameter,
    MigArgKind Kind,
    MigDataShape Shape,
    string Element,
    int ElementSize,
    int Count,
    int Multiplier,
    int InDisposition,
    int OutDisposition,
    bool PhysicalCopy,
    int RequestPos,
    int ReplyPos,
    string Special,
    bool Varying)
{
    public bool InRequest => Kind is MigArgKind.In or MigArgKind.InOut;

    /// <summary>Whether the handler method has a parameter for it (the client-only kinds have none).</summary>
    public bool HandlerSees => Kind is not (MigArgKind.UserReplyPort or MigArgKind.WaitTime or MigArgKind.MsgOption);

    /// <summary>Whether the client method has a parameter for it (the server-only kinds have none).</summary>
    public bool ClientSees => Kind is not (MigArgKind.ServerReplyPort or MigArgKind.MsgSeqno or MigArgKind.ServerSecToken or MigArgKind.ServerAuditToken);

    public bool InReply => Kind is MigArgKind.Out or MigArgKind.InOut;

    public bool IsVariable => Shape is MigDataShape.VariableArray or MigDataShape.VariableString;

    /// <summary>Elements (of <see cref="Element"/>) at the maximum count.</summary>
    public int Elements => Count * Multiplier;

    /// <summary>Bytes of one counted unit.</summary>
    public int UnitBytes => Multiplier * ElementSize;

    /// <summary>Maximum bytes of its data, padded to 4 as MIG pads every inline field.</summary>
    public int PaddedBytes => ((Elements * ElementSize) + 3) & ~3;
}

/// <summary>
/// A field of a generated MIG message struct, as C declares it: the C# type of one element and the element count of a
/// fixed buffer (0 for a plain field). The layout itself lives in the message's <see cref="MessageModel"/>.
/// </summary>
internal sealed record MigFieldDecl(string Name, string Type, int Count);

/// <summary>A request or reply: its layout (fed to the shared emitters) and the C# declaration of its fields.</summary>
internal sealed record MigMessageModel(MessageModel Layout, EquatableArray<MigFieldDecl> Declarations);

/// <summary>One routine or simpleroutine of a subsystem.</summary>
/// <param name="Name">The routine's name in the .defs file.</param>
/// <param name="ClientMethod">The client method name (<c>userprefix</c> + name, in PascalCase).</param>
/// <param name="HandlerMethod">The handler method name (<c>serverprefix</c> + name, in PascalCase).</param>
/// <param name="IsSimple">A simpleroutine: one-way, no reply.</param>
/// <param name="Request">The request message.</param>
/// <param name="Reply">The reply message (null for a simpleroutine).</param>
/// <param name="Arguments">The user-visible arguments in declaration order.</param>
/// <param name="WaitTime">Client timeout in ms from a global <c>WaitTime</c> (-1: none).</param>
/// <param name="MsgOption">Extra <c>mach_msg</c> option bits from a global <c>MsgOption</c>.</param>
internal sealed record MigRoutineModel(
    string Name,
    string ClientMethod,
    string HandlerMethod,
    bool IsSimple,
    MigMessageModel Request,
    MigMessageModel? Reply,
    EquatableArray<MigArgModel> Arguments,
    int WaitTime,
    int MsgOption)
{
    public int Id => Request.Layout.Id;

    /// <summary>The routine's name in PascalCase, which names its messages and generated helpers.</summary>
    public string Identifier => Request.Layout.TypeName.Substring(0, Request.Layout.TypeName.Length - "Request".Length);
}

/// <summary>Everything the MIG emitters need to know about one subsystem. Symbol-free.</summary>
/// <param name="Namespace">The namespace of the generated types.</param>
/// <param name="Subsystem">The subsystem name in the .defs file.</param>
/// <param name="TypePrefix">The subsystem name in PascalCase: the prefix of the client, handler and dispatcher types.</param>
/// <param name="Base">The subsystem's base message id.</param>
/// <param name="Count">The number of routine slots (routines and skips).</param>
/// <param name="SourcePath">The .defs file (for documentation comments).</param>
/// <param name="Routines">The routines, in id order.</param>
internal sealed record MigInterfaceModel(
    string Namespace,
    string Subsystem,
    string TypePrefix,
    int Base,
    int Count,
    string SourcePath,
    EquatableArray<MigRoutineModel> Routines)
{
    public string HintName => (Namespace.Length == 0 ? string.Empty : Namespace + ".") + TypePrefix;

    /// <summary>The .defs file's name without its directory (what documentation comments show).</summary>
    public string SourceName => SourcePath.Substring(System.Math.Max(SourcePath.LastIndexOf('/'), SourcePath.LastIndexOf('\\')) + 1);
}

/// <summary>
/// The result of reading one .defs file: the interface (unless it is unusable or has no subsystem), diagnostics, and
/// what an include-only file needs: whether the file declares a subsystem, and the compilation's files it included.
/// </summary>
internal sealed record MigParseResult(
    MigInterfaceModel? Model,
    EquatableArray<DiagnosticInfo> Diagnostics,
    LocationInfo? SubsystemLocation,
    string Path,
    bool HasSubsystem,
    EquatableArray<string> Included);
