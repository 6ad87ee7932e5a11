using MachIpc.Abi;
using MachIpc.Messages;
using MachIpc.Server;

namespace MachIpc.Connections;

/// <summary>The rendezvous server's generated dispatch: the check-in and the (opt-in) task port.</summary>
/// <remarks>
/// Each handler takes the reply right and the right the message carried out of the message and passes them on with
/// who sent it (the audit token); from here on the rendezvous owns them and moves or releases each exactly once.
/// What is not taken (nothing, on these paths) the server destroys.
/// </remarks>
[MachServer]
internal sealed partial class HelperRendezvousDispatcher
{
    private readonly HelperRendezvous _owner;

    public HelperRendezvousDispatcher(HelperRendezvous owner) => _owner = owner;

    private void OnCheckIn(MachReceived<HelperCheckInRequest> request) =>
        _owner.OnCheckIn(request.AuditToken ?? default, request.TakeReplyRight().TakeName(), request.Message.Options);

    private void OnTaskPort(MachReceived<HelperTaskPortRequest> request)
    {
        // A null or dead name is passed on as it is (nothing to take): the rendezvous refuses it as not a task port.
        uint taskPort = MachPortName.IsValid(request.Message.TaskPort.Name)
            ? request.TakeSendRight(in request.Message.TaskPort).TakeName()
            : request.Message.TaskPort.Name;
        _owner.OnTaskPort(request.AuditToken ?? default, request.TakeReplyRight().TakeName(), taskPort);
    }
}
