using MachIpc.Abi;

namespace MachIpc.Server;

/// <summary>What a dispatcher did with one received message.</summary>
public enum MachDispatchStatus
{
    /// <summary>A handler ran and returned: it owns what it took out of the message; the server destroys the rest.</summary>
    Handled = 0,
    /// <summary>No handler is declared for the message's <c>msgh_id</c>.</summary>
    UnknownId = 1,
    /// <summary>The message failed its generated validation.</summary>
    Rejected = 2,
    /// <summary>The handler threw.</summary>
    HandlerFailed = 3,
}

/// <summary>The outcome of <see cref="IMachDispatcher.Dispatch"/>; allocation-free.</summary>
public readonly struct MachDispatchResult
{
    private MachDispatchResult(MachDispatchStatus status, string reason, System.Exception? exception)
    {
        Status = status;
        Reason = reason;
        Exception = exception;
    }

    /// <summary>What happened.</summary>
    public MachDispatchStatus Status { get; }

    /// <summary>Why a message was not handled (a constant string, suitable as a metric tag); empty when handled.</summary>
    public string Reason { get; }

    /// <summary>The exception a failed handler threw.</summary>
    public System.Exception? Exception { get; }

    /// <summary>The message was handled.</summary>
    public static MachDispatchResult Handled => new(MachDispatchStatus.Handled, string.Empty, null);

    /// <summary>No handler for the id.</summary>
    public static MachDispatchResult UnknownId => new(MachDispatchStatus.UnknownId, "unknown msgh_id", null);

    /// <summary>The message failed validation for <paramref name="reason"/>.</summary>
    public static MachDispatchResult Rejected(string reason) => new(MachDispatchStatus.Rejected, reason, null);

    /// <summary>The handler threw <paramref name="exception"/>.</summary>
    public static MachDispatchResult HandlerFailed(System.Exception exception) => new(MachDispatchStatus.HandlerFailed, "handler threw", exception);
}

/// <summary>
/// Dispatches received messages by <c>msgh_id</c>. The MachIpc generator implements it for a
/// <c>[MachServer]</c> partial class: a switch on the id, the message's generated validator, then its handler.
/// </summary>
public unsafe interface IMachDispatcher
{
    /// <summary>The largest <c>msgh_size</c> of any declared request (the server sizes its buffer from it).</summary>
    int MaxRequestSize { get; }

    /// <summary>
    /// Validates and dispatches the message at <paramref name="message"/>; <paramref name="length"/> is the size of
    /// the receive buffer from <paramref name="message"/> on (at least the message and its trailer; a short
    /// variable-length request is followed by the rest of the buffer). Must not throw. Whatever is left in the
    /// message when it returns (rights and regions nobody took) is destroyed by the caller.
    /// </summary>
    MachDispatchResult Dispatch(MachMsgHeader* message, int length);
}
