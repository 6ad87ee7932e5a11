using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Connections;

/// <summary>The rendezvous server's generated dispatch: one message, the helper check-in.</summary>
[MachServer]
internal sealed partial class HelperRendezvousDispatcher
{
    private readonly HelperRendezvous _owner;

    public HelperRendezvousDispatcher(HelperRendezvous owner) => _owner = owner;

    private void OnCheckIn(MachReceived<HelperCheckInRequest> request) => _owner.OnCheckIn(request);
}
