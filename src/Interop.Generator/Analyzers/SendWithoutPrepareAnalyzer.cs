using System.Collections.Immutable;
using System.Linq;
using MachIpc.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace MachIpc.Generator.Analyzers;

/// <summary>
/// MACHIPC027: a message local that is sent (its generated <c>Send</c> / <c>SendReceive</c>, or
/// <c>MachRpcClient.Call</c>) but never prepared. An unprepared header has no bits, size or id, so the kernel
/// rejects the send (<c>MACH_SEND_MSG_TOO_SMALL</c>, <c>MACH_SEND_INVALID_DEST</c>) or the client throws.
/// </summary>
/// <remarks>
/// A flow check, so an analyzer rather than the generator. It only speaks where it can see the whole story: a
/// local created in the same body by <c>new T { ... }</c>, <c>default</c> or left unassigned, never passed by
/// reference, captured, reassigned or given to any other instance method. Anything else might prepare it
/// elsewhere, and the analyzer stays quiet rather than guess.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SendWithoutPrepareAnalyzer : DiagnosticAnalyzer
{
    private const string MessageAttribute = "MachIpc.Messages.MachMessageAttribute";
    private const string RpcClient = "MachIpc.Client.MachRpcClient";
    private const string HeaderType = "MachIpc.Abi.MachMsgHeader";

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(MachDiagnostics.SendWithoutPrepare);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            INamedTypeSymbol? attribute = start.Compilation.GetTypeByMetadataName(MessageAttribute);
            if (attribute is null)
            {
                return;
            }
            INamedTypeSymbol? client = start.Compilation.GetTypeByMetadataName(RpcClient);
            start.RegisterOperationAction(c => AnalyzeInvocation(c, attribute, client), OperationKind.Invocation);
        });
    }

    private static void AnalyzeInvocation(OperationAnalysisContext context, INamedTypeSymbol attribute, INamedTypeSymbol? client)
    {
        var invocation = (IInvocationOperation)context.Operation;
        IOperation? sent = SentMessage(invocation, attribute, client);
        if (sent is not ILocalReferenceOperation { Local: { IsRef: false } local } || !IsMessage(local.Type, attribute))
        {
            return;
        }
        IOperation root = invocation;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }
        if (MayBePrepared(root, local))
        {
            return;
        }
        context.ReportDiagnostic(Diagnostic.Create(MachDiagnostics.SendWithoutPrepare, invocation.Syntax.GetLocation(),
            local.Name, invocation.TargetMethod.Name + "()"));
    }

    /// <summary>The message operand of a send: the receiver of a generated Send/SendReceive, or Call's request.</summary>
    private static IOperation? SentMessage(IInvocationOperation invocation, INamedTypeSymbol attribute, INamedTypeSymbol? client)
    {
        IMethodSymbol method = invocation.TargetMethod;
        if (IsSendStub(method, attribute))
        {
            return invocation.Instance;
        }
        if (client is not null && method.Name is "Call" or "TryCall" or "CallAsync" && SymbolEqualityComparer.Default.Equals(method.ContainingType, client)
            && invocation.Arguments.Length > 0)
        {
            return invocation.Arguments[0].Value;
        }
        return null;
    }

    // The overloads that take owned rights (a remotePort parameter) prepare the message themselves.
    private static bool IsSendStub(IMethodSymbol method, INamedTypeSymbol attribute) =>
        !method.IsStatic && method.Name is "Send" or "SendReceive" && IsMessage(method.ContainingType, attribute)
        && !method.Parameters.Any(p => p.Name == "remotePort");

    private static bool IsMessage(ITypeSymbol? type, INamedTypeSymbol attribute)
    {
        if (type is null)
        {
            return false;
        }
        foreach (AttributeData a in type.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// True unless every use of <paramref name="local"/> in <paramref name="root"/> is known not to prepare it: its
    /// declaration from <c>new</c>/<c>default</c>, sends, by-value copies, and reads or writes of fields other than
    /// the header. A call to Prepare, a header write, or any use the analyzer cannot follow counts as prepared.
    /// </summary>
    private static bool MayBePrepared(IOperation root, ILocalSymbol local)
    {
        foreach (IOperation operation in root.Descendants())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    IOperation? value = declarator.GetVariableInitializer()?.Value;
                    while (value is IConversionOperation conversion)
                    {
                        value = conversion.Operand; // `A m = default;` converts the default literal
                    }
                    if (value is not (null or IObjectCreationOperation or IDefaultValueOperation) || (value is not null && WritesHeader(value)))
                    {
                        return true;
                    }
                    break;
                case ILocalReferenceOperation reference when SymbolEqualityComparer.Default.Equals(reference.Local, local):
                    if (!IsHarmlessUse(reference))
                    {
                        return true;
                    }
                    break;
            }
        }
        return false;
    }

    private static bool WritesHeader(IOperation creation) =>
        creation is IObjectCreationOperation { Initializer: { } initializer }
        && initializer.Initializers.Any(i => i is ISimpleAssignmentOperation { Target: IMemberReferenceOperation m } && IsHeader(m.Member));

    private static bool IsHarmlessUse(ILocalReferenceOperation reference)
    {
        // Inside a lambda or local function the order of events is out of sight.
        for (IOperation? o = reference.Parent; o is not null; o = o.Parent)
        {
            if (o is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return false;
            }
        }
        IOperation? parent = reference.Parent;
        if (parent is IArgumentOperation argument)
        {
            // Copies cannot prepare it; `in` to MachRpcClient.Call is the send itself, any other reference may.
            return argument.Parameter?.RefKind == RefKind.None
                || (argument.Parent is IInvocationOperation call && call.TargetMethod.Name is "Call" or "TryCall" && argument.Parameter?.RefKind == RefKind.In);
        }
        if (parent is IInvocationOperation invocation && invocation.Instance == reference)
        {
            // Another instance method (a user's own helper in the partial struct) might call Prepare.
            return invocation.TargetMethod.Name is "Send" or "SendReceive";
        }
        if (parent is IFieldReferenceOperation field)
        {
            return !IsHeader(field.Field);
        }
        // Reads into another variable are copies; a whole-value assignment, address-of or anything else is not.
        return parent is IVariableInitializerOperation or IConversionOperation
            || (parent is ISimpleAssignmentOperation assignment && assignment.Value == reference);
    }

    private static bool IsHeader(ISymbol member) =>
        member is IFieldSymbol { Type: { } type } && type.ToDisplayString() == HeaderType;
}
