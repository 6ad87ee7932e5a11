using MachIpc.Generator.Emit;
using MachIpc.Generator.Model;
using MachIpc.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator;

/// <summary>
/// The pipeline for servers: <c>[MachServer]</c> classes → symbol-free <see cref="ServerModel"/>s → the
/// <c>IMachDispatcher</c> implementation (a <c>msgh_id</c> switch). Diagnostics are a separate output.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class MachServerGenerator : IIncrementalGenerator
{
    /// <summary>The attribute the pipeline starts from.</summary>
    public const string ServerAttribute = "MachIpc.Server.MachServerAttribute";

    /// <summary>Tracking names of the pipeline steps (used by the incrementality tests).</summary>
    public static class Steps
    {
        /// <summary>Parsing one attributed class.</summary>
        public const string Parse = "MachServer.Parse";
        /// <summary>The per-server models.</summary>
        public const string Models = "MachServer.Models";
        /// <summary>Whether the compilation allows unsafe code (the dispatcher takes a message pointer).</summary>
        public const string AllowUnsafe = "MachServer.AllowUnsafe";
        /// <summary>Per-server diagnostics.</summary>
        public const string Diagnostics = "MachServer.Diagnostics";
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ServerParseResult> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ServerAttribute,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ServerParser.Parse(ctx, ct))
            .WithTrackingName(Steps.Parse);

        IncrementalValuesProvider<ServerModel> models = parsed
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => r.Model!)
            .WithTrackingName(Steps.Models);

        IncrementalValueProvider<bool> allowUnsafe = context.CompilationProvider
            .Select(static (compilation, _) => compilation.Options is CSharpCompilationOptions { AllowUnsafe: true })
            .WithTrackingName(Steps.AllowUnsafe);

        context.RegisterSourceOutput(models.Combine(allowUnsafe), static (spc, item) =>
        {
            if (item.Right)
            {
                spc.AddSource(item.Left.HintName + ".Dispatch.g.cs", DispatchEmitter.Emit(item.Left));
            }
        });

        IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = parsed
            .Combine(allowUnsafe)
            .Select(static (item, _) => item.Right || item.Left.Model is null
                ? item.Left.Diagnostics
                : DiagnosticInfo.WithUnsafeRequired(item.Left.Diagnostics, item.Left.Model.TypeName, item.Left.TypeLocation))
            .WithTrackingName(Steps.Diagnostics);

        // Only this reporting step sees the compilation (to turn file spans back into source locations, so
        // #pragma warning disable works); the models and their diagnostics stay symbol-free and cached.
        context.RegisterSourceOutput(diagnostics.Combine(context.CompilationProvider), static (spc, pair) =>
        {
            foreach (DiagnosticInfo d in pair.Left)
            {
                spc.ReportDiagnostic(d.ToDiagnostic(pair.Right));
            }
        });
    }
}
