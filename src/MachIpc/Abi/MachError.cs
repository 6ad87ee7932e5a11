using System;

namespace MachIpc.Abi;

/// <summary>
/// A Mach, kernel, MIG or bootstrap result code with its C name and a one-line description, so that
/// errors print as <c>MACH_SEND_INVALID_DEST (0x10000003): bogus destination port</c>.
/// </summary>
/// <remarks>The four code spaces do not overlap except at 0 (success), so one code identifies its name.</remarks>
public readonly struct MachError : IEquatable<MachError>
{
    // mach_msg may OR these resource-shortage bits into MACH_RCV_BODY_ERROR / MACH_RCV_HEADER_ERROR.
    private const int ResourceBits = MachMsgReturns.ResourceMask;

    /// <summary>Wraps a raw code.</summary>
    public MachError(int code) => Code = code;

    /// <summary>The raw code.</summary>
    public int Code { get; }

    /// <summary>Whether the code is success (0).</summary>
    public bool IsSuccess => Code == 0;

    /// <summary>The C name (e.g. <c>MACH_SEND_INVALID_DEST</c>), or <c>UNKNOWN</c>.</summary>
    public string Name => Lookup(Code).Name;

    /// <summary>A one-line description.</summary>
    public string Description => Lookup(Code).Description;

    /// <summary>Formats <paramref name="code"/> as <c>NAME (code): description</c>.</summary>
    public static string Describe(int code) => new MachError(code).ToString();

    /// <inheritdoc/>
    public override string ToString()
    {
        string number = Code is >= 0x1000 or < -1000 ? "0x" + Code.ToString("x8", System.Globalization.CultureInfo.InvariantCulture)
                                                      : Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"{Name} ({number}): {Description}";
    }

    private static (string Name, string Description) Lookup(int code)
    {
        var known = Known(code);
        if (known.Name is not null)
        {
            return known;
        }
        var masked = Known(code & ~ResourceBits);
        if (masked.Name is not null && (code & ResourceBits) != 0)
        {
            return (masked.Name + "|RESOURCE", masked.Description + " (resource shortage bits set)");
        }
        return ("UNKNOWN", "unknown error code");
    }

    private static (string Name, string Description) Known(int code) => code switch
    {
        0 => ("MACH_MSG_SUCCESS", "the message was sent or received"),
        unchecked((int)0x10000001) => ("MACH_SEND_IN_PROGRESS", "thread is waiting to send (internal use only)"),
        unchecked((int)0x10000002) => ("MACH_SEND_INVALID_DATA", "bogus in-line data"),
        unchecked((int)0x10000003) => ("MACH_SEND_INVALID_DEST", "bogus destination port"),
        unchecked((int)0x10000004) => ("MACH_SEND_TIMED_OUT", "message not sent before timeout expired"),
        unchecked((int)0x10000005) => ("MACH_SEND_INVALID_VOUCHER", "bogus voucher port"),
        unchecked((int)0x10000007) => ("MACH_SEND_INTERRUPTED", "software interrupt during send"),
        unchecked((int)0x10000008) => ("MACH_SEND_MSG_TOO_SMALL", "data does not contain a complete message"),
        unchecked((int)0x10000009) => ("MACH_SEND_INVALID_REPLY", "bogus reply port"),
        unchecked((int)0x1000000a) => ("MACH_SEND_INVALID_RIGHT", "bogus port rights in the message body"),
        unchecked((int)0x1000000b) => ("MACH_SEND_INVALID_NOTIFY", "bogus notify port argument"),
        unchecked((int)0x1000000c) => ("MACH_SEND_INVALID_MEMORY", "invalid out-of-line memory pointer"),
        unchecked((int)0x1000000d) => ("MACH_SEND_NO_BUFFER", "no message buffer is available"),
        unchecked((int)0x1000000e) => ("MACH_SEND_TOO_LARGE", "send is too large for the port"),
        unchecked((int)0x1000000f) => ("MACH_SEND_INVALID_TYPE", "invalid descriptor type or copy option"),
        unchecked((int)0x10000010) => ("MACH_SEND_INVALID_HEADER", "a field in the header had a bad value"),
        unchecked((int)0x10000011) => ("MACH_SEND_INVALID_TRAILER", "the trailer to be sent does not match the kernel format"),
        unchecked((int)0x10004001) => ("MACH_RCV_IN_PROGRESS", "thread is waiting for receive (internal use only)"),
        unchecked((int)0x10004002) => ("MACH_RCV_INVALID_NAME", "bogus name for receive port or port set"),
        unchecked((int)0x10004003) => ("MACH_RCV_TIMED_OUT", "did not receive a message before timeout expired"),
        unchecked((int)0x10004004) => ("MACH_RCV_TOO_LARGE", "message buffer is not large enough for the message and its trailer"),
        unchecked((int)0x10004005) => ("MACH_RCV_INTERRUPTED", "software interrupt during receive"),
        unchecked((int)0x10004006) => ("MACH_RCV_PORT_CHANGED", "the receive right was moved or destroyed while waiting"),
        unchecked((int)0x10004007) => ("MACH_RCV_INVALID_NOTIFY", "bogus notify port argument"),
        unchecked((int)0x10004008) => ("MACH_RCV_INVALID_DATA", "bogus message buffer for the inline data"),
        unchecked((int)0x10004009) => ("MACH_RCV_PORT_DIED", "port has no senders (documented, never returned by XNU)"),
        unchecked((int)0x1000400a) => ("MACH_RCV_IN_SET", "port is a member of a port set (never returned by XNU)"),
        unchecked((int)0x1000400b) => ("MACH_RCV_HEADER_ERROR", "error receiving the message header"),
        unchecked((int)0x1000400c) => ("MACH_RCV_BODY_ERROR", "error receiving the message body"),
        unchecked((int)0x1000400d) => ("MACH_RCV_INVALID_TYPE", "invalid descriptor type in the receive scatter list"),
        unchecked((int)0x1000400e) => ("MACH_RCV_SCATTER_SMALL", "out-of-line overwrite region is not large enough"),
        unchecked((int)0x1000400f) => ("MACH_RCV_INVALID_TRAILER", "trailer type or number of trailer elements not supported"),
        1 => ("KERN_INVALID_ADDRESS", "specified address is not currently valid"),
        2 => ("KERN_PROTECTION_FAILURE", "specified memory is valid, but does not permit the required access"),
        3 => ("KERN_NO_SPACE", "the address range or name space is full"),
        4 => ("KERN_INVALID_ARGUMENT", "the function requested was not applicable to this type of argument"),
        5 => ("KERN_FAILURE", "the function could not be performed"),
        6 => ("KERN_RESOURCE_SHORTAGE", "a system resource could not be allocated"),
        7 => ("KERN_NOT_RECEIVER", "the task in question does not hold receive rights for the port"),
        8 => ("KERN_NO_ACCESS", "bogus access restriction"),
        9 => ("KERN_MEMORY_FAILURE", "the memory object could not be accessed"),
        10 => ("KERN_MEMORY_ERROR", "a memory error occurred while accessing the memory object"),
        11 => ("KERN_ALREADY_IN_SET", "the port is already a member of that port set"),
        12 => ("KERN_NOT_IN_SET", "the port is not a member of that port set"),
        13 => ("KERN_NAME_EXISTS", "the name already denotes a right in the task"),
        14 => ("KERN_ABORTED", "the operation was aborted"),
        15 => ("KERN_INVALID_NAME", "the name does not denote a right in the task"),
        16 => ("KERN_INVALID_TASK", "target task is not an active task"),
        17 => ("KERN_INVALID_RIGHT", "the name denotes a right, but not an appropriate right"),
        18 => ("KERN_INVALID_VALUE", "a blatant range error"),
        19 => ("KERN_UREFS_OVERFLOW", "operation would overflow the limit on user references"),
        20 => ("KERN_INVALID_CAPABILITY", "the supplied port capability is improper"),
        21 => ("KERN_RIGHT_EXISTS", "the task already has send or receive rights for the port under another name"),
        46 => ("KERN_NOT_SUPPORTED", "an empty thread activation or an unsupported option"),
        49 => ("KERN_OPERATION_TIMED_OUT", "the operation timed out"),
        53 => ("KERN_DENIED", "denied by security policy"),
        -300 => ("MIG_TYPE_ERROR", "client type check failure"),
        -301 => ("MIG_REPLY_MISMATCH", "wrong reply message id"),
        -302 => ("MIG_REMOTE_ERROR", "server detected an error"),
        -303 => ("MIG_BAD_ID", "bad request message id"),
        -304 => ("MIG_BAD_ARGUMENTS", "server type check failure"),
        -305 => ("MIG_NO_REPLY", "no reply should be sent"),
        -306 => ("MIG_EXCEPTION", "server raised an exception"),
        -307 => ("MIG_ARRAY_TOO_LARGE", "array not large enough"),
        -308 => ("MIG_SERVER_DIED", "server died"),
        -309 => ("MIG_TRAILER_ERROR", "trailer has an unknown format"),
        1100 => ("BOOTSTRAP_NOT_PRIVILEGED", "permission denied"),
        1101 => ("BOOTSTRAP_NAME_IN_USE", "service name already exists"),
        1102 => ("BOOTSTRAP_UNKNOWN_SERVICE", "unknown service name"),
        1103 => ("BOOTSTRAP_SERVICE_ACTIVE", "service name already exists"),
        1104 => ("BOOTSTRAP_BAD_COUNT", "too many lookups were requested in one request"),
        1105 => ("BOOTSTRAP_NO_MEMORY", "out of memory"),
        1106 => ("BOOTSTRAP_NO_CHILDREN", "no children"),
        _ => (null!, null!),
    };

    /// <summary>Implicit conversion from <see cref="MachMsgReturn"/>.</summary>
    public static implicit operator MachError(MachMsgReturn code) => new((int)code);
    /// <summary>Implicit conversion from <see cref="KernReturn"/>.</summary>
    public static implicit operator MachError(KernReturn code) => new((int)code);
    /// <summary>Implicit conversion from <see cref="MigReturn"/>.</summary>
    public static implicit operator MachError(MigReturn code) => new((int)code);
    /// <summary>Implicit conversion from <see cref="BootstrapReturn"/>.</summary>
    public static implicit operator MachError(BootstrapReturn code) => new((int)code);

    /// <inheritdoc/>
    public bool Equals(MachError other) => Code == other.Code;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MachError e && Equals(e);
    /// <inheritdoc/>
    public override int GetHashCode() => Code;
    /// <summary>Value equality.</summary>
    public static bool operator ==(MachError left, MachError right) => left.Equals(right);
    /// <summary>Value inequality.</summary>
    public static bool operator !=(MachError left, MachError right) => !left.Equals(right);
}

/// <summary>Thrown by the convenience (non-<c>Try</c>) APIs when a Mach call fails; carries the real code.</summary>
public sealed class MachException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>, naming the failed <paramref name="operation"/>.</summary>
    public MachException(string operation, MachError error)
        : base($"{operation} failed: {error}") => Error = error;

    /// <summary>Creates the exception with a message.</summary>
    public MachException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public MachException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with no message.</summary>
    public MachException() { }

    /// <summary>The code the kernel returned.</summary>
    public MachError Error { get; }
}
