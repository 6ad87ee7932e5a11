using System.Collections.Generic;
using System.Threading;
using MachIpc.Generator.Model;

namespace MachIpc.Generator.Parsing.Mig;

/// <summary>A .defs file of the compilation that an <c>#include</c> may name.</summary>
internal sealed record DefsText(string Path, string Text);

/// <summary>Reads one .defs file into a symbol-free <see cref="MigInterfaceModel"/> plus diagnostics.</summary>
internal static class MigParser
{
    public static MigParseResult Parse(DefsSource source, EquatableArray<DefsText> others, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>();
        void Report(string id, LocationInfo? location, string[] arguments) =>
            diagnostics.Add(new DiagnosticInfo(id, location, new EquatableArray<string>(arguments)));

        var includable = new List<(string Path, string Text)>();
        foreach (DefsText other in others)
        {
            includable.Add((other.Path, other.Text));
        }
        var root = new DefsFile(source.Path, source.Text);
        List<DefsToken> tokens = DefsPreprocessor.Run(root, source.Defines, includable, Report, out List<string> included);
        cancellationToken.ThrowIfCancellationRequested();
        DefsInterface parsed = DefsParser.Parse(tokens, Report);
        cancellationToken.ThrowIfCancellationRequested();
        LocationInfo? subsystem = parsed.SubsystemAt?.Location;
        bool failed = false;
        foreach (DiagnosticInfo d in diagnostics)
        {
            failed |= d.Id != Diagnostics.MigDiagnostics.Ignored.Id;
        }
        // Laying out routines whose declarations already failed would only repeat those errors.
        MigInterfaceModel? model = failed ? null : MigInterfaceBuilder.Build(parsed, source.Path, source.Namespace, Report);
        return new MigParseResult(model, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()), subsystem, source.Path,
            parsed.Subsystem is not null, new EquatableArray<string>(included.ToArray()));
    }
}
