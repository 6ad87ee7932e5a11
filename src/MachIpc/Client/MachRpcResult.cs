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
    /// <c>kern_return_t</c> of making a reply port when none could be made).
    /// </summary>
    SendFailed,
    /// <summary>No reply arrived (timeout, or the reply port failed; <see cref="MachRpcResult.Code"/> is the <c>mach_msg_return_t</c>).</summary>
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

/// <summary>The outcome of <see cref="MachRpcClient.Call{TRequest, TReply}"/>; allocation-free.</summary>
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

    /// <summary>The <c>mach_msg</c> result, or the server's MIG/kernel error code for <see cref="MachRpcStatus.RemoteError"/>.</summary>
    public int Code { get; }

    /// <summary>Why the reply was invalid, for <see cref="MachRpcStatus.InvalidReply"/>.</summary>
    public MachValidationError ValidationError { get; }

    /// <summary>Whether a valid reply arrived.</summary>
    public bool IsSuccess => Status == MachRpcStatus.Success;

    /// <inheritdoc/>
    public override string ToString() => Status switch
    {
        MachRpcStatus.Success => "success",
        MachRpcStatus.InvalidReply => $"invalid reply: {MachValidation.Describe(ValidationError)}",
        _ => $"{Status}: {new MachError(Code)}",
    };
}
