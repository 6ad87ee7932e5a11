using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using MachIpc.Generator.Diagnostics;
using MachIpc.Generator.Emit;
using MachIpc.Generator.Model;
using MachIpc.Generator.Parsing.Mig;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace MachIpc.Generator;

/// <summary>
/// The pipeline for MIG interfaces: <c>.defs</c> files given as AdditionalFiles (<c>&lt;MachInterface Include="x.defs" /&gt;</c>)
/// → symbol-free <see cref="MigInterfaceModel"/>s whose requests and replies are ordinary <see cref="MessageModel"/>s →
/// the shared layout, validation and stub emitters for every message, plus a client class, a handler interface and a
/// dispatcher per subsystem. Diagnostics are a separate output, located in the .defs files.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class MachInterfaceGenerator : IIncrementalGenerator
{
    /// <summary>The metadata of a <c>MachInterface</c> item the build passes to the generator.</summary>
    public const string DefinesMetadata = "build_metadata.AdditionalFiles.MachInterfaceDefines";

    /// <summary>The metadata naming the namespace of the generated types.</summary>
    public const string NamespaceMetadata = "build_metadata.AdditionalFiles.MachInterfaceNamespace";

    /// <summary>Tracking names of the pipeline steps (used by the incrementality tests).</summary>
    public static class Steps
    {
        /// <summary>Reading one .defs file and its item options.</summary>
        public const string Read = "MachInterface.Read";
        /// <summary>The .defs files an #include may name.</summary>
        public const string Includable = "MachInterface.Includable";
        /// <summary>Parsing one .defs file.</summary>
        public const string Parse = "MachInterface.Parse";
        /// <summary>The per-interface models.</summary>
        public const string Models = "MachInterface.Models";
        /// <summary>Models paired with the unsafe flag, ready to emit.</summary>
        public const string Emit = "MachInterface.Emit";
        /// <summary>Per-file diagnostics.</summary>
        public const string Diagnostics = "MachInterface.Diagnostics";
        /// <summary>Generated type names shared by two interfaces.</summary>
        public const string Collisions = "MachInterface.Collisions";
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<DefsSource> sources = context.AdditionalTextsProvider
            .Where(static t => t.Path.EndsWith(".defs", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, ct) => Read(pair.Left, pair.Right, ct))
            .WithTrackingName(Steps.Read);

        IncrementalValueProvider<EquatableArray<DefsText>> includable = sources
            .Select(static (s, _) => new DefsText(s.Path, s.Text))
            .Collect()
            .Select(static (all, _) => new EquatableArray<DefsText>(all))
            .WithTrackingName(Steps.Includable);

        IncrementalValuesProvider<MigParseResult> parsed = sources
            .Combine(includable)
            .Select(static (pair, ct) => MigParser.Parse(pair.Left, pair.Right, ct))
            .WithTrackingName(Steps.Parse);

        IncrementalValueProvider<bool> allowUnsafe = context.CompilationProvider
            .Select(static (compilation, _) => compilation.Options is CSharpCompilationOptions { AllowUnsafe: true });

        IncrementalValuesProvider<MigInterfaceModel> models = parsed
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => r.Model!)
            .WithTrackingName(Steps.Models);

        context.RegisterSourceOutput(models.Combine(allowUnsafe).WithTrackingName(Steps.Emit), static (spc, item) =>
        {
            if (item.Right)
            {
                Emit(spc, item.Left);
            }
        });

        IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = parsed
            .Combine(allowUnsafe)
            .Select(static (item, _) => WithUnsafeDiagnostic(item.Left, item.Right))
            .WithTrackingName(Steps.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (DiagnosticInfo d in list)
            {
                spc.ReportDiagnostic(d.ToDiagnostic(null));
            }
        });

        IncrementalValueProvider<EquatableArray<DiagnosticInfo>> collisions = parsed
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => (r.Model!, r.SubsystemLocation))
            .Collect()
            .Select(static (all, _) => FindCollisions(all))
            .WithTrackingName(Steps.Collisions);
        context.RegisterSourceOutput(collisions, static (spc, list) =>
        {
            foreach (DiagnosticInfo d in list)
            {
                spc.ReportDiagnostic(d.ToDiagnostic(null));
            }
        });
    }

    private static DefsSource Read(AdditionalText text, AnalyzerConfigOptionsProvider options, System.Threading.CancellationToken cancellationToken)
    {
        AnalyzerConfigOptions file = options.GetOptions(text);
        string defines = file.TryGetValue(DefinesMetadata, out string? d) ? d : string.Empty;
        string ns = file.TryGetValue(NamespaceMetadata, out string? n) && n.Trim().Length > 0
            ? n.Trim()
            : options.GlobalOptions.TryGetValue("build_property.RootNamespace", out string? root) ? root.Trim() : string.Empty;
        return new DefsSource(text.Path, text.GetText(cancellationToken)?.ToString() ?? string.Empty, defines, ns);
    }

    private static void Emit(SourceProductionContext spc, MigInterfaceModel model)
    {
        foreach (MigRoutineModel routine in model.Routines)
        {
            EmitMessage(spc, routine.Request, routine.Name, reply: false, model.SourceName);
            if (routine.Reply is not null)
            {
                EmitMessage(spc, routine.Reply, routine.Name, reply: true, model.SourceName);
            }
        }
        spc.AddSource(model.HintName + ".Client.g.cs", MigClientEmitter.Emit(model));
        spc.AddSource(model.HintName + ".Server.g.cs", MigServerEmitter.Emit(model));
    }

    private static void EmitMessage(SourceProductionContext spc, MigMessageModel message, string routine, bool reply, string sourcePath)
    {
        MessageModel m = message.Layout;
        spc.AddSource(m.HintName + ".Fields.g.cs", MigStructEmitter.Emit(message, routine, reply, sourcePath));
        spc.AddSource(m.HintName + ".Layout.g.cs", LayoutEmitter.Emit(m));
        spc.AddSource(m.HintName + ".Validation.g.cs", ValidationEmitter.Emit(m));
        spc.AddSource(m.HintName + ".Stubs.g.cs", StubEmitter.Emit(m));
    }

    private static EquatableArray<DiagnosticInfo> WithUnsafeDiagnostic(MigParseResult result, bool allowUnsafe)
    {
        if (allowUnsafe || result.Model is null)
        {
            return result.Diagnostics;
        }
        var list = new List<DiagnosticInfo>(result.Diagnostics)
        {
            new(MachDiagnostics.UnsafeRequired.Id, result.SubsystemLocation, new EquatableArray<string>(new[] { result.Model.Subsystem })),
        };
        return new EquatableArray<DiagnosticInfo>(list.ToArray());
    }

    /// <summary>Two interfaces generating the same type in one namespace (say, the same .defs twice) cannot both compile.</summary>
    private static EquatableArray<DiagnosticInfo> FindCollisions(ImmutableArray<(MigInterfaceModel Model, LocationInfo? At)> all)
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<DiagnosticInfo>();
        var ordered = new List<(MigInterfaceModel Model, LocationInfo? At)>(all);
        ordered.Sort(static (a, b) => string.CompareOrdinal(a.Model.SourcePath, b.Model.SourcePath));
        foreach ((MigInterfaceModel model, LocationInfo? at) in ordered)
        {
            var names = new List<string> { model.TypePrefix + "Client", "I" + model.TypePrefix + "Handler", model.TypePrefix + "Dispatcher" };
            foreach (MigRoutineModel r in model.Routines)
            {
                names.Add(r.Request.Layout.TypeName);
                if (r.Reply is not null)
                {
                    names.Add(r.Reply.Layout.TypeName);
                }
            }
            foreach (string name in names)
            {
                string full = model.Namespace + "." + name;
                if (owners.TryGetValue(full, out string? other) && other != model.SourcePath)
                {
                    // One report per interface: the first clash names the problem.
                    result.Add(new DiagnosticInfo(MigDiagnostics.DuplicateName.Id, at, new EquatableArray<string>(new[]
                    {
                        full, $"is also generated from '{other}'; give one of the MachInterface items another Namespace",
                    })));
                    break;
                }
                owners[full] = model.SourcePath;
            }
        }
        return new EquatableArray<DiagnosticInfo>(result.ToArray());
    }
}
