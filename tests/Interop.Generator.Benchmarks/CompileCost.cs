using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace MachIpc.Generator.Benchmarks;

/// <summary>What the generator-cost benchmarks compile against, and how they measure one compile.</summary>
internal static class CompileCost
{
    /// <summary>The framework's System.* assemblies and MachIpc.dll.</summary>
    public static ImmutableArray<MetadataReference> References()
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return tpa.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(MachIpc.Abi.MachMsgHeader).Assembly.Location))
            .ToImmutableArray();
    }

    /// <summary>Emits <paramref name="compilation"/> to memory (failing on any error) and returns the assembly's size.</summary>
    public static long EmitSize(Compilation compilation)
    {
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        if (!result.Success)
        {
            throw new InvalidOperationException(string.Join("\n", result.Diagnostics.Take(5)));
        }
        return stream.Length;
    }
}
