using System;

namespace MachIpc.Connections;

/// <summary>
/// A rendezvous failed for a reason other than a kernel call's error: the peer broke the protocol, closed early,
/// or is not who it must be (the wrong pid answered, a name was already taken by someone else).
/// </summary>
public sealed class MachRendezvousException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MachRendezvousException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner exception.</summary>
    public MachRendezvousException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with no message.</summary>
    public MachRendezvousException() { }
}
