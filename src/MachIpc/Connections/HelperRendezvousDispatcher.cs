using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Connections;

/// <summary>The rendezvous server's generated dispatch: the check-in and the (opt-in) task port.</summary>
/// <remarks>
/// Each handler passes on who sent the message (the audit token), the reply right and the right it carried; from
/// here on the rendezvous owns them (MIG's rule) and moves or releases each exactly once.
/// </remarks>
[MachServer]
internal sealed partial class HelperRendezvousDispatcher
{
    private readonly HelperRendezvous _owner;

    public HelperRendezvousDispatcher(HelperRendezvous owner) => _owner = owner;

    private void OnCheckIn(MachReceived<HelperCheckInRequest> request) =>
        _owner.OnCheckIn(request.AuditToken ?? default, request.ReplyPort, request.Message.Options);

    private void OnTaskPort(MachReceived<HelperTaskPortRequest> request) =>
        _owner.OnTaskPort(request.AuditToken ?? default, request.ReplyPort, request.Message.TaskPort.Name);
}
