namespace MachIpc.Messages;

/// <summary>
/// Why a received message was rejected by its generated validator. Validators never throw: every
/// peer-controlled inconsistency maps to one of these values (see <see cref="MachValidation.Describe"/>).
/// </summary>
public enum MachValidationError
{
    /// <summary>The message is well formed.</summary>
    None = 0,
    /// <summary>The received buffer is shorter than a header, or shorter than the declared message struct.</summary>
    BufferTooSmall,
    /// <summary><c>msgh_size</c> differs from the send size of a fixed-size message.</summary>
    WrongSize,
    /// <summary><c>msgh_size</c> of a variable-length message is outside [MinSize, SendSize].</summary>
    SizeOutOfRange,
    /// <summary><c>msgh_size</c> is not a multiple of 4.</summary>
    SizeNotAligned,
    /// <summary><c>msgh_id</c> is not the declared id.</summary>
    WrongId,
    /// <summary><c>MACH_MSGH_BITS_COMPLEX</c> disagrees with the declaration (a body with descriptors or not).</summary>
    ComplexBitMismatch,
    /// <summary>The header's remote (reply) disposition is not the received form of the declared local disposition.</summary>
    WrongReplyDisposition,
    /// <summary>The header's local (destination) disposition is not the received form of the declared remote disposition.</summary>
    WrongDestinationDisposition,
    /// <summary><c>msgh_descriptor_count</c> differs from the declared number of descriptors.</summary>
    WrongDescriptorCount,
    /// <summary>A descriptor's type byte is not the declared descriptor kind.</summary>
    WrongDescriptorType,
    /// <summary>A port or OOL-ports descriptor carries a right other than the received form of the declared disposition.</summary>
    WrongDescriptorDisposition,
    /// <summary>An out-of-line region's size is outside the declared [MinSize, MaxSize].</summary>
    OolSizeOutOfRange,
    /// <summary>An out-of-line port array's count exceeds the declared MaxCount.</summary>
    OolPortsCountOutOfRange,
    /// <summary>The trailer at <c>round_msg(msgh_size)</c> plus the requested trailer size does not fit in the received buffer.</summary>
    TrailerOutOfBounds,
    /// <summary>The trailer format is not <c>MACH_MSG_TRAILER_FORMAT_0</c>.</summary>
    WrongTrailerFormat,
    /// <summary>The trailer is smaller than the trailer the message type requests.</summary>
    TrailerTooSmall,
    /// <summary>The <c>[MachCount]</c> of a variable-length message claims more elements than <c>msgh_size</c> carries (or is negative).</summary>
    CountOutOfRange,
}

/// <summary>Readable text for <see cref="MachValidationError"/>.</summary>
public static class MachValidation
{
    /// <summary>A short, constant English description of <paramref name="error"/> (no allocation).</summary>
    public static string Describe(MachValidationError error) => error switch
    {
        MachValidationError.None => "message is valid",
        MachValidationError.BufferTooSmall => "received buffer is smaller than the message header or the declared message",
        MachValidationError.WrongSize => "msgh_size differs from the declared message size",
        MachValidationError.SizeOutOfRange => "msgh_size is outside the declared [MinSize, SendSize] range",
        MachValidationError.SizeNotAligned => "msgh_size is not a multiple of 4",
        MachValidationError.WrongId => "msgh_id is not the declared message id",
        MachValidationError.ComplexBitMismatch => "MACH_MSGH_BITS_COMPLEX disagrees with the declared message",
        MachValidationError.WrongReplyDisposition => "reply port disposition is not the received form of the declared local disposition",
        MachValidationError.WrongDestinationDisposition => "destination port disposition is not the received form of the declared remote disposition",
        MachValidationError.WrongDescriptorCount => "descriptor count differs from the declared number of descriptors",
        MachValidationError.WrongDescriptorType => "a descriptor's type is not the declared descriptor kind",
        MachValidationError.WrongDescriptorDisposition => "a descriptor carries a right other than the declared one",
        MachValidationError.OolSizeOutOfRange => "an out-of-line region's size is outside the declared bounds",
        MachValidationError.OolPortsCountOutOfRange => "an out-of-line port array holds more names than declared",
        MachValidationError.TrailerOutOfBounds => "the trailer at round_msg(msgh_size) does not fit in the received buffer",
        MachValidationError.WrongTrailerFormat => "the trailer format is not MACH_MSG_TRAILER_FORMAT_0",
        MachValidationError.TrailerTooSmall => "the trailer is smaller than the requested trailer",
        MachValidationError.CountOutOfRange => "the [MachCount] field claims more elements than msgh_size carries",
        _ => "unknown validation error",
    };
}
