using MachIpc.Generator.Model;
using static MachIpc.Generator.Emit.EmitHelpers;

namespace MachIpc.Generator.Emit;

/// <summary>
/// Emits the fields of a MIG request or reply struct, in MIG's order and with MIG's names (<c>Head</c>,
/// <c>msgh_body</c>, <c>NDR</c>, <c>RetCode</c>, <c>codeCnt</c>, …). The same message then goes through the shared
/// layout, validation and stub emitters like any <c>[MachMessage]</c> struct; a generator never sees another
/// generator's output, so the MIG path feeds them the model directly instead of emitting an attribute.
/// </summary>
internal static class MigStructEmitter
{
    public static string Emit(MigMessageModel message, string routine, bool reply, string sourcePath)
    {
        MessageModel m = message.Layout;
        SourceWriter w = Begin(m);
        w.Line("/// <summary>");
        w.Line($"/// The {(reply ? "reply" : "request")} of MIG routine <c>{routine}</c> (msgh_id {Int(m.Id)}), from <c>{Xml(sourcePath)}</c>: the layout of MIG's");
        w.Line($"/// <c>__{(reply ? "Reply" : "Request")}__{routine}_t</c> under <c>#pragma pack(4)</c>. {(m.IsVariableSize ? "It is variable-length: MIG sends only the used part of each variable array and moves the later fields up, so read those through the generated client or dispatcher, not at these offsets." : "It has a fixed size.")}");
        w.Line("/// </summary>");
        w.Open($"public unsafe partial struct {m.TypeName}");
        foreach (MigFieldDecl field in message.Declarations)
        {
            w.Line($"/// <summary>MIG field <c>{Xml(field.Name.TrimStart('@'))}</c>.</summary>");
            w.Line(field.Count == 0
                ? $"public {field.Type} {field.Name};"
                : $"public fixed {field.Type} {field.Name}[{Int(field.Count)}];");
        }
        w.Close();
        return End(m, w);
    }

    public static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
