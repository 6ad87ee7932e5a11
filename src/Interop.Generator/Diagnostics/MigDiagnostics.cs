using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Diagnostics;

/// <summary>
/// Diagnostics about MIG interface (.defs) files, MACHIPC040–MACHIPC059, each reported at its line in the .defs file.
/// Ids are tracked in AnalyzerReleases.*.md; each has its page, docs/diagnostics/&lt;id&gt;.md.
/// </summary>
internal static class MigDiagnostics
{
    private const string Category = "MachIpc.Mig";

    public static readonly DiagnosticDescriptor Syntax = Error("MACHIPC040",
        "MIG syntax error",
        "MIG syntax error: {0}");

    public static readonly DiagnosticDescriptor Preprocessor = Error("MACHIPC041",
        "Unsupported or invalid preprocessor directive in a .defs file",
        "{0}");

    public static readonly DiagnosticDescriptor IncludeNotFound = Error("MACHIPC042",
        "Included file not found",
        "Cannot #include '{0}': {1}");

    public static readonly DiagnosticDescriptor UndefinedType = Error("MACHIPC043",
        "Undefined MIG type",
        "MIG type '{0}' is not defined; declare it with 'type' or #include the .defs file that does (<mach/std_types.defs>, <mach/mach_types.defs>)");

    public static readonly DiagnosticDescriptor Unsupported = Error("MACHIPC044",
        "MIG construct outside MachIpc's subset",
        "{0} is not supported: {1}");

    public static readonly DiagnosticDescriptor Ignored = new("MACHIPC045",
        "MIG statement ignored",
        "{0} is ignored: {1}",
        Category, DiagnosticSeverity.Info, isEnabledByDefault: true, helpLinkUri: MachDiagnostics.HelpLink("MACHIPC045"));

    public static readonly DiagnosticDescriptor InvalidSubsystem = Error("MACHIPC046",
        "Invalid MIG subsystem",
        "Invalid subsystem: {0}");

    public static readonly DiagnosticDescriptor InvalidArgument = Error("MACHIPC047",
        "Invalid MIG routine argument",
        "Argument '{0}' of routine '{1}': {2}");

    public static readonly DiagnosticDescriptor InvalidType = Error("MACHIPC048",
        "Invalid MIG type",
        "MIG type '{0}': {1}");

    public static readonly DiagnosticDescriptor DuplicateName = Error("MACHIPC049",
        "Duplicate name in a MIG interface",
        "'{0}' {1}");

    public static readonly DiagnosticDescriptor InvalidOption = Error("MACHIPC050",
        "Invalid MIG option value",
        "{0} value '{1}' is not supported: {2}");

    public static readonly DiagnosticDescriptor[] All =
    {
        Syntax, Preprocessor, IncludeNotFound, UndefinedType, Unsupported, Ignored, InvalidSubsystem, InvalidArgument,
        InvalidType, DuplicateName, InvalidOption,
    };

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: MachDiagnostics.HelpLink(id));
}
