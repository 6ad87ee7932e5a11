namespace MachIpc.Generator.Model;

/// <summary>One handler of a <c>[MachServer]</c> class: the method and the message it takes. Symbol-free.</summary>
/// <param name="MethodName">The handler method's name.</param>
/// <param name="MessageType">The message struct, <c>global::</c>-qualified.</param>
/// <param name="Id">The message's <c>msgh_id</c>, read from its <c>[MachMessage]</c> attribute.</param>
internal sealed record HandlerModel(string MethodName, string MessageType, int Id);

/// <summary>Everything the dispatch emitter needs to know about one <c>[MachServer]</c> class. Symbol-free.</summary>
internal sealed record ServerModel(string Namespace, string TypeName, string HintName, EquatableArray<HandlerModel> Handlers);

/// <summary>A parsed server: the model when it can be emitted, its diagnostics, and where its name is declared.</summary>
internal sealed record ServerParseResult(ServerModel? Model, EquatableArray<DiagnosticInfo> Diagnostics, LocationInfo? TypeLocation);
