using System.Collections.Generic;
using System.IO;

namespace MachIpc.Generator.Parsing.Mig;

/// <summary>
/// The standard MIG vocabulary shipped inside the generator (<c>Vocabulary/*.defs</c>, embedded resources): what
/// <c>#include &lt;mach/std_types.defs&gt;</c> and <c>&lt;mach/mach_types.defs&gt;</c> mean to MachIpc on every platform,
/// so an interface reads the same on Linux as on a Mac.
/// </summary>
internal static class StandardDefs
{
    /// <summary>The path the shipped files are reported under in diagnostics.</summary>
    public const string PathPrefix = "machipc:";

    private static readonly Dictionary<string, string> s_files = Load();

    /// <summary>The shipped text for an include name such as <c>mach/std_types.defs</c>, or null.</summary>
    public static DefsFile? Find(string includeName) =>
        s_files.TryGetValue(includeName, out string? text) ? new DefsFile(PathPrefix + includeName, text) : null;

    private static Dictionary<string, string> Load()
    {
        var files = new Dictionary<string, string>(System.StringComparer.Ordinal);
        System.Reflection.Assembly assembly = typeof(StandardDefs).Assembly;
        foreach (string name in assembly.GetManifestResourceNames())
        {
            const string prefix = "MachIpc.Generator.Vocabulary/";
            if (!name.StartsWith(prefix, System.StringComparison.Ordinal))
            {
                continue;
            }
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            files["mach/" + name.Substring(prefix.Length)] = reader.ReadToEnd();
        }
        return files;
    }
}
