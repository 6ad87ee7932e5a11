using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace MachIpc.Generator.Model;

/// <summary>A symbol-free, equatable stand-in for <see cref="Location"/>, rebuilt into one when reporting.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    /// <summary>
    /// A real source location in <paramref name="compilation"/>'s tree for this file when there is one, so that
    /// <c>#pragma warning disable</c> and editor squiggles work; otherwise an external file location.
    /// </summary>
    public Location ToLocation(Compilation? compilation)
    {
        if (compilation is not null)
        {
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
            {
                if (tree.FilePath == FilePath && Span.End <= tree.Length)
                {
                    return Location.Create(tree, Span);
                }
            }
        }
        return Location.Create(FilePath, Span, LineSpan);
    }

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null)
        {
            return null;
        }
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}

/// <summary>A diagnostic to report, held without symbols so it can live in the incremental model.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic(Compilation? compilation) => Diagnostic.Create(
        Diagnostics.MachDiagnostics.ById(Id),
        Location?.ToLocation(compilation) ?? Microsoft.CodeAnalysis.Location.None,
        Arguments.ToObjectArray());

    /// <summary>
    /// <paramref name="diagnostics"/> plus MACHIPC009 for <paramref name="typeName"/>: generated Mach code is unsafe,
    /// and without AllowUnsafeBlocks it would only produce CS0227 inside a generated file.
    /// </summary>
    public static EquatableArray<DiagnosticInfo> WithUnsafeRequired(EquatableArray<DiagnosticInfo> diagnostics, string typeName, LocationInfo? location)
    {
        var list = new System.Collections.Generic.List<DiagnosticInfo>(diagnostics)
        {
            new(Diagnostics.MachDiagnostics.UnsafeRequired.Id, location, new EquatableArray<string>(new[] { typeName })),
        };
        return new EquatableArray<DiagnosticInfo>(list.ToArray());
    }
}

internal static class EquatableArrayExtensions
{
    public static object?[] ToObjectArray(this EquatableArray<string> array)
    {
        object?[] result = new object?[array.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = array[i];
        }
        return result;
    }
}
