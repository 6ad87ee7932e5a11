using System;

namespace MachIpc.Server;

/// <summary>
/// Declares a <c>partial class</c> as a Mach server. Every method of the form
/// <c>void Handler(MachReceived&lt;TMessage&gt; message)</c>, where <c>TMessage</c> is a <c>[MachMessage]</c>
/// struct, handles that message; the generator implements <see cref="IMachDispatcher"/> with a switch on
/// <c>msgh_id</c> that validates each message with its generated validator before calling the handler.
/// Serve it with <see cref="MachServer"/>.
/// </summary>
/// <remarks>
/// A handler that returns normally owns every right and out-of-line region the message carried (MIG's
/// rule); if it throws, the server destroys the message.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class MachServerAttribute : Attribute
{
}
