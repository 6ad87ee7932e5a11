using MachIpc.Abi;
using MachIpc.Messages;

namespace MachIpc.Client;

/// <summary>How a request/reply call ended.</summary>
public enum MachRpcStatus
{
    /// <summary>A valid reply arrived.</summary>
    Success = 0,
    /// <summary>
    /// The request could not be sent (<see cref="MachRpcResult.Code"/> is the <c>mach_msg_return_t</c>, or the
    /// <c>kern_return_t</c> of making a reply port when none could be made). The server never saw it.
    /// </summary>
    SendFailed,
    /// <summary>
    /// The request went out but no reply arrived (timeout, or the reply port failed; <see cref="MachRpcResult.Code"/>
    /// is the <c>mach_msg_return_t</c>). The server may have acted on it.
    /// </summary>
    ReceiveFailed,
    /// <summary>
    /// The server answered with a <c>mig_reply_error_t</c> (<see cref="MachRpcResult.Code"/> is its RetCode), or
    /// destroyed the reply right unanswered, which the kernel reports with a send-once notification
    /// (<c>MIG_SERVER_DIED</c>, as MIG clients report it).
    /// </summary>
    RemoteError,
    /// <summary>A reply arrived but failed validation (<see cref="MachRpcResult.ValidationError"/>); it was destroyed.</summary>
    InvalidReply,
}

/// <summary>
/// Why a call to <see cref="MachRpcClient.TryCall{TRequest, TReply}"/> failed: the phase it failed in (which tells
/// whether the server can have seen the request) and the code; allocation-free. <see cref="MachRpcClient.Call{TRequest, TReply}"/>
/// throws a <see cref="MachException"/> carrying the same <see cref="Error"/>.
/// </summary>
public readonly struct MachRpcResult
{
    internal MachRpcResult(MachRpcStatus status, int code, MachValidationError validationError = MachValidationError.None)
    {
        Status = status;
        Code = code;
        ValidationError = validationError;
    }

    /// <summary>What happened.</summary>
    public MachRpcStatus Status { get; }

    /// <summary>
    /// The <c>mach_msg</c> result, the server's MIG/kernel error code for <see cref="MachRpcStatus.RemoteError"/>, or
    /// <c>MIG_REPLY_MISMATCH</c> for <see cref="MachRpcStatus.InvalidReply"/>.
    /// </summary>
    public int Code { get; }

    /// <summary><see cref="Code"/> with its C name and description.</summary>
    public MachError Error => new(Code);

    /// <summary>Why the reply was invalid, for <see cref="MachRpcStatus.InvalidReply"/>.</summary>
    public MachValidationError ValidationError { get; }

    /// <summary>Whether a valid reply arrived.</summary>
    public bool IsSuccess => Status == MachRpcStatus.Success;

    /// <inheritdoc/>
    public override string ToString() => Status switch
    {
        MachRpcStatus.Success => "success",
        MachRpcStatus.InvalidReply => $"invalid reply: {MachValidation.Describe(ValidationError)}",
        _ => $"{Status}: {Error}",
    };
}

/// <summary>A reply and who sent it, from the kernel's audit trailer.</summary>
/// <typeparam name="TReply">The reply message; the caller owns the rights and out-of-line memory it carries.</typeparam>
public readonly struct MachRpcReply<TReply>
    where TReply : unmanaged
{
    internal MachRpcReply(TReply message, AuditToken sender)
    {
        Message = message;
        Sender = sender;
    }

    /// <summary>The reply.</summary>
    public TReply Message { get; }

    /// <summary>The audit token of the task that sent the reply (its pid is <see cref="AuditToken.Pid"/>).</summary>
    public AuditToken Sender { get; }
}
