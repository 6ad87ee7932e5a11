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
        /// <summary>Generated type names shared by two interfaces, and include files nothing includes.</summary>
        public const string Collisions = "MachInterface.Collisions";
        /// <summary>Interfaces not emitted because an earlier one generates the same types.</summary>
        public const string Shadowed = "MachInterface.Shadowed";
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

        // An interface whose types another one already generates is reported (MACHIPC049) and not emitted twice.
        IncrementalValueProvider<EquatableArray<string>> shadowed = models
            .Collect()
            .Select(static (all, _) => Shadowed(all))
            .WithTrackingName(Steps.Shadowed);

        context.RegisterSourceOutput(models.Combine(allowUnsafe).Combine(shadowed).WithTrackingName(Steps.Emit), static (spc, item) =>
        {
            ((MigInterfaceModel model, bool unsafeAllowed), EquatableArray<string> skip) = item;
            if (unsafeAllowed && !Contains(skip, model.SourcePath))
            {
                Emit(spc, model);
            }
        });

        // A file without a subsystem is an include file: its problems are reported where it is included (below, for
        // one nothing includes).
        IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = parsed
            .Where(static r => r.HasSubsystem)
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
            .Select(static (r, _) => r.Model is null ? r : r with { Diagnostics = EquatableArray<DiagnosticInfo>.Empty })
            .Collect()
            .Select(static (all, _) => FindCollisionsAndOrphans(all))
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

    /// <summary>
    /// Two interfaces generating the same type in one namespace (say, the same .defs twice) cannot both compile; and a
    /// file with no subsystem that no other file includes is most likely an interface with a broken subsystem statement.
    /// </summary>
    private static EquatableArray<DiagnosticInfo> FindCollisionsAndOrphans(ImmutableArray<MigParseResult> all)
    {
        var result = new List<DiagnosticInfo>();
        var included = new HashSet<string>(StringComparer.Ordinal);
        foreach (MigParseResult r in all)
        {
            foreach (string path in r.Included)
            {
                included.Add(path);
            }
        }
        foreach (MigParseResult r in all)
        {
            if (!r.HasSubsystem && !included.Contains(r.Path))
            {
                result.AddRange(r.Diagnostics);
                result.Add(new DiagnosticInfo(MigDiagnostics.InvalidSubsystem.Id,
                    new LocationInfo(r.Path, default, default),
                    new EquatableArray<string>(new[] { "the file declares no subsystem, and no other .defs file includes it" })));
            }
        }
        var models = new List<MigInterfaceModel>();
        var locations = new Dictionary<string, LocationInfo?>(StringComparer.Ordinal);
        foreach (MigParseResult r in all)
        {
            if (r.Model is not null)
            {
                models.Add(r.Model);
                locations[r.Model.SourcePath] = r.SubsystemLocation;
            }
        }
        foreach ((MigInterfaceModel model, string name, string other) in Collisions(models))
        {
            result.Add(new DiagnosticInfo(MigDiagnostics.DuplicateName.Id, locations[model.SourcePath], new EquatableArray<string>(new[]
            {
                name, $"is also generated from '{other}'; give one of the MachInterface items another Namespace",
            })));
        }
        return new EquatableArray<DiagnosticInfo>(result.ToArray());
    }

    private static EquatableArray<string> Shadowed(ImmutableArray<MigInterfaceModel> all)
    {
        var paths = new List<string>();
        foreach ((MigInterfaceModel model, _, _) in Collisions(all))
        {
            paths.Add(model.SourcePath);
        }
        return new EquatableArray<string>(paths.ToArray());
    }

    /// <summary>
    /// Each interface (in path order) that would generate a type an earlier one already generates, with the first such
    /// type and the earlier interface's path.
    /// </summary>
    private static List<(MigInterfaceModel Model, string Name, string Other)> Collisions(IEnumerable<MigInterfaceModel> all)
    {
        var ordered = new List<MigInterfaceModel>(all);
        ordered.Sort(static (a, b) => string.CompareOrdinal(a.SourcePath, b.SourcePath));
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<(MigInterfaceModel, string, string)>();
        foreach (MigInterfaceModel model in ordered)
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
            string? clash = null;
            foreach (string name in names)
            {
                string full = model.Namespace + "." + name;
                if (clash is null && owners.TryGetValue(full, out string? other) && other != model.SourcePath)
                {
                    result.Add((model, full, other));
                    clash = full;
                }
            }
            if (clash is null)
            {
                foreach (string name in names)
                {
                    owners[model.Namespace + "." + name] = model.SourcePath;
                }
            }
        }
        return result;
    }

    private static bool Contains(EquatableArray<string> array, string value)
    {
        foreach (string item in array)
        {
            if (item == value)
            {
                return true;
            }
        }
        return false;
    }
}
