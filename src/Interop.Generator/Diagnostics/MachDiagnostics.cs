using System.Collections.Generic;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Diagnostics;

/// <summary>
/// The generator's and analyzers' diagnostics. Ids are tracked in AnalyzerReleases.*.md; each id has a help page,
/// docs/diagnostics/&lt;id&gt;.md, that its <see cref="DiagnosticDescriptor.HelpLinkUri"/> points at.
/// </summary>
internal static class MachDiagnostics
{
    private const string Category = "MachIpc";

    /// <summary>
    /// The repository's URL, as Directory.Build.props declares it (the SDK stamps it on this assembly as
    /// <c>AssemblyMetadata("RepositoryUrl")</c>), so help links follow the repository wherever it is published.
    /// </summary>
    public static readonly string RepositoryUrl = ReadRepositoryUrl();

    /// <summary>The help page of a diagnostic id: docs/diagnostics/&lt;id&gt;.md on the main branch.</summary>
    public static string HelpLink(string id) => RepositoryUrl + "/blob/main/docs/diagnostics/" + id + ".md";

    public static readonly DiagnosticDescriptor ReservedMemberName = Error("MACHIPC016",
        "Member name collides with a generated member",
        "'{0}' declares a member named '{1}', which the generator emits for every message; rename it");

    public static readonly DiagnosticDescriptor NotPartial = Error("MACHIPC001",
        "Mach message must be a partial struct",
        "'{0}' is marked [MachMessage] but is not declared 'partial'; the generator adds its layout and members to a partial part");

    public static readonly DiagnosticDescriptor FieldNotBlittable = Error("MACHIPC002",
        "Mach message field is not blittable",
        "Field '{0}' of type '{1}' cannot be part of a Mach message: {2}");

    public static readonly DiagnosticDescriptor HeaderNotFirst = Error("MACHIPC003",
        "Mach message must start with its header",
        "'{0}' must declare a 'MachMsgHeader' as its first instance field");

    public static readonly DiagnosticDescriptor DescriptorAfterInlineData = Error("MACHIPC004",
        "Descriptors must precede inline data",
        "Descriptor '{0}' follows inline data; the kernel expects every descriptor directly after the body");

    public static readonly DiagnosticDescriptor BodyMissing = Error("MACHIPC005",
        "Complex message needs a body directly after the header",
        "'{0}' must declare a 'MachMsgBody' directly after its header, before any descriptor or data ({1})");

    // Ids are unique per dispatcher, not per compilation: one binary may speak several protocols that reuse ids
    // (Ladybird does), and only a server that receives both messages on one port has to tell them apart.
    public static readonly DiagnosticDescriptor DuplicateId = Error("MACHIPC006",
        "Two messages with one msgh_id in one server",
        "Handler '{0}' takes '{1}', whose msgh_id {2} is also the id of '{3}' handled by '{4}'; the server could not tell them apart, give one of them another id");

    public static readonly DiagnosticDescriptor ReservedId = Error("MACHIPC007",
        "Message id collides with kernel notifications",
        "Message id {0} of '{1}' is in the kernel notification range 64..72; a forged notification could be confused with it");

    public static readonly DiagnosticDescriptor InvalidTrailer = Error("MACHIPC008",
        "Invalid trailer request",
        "'{0}' requests trailer elements value {1}, which is not a MACH_RCV_TRAILER_* value (0, 1, 2, 3, 4, 7, 8)");

    public static readonly DiagnosticDescriptor UnsafeRequired = Error("MACHIPC009",
        "Mach messages and servers need AllowUnsafeBlocks",
        "'{0}' cannot be generated: the project must set <AllowUnsafeBlocks>true</AllowUnsafeBlocks> (the generated code passes message pointers to mach_msg)");

    public static readonly DiagnosticDescriptor InvalidDisposition = Error("MACHIPC010",
        "Invalid port disposition",
        "{0}: {1}");

    public static readonly DiagnosticDescriptor UserStructLayout = Error("MACHIPC011",
        "Do not declare StructLayout on a Mach message",
        "'{0}' declares [StructLayout]; the generator emits the layout itself (choose it with MachMessage.Layout)");

    public static readonly DiagnosticDescriptor InvalidMinSize = Error("MACHIPC012",
        "Invalid MinSize",
        "MinSize {0} of '{1}' must be a multiple of 4 between {2} (the end of the descriptors) and the send size {3}");

    public static readonly DiagnosticDescriptor UnsupportedDeclaration = Error("MACHIPC013",
        "Unsupported message declaration",
        "'{0}' cannot be a Mach message: {1}");

    public static readonly DiagnosticDescriptor InvalidOolBounds = Error("MACHIPC014",
        "Invalid out-of-line bounds",
        "Out-of-line descriptor '{0}' has invalid bounds: {1}");

    public static readonly DiagnosticDescriptor TrailerField = Error("MACHIPC015",
        "Trailer declared inside a message",
        "Field '{0}' is a trailer; the kernel writes the trailer at round_msg(msgh_size), never at a struct offset, so read it through MachReceived<T>");

    public static readonly DiagnosticDescriptor NoCLayout = Error("MACHIPC017",
        "Mach message field has no C layout",
        "Field '{0}' of type '{1}' has no layout a C peer can share: {2}");

    public static readonly DiagnosticDescriptor FieldsInSeveralParts = Error("MACHIPC018",
        "Mach message fields split across partial declarations",
        "'{0}' declares field '{1}' in another partial declaration than '{2}'; C# leaves the order of fields across partial declarations undefined (CS0282) and a C struct has one declaration: declare every field in one part");

    public static readonly DiagnosticDescriptor LayoutNotVisible = Error("MACHIPC019",
        "Mach message field's layout is not visible at compile time",
        "Field '{0}' of type '{1}' has a layout the generator cannot see: {2}");

    public static readonly DiagnosticDescriptor ServerNotPartial = Error("MACHIPC020",
        "Mach server must be a partial class",
        "'{0}' is marked [MachServer] but is not declared 'partial'; the generator adds its dispatch to a partial part");

    public static readonly DiagnosticDescriptor HandlerNotMessage = Error("MACHIPC021",
        "Handler takes a type that is not a Mach message",
        "Handler '{0}' takes MachReceived<{1}>, but '{1}' is not a [MachMessage] struct");

    public static readonly DiagnosticDescriptor DuplicateHandler = Error("MACHIPC022",
        "Two handlers for one message",
        "Handler '{0}' handles '{2}', which '{1}' already handles");

    // {1} names every rule the method breaks (HandlerRules in ServerParser), so the fix is in the message.
    public static readonly DiagnosticDescriptor InvalidHandler = Error("MACHIPC023",
        "Invalid handler signature",
        "Handler '{0}' {1}");

    public static readonly DiagnosticDescriptor NoHandlers = Warning("MACHIPC024",
        "Mach server declares no handlers",
        "'{0}' is marked [MachServer] but declares no 'void Handler(MachReceived<T> message)' method; it will reject every message");

    public static readonly DiagnosticDescriptor UnsupportedServer = Error("MACHIPC025",
        "Unsupported server declaration",
        "'{0}' cannot be a Mach server: servers must be top-level, non-generic classes");

    // Silently ignored until this warning: the server then answered that message with MIG_BAD_ID at run time.
    public static readonly DiagnosticDescriptor HandlerTakesMessage = Warning("MACHIPC026",
        "Handler-shaped method takes a message instead of MachReceived<T>",
        "'{0}' takes '{1}' itself, so it is not a handler and the server answers msgh_id {2} with MIG_BAD_ID; take MachReceived<{1}> instead");

    public static readonly DiagnosticDescriptor SendWithoutPrepare = Warning("MACHIPC027",
        "Message sent without Prepare",
        "'{0}' is sent by {1} but never prepared; call {0}.Prepare(...) first, which writes the header's bits, size, id and ports");

    public static readonly DiagnosticDescriptor InvalidCount = Error("MACHIPC028",
        "Invalid [MachCount] field",
        "'{0}' cannot be the [MachCount] of '{1}': {2}");

    /// <summary>Every descriptor of this class, found by reflection so that a new one cannot be forgotten here.</summary>
    public static readonly IReadOnlyList<DiagnosticDescriptor> All = FindAll();

    public static DiagnosticDescriptor ById(string id)
    {
        foreach (DiagnosticDescriptor d in All)
        {
            if (d.Id == id)
            {
                return d;
            }
        }
        foreach (DiagnosticDescriptor d in MigDiagnostics.All)
        {
            if (d.Id == id)
            {
                return d;
            }
        }
        throw new System.ArgumentException("Unknown diagnostic id " + id, nameof(id));
    }

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLink(id));

    private static DiagnosticDescriptor Warning(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLink(id));

    private static string ReadRepositoryUrl()
    {
        foreach (AssemblyMetadataAttribute a in typeof(MachDiagnostics).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>())
        {
            if (a.Key == "RepositoryUrl" && !string.IsNullOrEmpty(a.Value))
            {
                return a.Value!.TrimEnd('/');
            }
        }
        throw new System.InvalidOperationException("The generator was built without AssemblyMetadata(\"RepositoryUrl\"); set RepositoryUrl in Directory.Build.props.");
    }

    private static DiagnosticDescriptor[] FindAll()
    {
        var all = new List<DiagnosticDescriptor>();
        foreach (FieldInfo field in typeof(MachDiagnostics).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.GetValue(null) is DiagnosticDescriptor descriptor)
            {
                all.Add(descriptor);
            }
        }
        return all.ToArray();
    }
}
