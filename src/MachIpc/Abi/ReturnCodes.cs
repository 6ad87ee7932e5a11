// Values from mach/message.h, mach/kern_return.h, mach/mig_errors.h and bootstrap.h (see the ABI fact sheet).
namespace MachIpc.Abi;

/// <summary><c>mach_msg_return_t</c>: the result of <c>mach_msg</c>.</summary>
public enum MachMsgReturn
{
    /// <summary><c>MACH_MSG_SUCCESS</c>: the message was sent or received.</summary>
    Success = 0,
    /// <summary><c>MACH_SEND_IN_PROGRESS</c>: thread is waiting to send (internal use only).</summary>
    SendInProgress = unchecked((int)0x10000001),
    /// <summary><c>MACH_SEND_INVALID_DATA</c>: bogus in-line data.</summary>
    SendInvalidData = unchecked((int)0x10000002),
    /// <summary><c>MACH_SEND_INVALID_DEST</c>: bogus destination port.</summary>
    SendInvalidDest = unchecked((int)0x10000003),
    /// <summary><c>MACH_SEND_TIMED_OUT</c>: message not sent before timeout expired.</summary>
    SendTimedOut = unchecked((int)0x10000004),
    /// <summary><c>MACH_SEND_INVALID_VOUCHER</c>: bogus voucher port.</summary>
    SendInvalidVoucher = unchecked((int)0x10000005),
    /// <summary><c>MACH_SEND_INTERRUPTED</c>: software interrupt during send.</summary>
    SendInterrupted = unchecked((int)0x10000007),
    /// <summary><c>MACH_SEND_MSG_TOO_SMALL</c>: data does not contain a complete message.</summary>
    SendMsgTooSmall = unchecked((int)0x10000008),
    /// <summary><c>MACH_SEND_INVALID_REPLY</c>: bogus reply port.</summary>
    SendInvalidReply = unchecked((int)0x10000009),
    /// <summary><c>MACH_SEND_INVALID_RIGHT</c>: bogus port rights in the message body.</summary>
    SendInvalidRight = unchecked((int)0x1000000a),
    /// <summary><c>MACH_SEND_INVALID_NOTIFY</c>: bogus notify port argument.</summary>
    SendInvalidNotify = unchecked((int)0x1000000b),
    /// <summary><c>MACH_SEND_INVALID_MEMORY</c>: invalid out-of-line memory pointer.</summary>
    SendInvalidMemory = unchecked((int)0x1000000c),
    /// <summary><c>MACH_SEND_NO_BUFFER</c>: no message buffer is available.</summary>
    SendNoBuffer = unchecked((int)0x1000000d),
    /// <summary><c>MACH_SEND_TOO_LARGE</c>: send is too large for the port.</summary>
    SendTooLarge = unchecked((int)0x1000000e),
    /// <summary><c>MACH_SEND_INVALID_TYPE</c>: invalid descriptor type or copy option.</summary>
    SendInvalidType = unchecked((int)0x1000000f),
    /// <summary><c>MACH_SEND_INVALID_HEADER</c>: a field in the header had a bad value.</summary>
    SendInvalidHeader = unchecked((int)0x10000010),
    /// <summary><c>MACH_SEND_INVALID_TRAILER</c>: the trailer to be sent does not match the kernel format.</summary>
    SendInvalidTrailer = unchecked((int)0x10000011),
    /// <summary><c>MACH_RCV_IN_PROGRESS</c>: thread is waiting for receive (internal use only).</summary>
    RcvInProgress = unchecked((int)0x10004001),
    /// <summary><c>MACH_RCV_INVALID_NAME</c>: bogus name for receive port or port set.</summary>
    RcvInvalidName = unchecked((int)0x10004002),
    /// <summary><c>MACH_RCV_TIMED_OUT</c>: did not receive a message before timeout expired.</summary>
    RcvTimedOut = unchecked((int)0x10004003),
    /// <summary><c>MACH_RCV_TOO_LARGE</c>: message buffer is not large enough for the message and its trailer.</summary>
    RcvTooLarge = unchecked((int)0x10004004),
    /// <summary><c>MACH_RCV_INTERRUPTED</c>: software interrupt during receive.</summary>
    RcvInterrupted = unchecked((int)0x10004005),
    /// <summary><c>MACH_RCV_PORT_CHANGED</c>: the receive right was moved or destroyed while waiting.</summary>
    RcvPortChanged = unchecked((int)0x10004006),
    /// <summary><c>MACH_RCV_INVALID_NOTIFY</c>: bogus notify port argument.</summary>
    RcvInvalidNotify = unchecked((int)0x10004007),
    /// <summary><c>MACH_RCV_INVALID_DATA</c>: bogus message buffer for the inline data.</summary>
    RcvInvalidData = unchecked((int)0x10004008),
    /// <summary><c>MACH_RCV_PORT_DIED</c>: port has no senders (documented, never returned by XNU).</summary>
    RcvPortDied = unchecked((int)0x10004009),
    /// <summary><c>MACH_RCV_IN_SET</c>: port is a member of a port set (never returned by XNU).</summary>
    RcvInSet = unchecked((int)0x1000400a),
    /// <summary><c>MACH_RCV_HEADER_ERROR</c>: error receiving the message header.</summary>
    RcvHeaderError = unchecked((int)0x1000400b),
    /// <summary><c>MACH_RCV_BODY_ERROR</c>: error receiving the message body.</summary>
    RcvBodyError = unchecked((int)0x1000400c),
    /// <summary><c>MACH_RCV_INVALID_TYPE</c>: invalid descriptor type in the receive scatter list.</summary>
    RcvInvalidType = unchecked((int)0x1000400d),
    /// <summary><c>MACH_RCV_SCATTER_SMALL</c>: out-of-line overwrite region is not large enough.</summary>
    RcvScatterSmall = unchecked((int)0x1000400e),
    /// <summary><c>MACH_RCV_INVALID_TRAILER</c>: trailer type or number of trailer elements not supported.</summary>
    RcvInvalidTrailer = unchecked((int)0x1000400f),
}

/// <summary>Reading a <see cref="MachMsgReturn"/>: the resource bits <c>mach_msg</c> ORs into some results.</summary>
public static class MachMsgReturns
{
    /// <summary>
    /// <c>MACH_MSG_MASK</c> (mach/message.h): the bits (<c>MACH_MSG_IPC_SPACE</c>, <c>MACH_MSG_VM_SPACE</c>,
    /// <c>MACH_MSG_IPC_KERNEL</c>, <c>MACH_MSG_VM_KERNEL</c>) the kernel ORs into a result when it ran short of
    /// names or memory, for example into <c>MACH_RCV_BODY_ERROR</c> or into a send error whose message it
    /// pseudo-received (osfmk/ipc/mach_msg.c: <c>mr |= mach_msg_receive_pseudo(...)</c>).
    /// </summary>
    public const int ResourceMask = 0x3e00;

    /// <summary>The result with <see cref="ResourceMask"/> cleared, the form to compare against the named codes.</summary>
    public static MachMsgReturn WithoutResourceBits(this MachMsgReturn mr) => (MachMsgReturn)((int)mr & ~ResourceMask);

    /// <summary>
    /// Whether a failed send came back pseudo-received: <c>ipc_kmsg_send</c> gave up after copyin
    /// (<c>MACH_SEND_TIMED_OUT</c>, <c>MACH_SEND_INTERRUPTED</c>, <c>MACH_SEND_NO_BUFFER</c>), so the kernel copied
    /// the message back into the sender's buffer with every right and region it carried, under names and at
    /// addresses of the sender's space (osfmk/ipc/mach_msg.c <c>mach_msg_trap_send</c> →
    /// <c>mach_msg_receive_pseudo</c>; ipc_kmsg.c <c>ipc_kmsg_copyout_pseudo</c>). The sender owns all of it,
    /// <c>msgh_local_port</c> included: release it with <see cref="Messages.ReceivedMessage.DestroyUnsent"/>.
    /// </summary>
    public static bool IsPseudoReceived(this MachMsgReturn mr) =>
        mr.WithoutResourceBits() is MachMsgReturn.SendTimedOut or MachMsgReturn.SendInterrupted or MachMsgReturn.SendNoBuffer;
}

/// <summary><c>kern_return_t</c>: the result of the <c>mach_port_*</c> calls.</summary>
public enum KernReturn
{
    /// <summary><c>KERN_SUCCESS</c>: success.</summary>
    Success = 0,
    /// <summary><c>KERN_INVALID_ADDRESS</c>: specified address is not currently valid.</summary>
    InvalidAddress = 1,
    /// <summary><c>KERN_PROTECTION_FAILURE</c>: specified memory is valid, but does not permit the required access.</summary>
    ProtectionFailure = 2,
    /// <summary><c>KERN_NO_SPACE</c>: the address range or name space is full.</summary>
    NoSpace = 3,
    /// <summary><c>KERN_INVALID_ARGUMENT</c>: the function requested was not applicable to this type of argument.</summary>
    InvalidArgument = 4,
    /// <summary><c>KERN_FAILURE</c>: the function could not be performed.</summary>
    Failure = 5,
    /// <summary><c>KERN_RESOURCE_SHORTAGE</c>: a system resource could not be allocated.</summary>
    ResourceShortage = 6,
    /// <summary><c>KERN_NOT_RECEIVER</c>: the task in question does not hold receive rights for the port.</summary>
    NotReceiver = 7,
    /// <summary><c>KERN_NO_ACCESS</c>: bogus access restriction.</summary>
    NoAccess = 8,
    /// <summary><c>KERN_MEMORY_FAILURE</c>: the memory object could not be accessed.</summary>
    MemoryFailure = 9,
    /// <summary><c>KERN_MEMORY_ERROR</c>: a memory error occurred while accessing the memory object.</summary>
    MemoryError = 10,
    /// <summary><c>KERN_ALREADY_IN_SET</c>: the port is already a member of that port set.</summary>
    AlreadyInSet = 11,
    /// <summary><c>KERN_NOT_IN_SET</c>: the port is not a member of that port set.</summary>
    NotInSet = 12,
    /// <summary><c>KERN_NAME_EXISTS</c>: the name already denotes a right in the task.</summary>
    NameExists = 13,
    /// <summary><c>KERN_ABORTED</c>: the operation was aborted.</summary>
    Aborted = 14,
    /// <summary><c>KERN_INVALID_NAME</c>: the name does not denote a right in the task.</summary>
    InvalidName = 15,
    /// <summary><c>KERN_INVALID_TASK</c>: target task is not an active task.</summary>
    InvalidTask = 16,
    /// <summary><c>KERN_INVALID_RIGHT</c>: the name denotes a right, but not an appropriate right.</summary>
    InvalidRight = 17,
    /// <summary><c>KERN_INVALID_VALUE</c>: a blatant range error.</summary>
    InvalidValue = 18,
    /// <summary><c>KERN_UREFS_OVERFLOW</c>: operation would overflow the limit on user references.</summary>
    UrefsOverflow = 19,
    /// <summary><c>KERN_INVALID_CAPABILITY</c>: the supplied port capability is improper.</summary>
    InvalidCapability = 20,
    /// <summary><c>KERN_RIGHT_EXISTS</c>: the task already has send or receive rights for the port under another name.</summary>
    RightExists = 21,
    /// <summary><c>KERN_NOT_SUPPORTED</c>: an empty thread activation or an unsupported option.</summary>
    NotSupported = 46,
    /// <summary><c>KERN_OPERATION_TIMED_OUT</c>: the operation timed out.</summary>
    OperationTimedOut = 49,
    /// <summary><c>KERN_DENIED</c>: denied by security policy.</summary>
    Denied = 53,
}

/// <summary>MIG error codes (<c>mach/mig_errors.h</c>).</summary>
public enum MigReturn
{
    /// <summary><c>MIG_TYPE_ERROR</c>: client type check failure.</summary>
    TypeError = -300,
    /// <summary><c>MIG_REPLY_MISMATCH</c>: wrong reply message id.</summary>
    ReplyMismatch = -301,
    /// <summary><c>MIG_REMOTE_ERROR</c>: server detected an error.</summary>
    RemoteError = -302,
    /// <summary><c>MIG_BAD_ID</c>: bad request message id.</summary>
    BadId = -303,
    /// <summary><c>MIG_BAD_ARGUMENTS</c>: server type check failure.</summary>
    BadArguments = -304,
    /// <summary><c>MIG_NO_REPLY</c>: no reply should be sent.</summary>
    NoReply = -305,
    /// <summary><c>MIG_EXCEPTION</c>: server raised an exception.</summary>
    Exception = -306,
    /// <summary><c>MIG_ARRAY_TOO_LARGE</c>: array not large enough.</summary>
    ArrayTooLarge = -307,
    /// <summary><c>MIG_SERVER_DIED</c>: server died.</summary>
    ServerDied = -308,
    /// <summary><c>MIG_TRAILER_ERROR</c>: trailer has an unknown format.</summary>
    TrailerError = -309,
}

/// <summary>Bootstrap (launchd) error codes (<c>bootstrap.h</c>).</summary>
public enum BootstrapReturn
{
    /// <summary><c>BOOTSTRAP_SUCCESS</c>: success.</summary>
    Success = 0,
    /// <summary><c>BOOTSTRAP_NOT_PRIVILEGED</c>: permission denied.</summary>
    NotPrivileged = 1100,
    /// <summary><c>BOOTSTRAP_NAME_IN_USE</c>: service name already exists.</summary>
    NameInUse = 1101,
    /// <summary><c>BOOTSTRAP_UNKNOWN_SERVICE</c>: unknown service name.</summary>
    UnknownService = 1102,
    /// <summary><c>BOOTSTRAP_SERVICE_ACTIVE</c>: service name already exists.</summary>
    ServiceActive = 1103,
    /// <summary><c>BOOTSTRAP_BAD_COUNT</c>: too many lookups were requested in one request.</summary>
    BadCount = 1104,
    /// <summary><c>BOOTSTRAP_NO_MEMORY</c>: out of memory.</summary>
    NoMemory = 1105,
    /// <summary><c>BOOTSTRAP_NO_CHILDREN</c>: no children.</summary>
    NoChildren = 1106,
}
