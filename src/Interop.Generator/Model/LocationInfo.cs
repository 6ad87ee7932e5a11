using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace MachIpc.Generator.Model;

/// <summary>A symbol-free, equatable stand-in for <see cref="Location"/>, rebuilt into one when reporting.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

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
    public Diagnostic ToDiagnostic() => Diagnostic.Create(
        Diagnostics.MachDiagnostics.ById(Id),
        Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None,
        Arguments.ToObjectArray());
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
