using MachIpc.Generator.Emit;
using MachIpc.Generator.Model;
using MachIpc.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MachIpc.Generator;

/// <summary>
/// The pipeline: <c>[MachMessage]</c> structs → symbol-free <see cref="MessageModel"/>s → three generated parts
/// per message (layout and constants, validation, <c>mach_msg</c> stubs). Diagnostics are a separate output.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class MachMessageGenerator : IIncrementalGenerator
{
    /// <summary>The attribute the pipeline starts from.</summary>
    public const string MessageAttribute = "MachIpc.Messages.MachMessageAttribute";

    /// <summary>Tracking names of the pipeline steps (used by the incrementality tests).</summary>
    public static class Steps
    {
        /// <summary>Parsing one attributed struct.</summary>
        public const string Parse = "MachMessage.Parse";
        /// <summary>The per-message models.</summary>
        public const string Models = "MachMessage.Models";
        /// <summary>Whether the compilation allows unsafe code.</summary>
        public const string AllowUnsafe = "MachMessage.AllowUnsafe";
        /// <summary>Models paired with the unsafe flag, ready to emit.</summary>
        public const string Emit = "MachMessage.Emit";
        /// <summary>Per-message diagnostics.</summary>
        public const string Diagnostics = "MachMessage.Diagnostics";
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ParseResult> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                MessageAttribute,
                static (node, _) => node is StructDeclarationSyntax,
                static (ctx, ct) => MessageParser.Parse(ctx, ct))
            .WithTrackingName(Steps.Parse);

        IncrementalValueProvider<bool> allowUnsafe = context.CompilationProvider
            .Select(static (compilation, _) => compilation.Options is CSharpCompilationOptions { AllowUnsafe: true })
            .WithTrackingName(Steps.AllowUnsafe);

        IncrementalValuesProvider<MessageModel> models = parsed
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => r.Model!)
            .WithTrackingName(Steps.Models);

        IncrementalValuesProvider<(MessageModel Model, bool AllowUnsafe)> toEmit = models
            .Combine(allowUnsafe)
            .WithTrackingName(Steps.Emit);

        context.RegisterSourceOutput(toEmit, static (spc, item) =>
        {
            if (!item.AllowUnsafe)
            {
                return;
            }
            MessageModel model = item.Model;
            spc.AddSource(model.HintName + ".Layout.g.cs", LayoutEmitter.Emit(model));
            spc.AddSource(model.HintName + ".Validation.g.cs", ValidationEmitter.Emit(model));
            spc.AddSource(model.HintName + ".Stubs.g.cs", StubEmitter.Emit(model));
        });

        IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = parsed
            .Combine(allowUnsafe)
            .Select(static (item, _) => WithUnsafeDiagnostic(item.Left, item.Right))
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

    private static EquatableArray<DiagnosticInfo> WithUnsafeDiagnostic(ParseResult result, bool allowUnsafe) =>
        allowUnsafe || result.Model is null
            ? result.Diagnostics
            : DiagnosticInfo.WithUnsafeRequired(result.Diagnostics, result.Model.TypeName, result.IdLocation);
}
