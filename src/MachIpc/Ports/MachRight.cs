using System;
using System.Threading;
using MachIpc.Abi;
using MachIpc.Kernel;

namespace MachIpc.Ports;

/// <summary>
/// An owned Mach port right: one user reference (or the one receive / send-once / port-set right) under a
/// name in the current task. <see cref="Dispose"/> performs exactly the <c>mach_port_*</c> call that releases
/// that right and nothing else; <see cref="TakeName"/> hands ownership to a message (move semantics), after
/// which disposing does nothing. Release is idempotent and thread-safe, so a right is never released twice.
/// </summary>
/// <remarks>
/// A port name means something only in its task's name space. An owned right remembers the task it was
/// created in (with the simulated kernel, the simulated task of the creating thread) and acts in that task
/// whichever thread disposes it.
/// </remarks>
public abstract class MachRight : IDisposable
{
    private uint _name;
    private readonly CurrentTaskContext _owner;

    private protected MachRight(uint name)
    {
        _name = name;
        _owner = CurrentTaskContext.Capture();
    }

    /// <summary>The port name, or <see cref="MachPortName.Null"/> once released or moved.</summary>
    public uint Name => Volatile.Read(ref _name);

    /// <summary>Whether this object still owns its right.</summary>
    public bool IsValid => MachPortName.IsValid(Name);

    /// <summary>The kind of right owned.</summary>
    public abstract MachPortRight Right { get; }

    /// <summary>
    /// Gives up ownership without releasing: returns the name (for a MOVE disposition in a message, or for
    /// adoption by another owner) and leaves this object empty.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The right was already released or moved.</exception>
    public uint TakeName()
    {
        uint name = Interlocked.Exchange(ref _name, MachPortName.Null);
        ObjectDisposedException.ThrowIf(name == MachPortName.Null, this);
        return name;
    }

    /// <summary>Releases the right if still owned.</summary>
    public void Dispose()
    {
        uint name = Interlocked.Exchange(ref _name, MachPortName.Null);
        if (MachPortName.IsValid(name))
        {
            using var _ = _owner.Enter();
            Release(name);
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Performs the one kernel call releasing this kind of right.</summary>
    private protected abstract void Release(uint name);

    /// <summary>Makes the calling thread act in the owning task for the duration of a kernel call.</summary>
    private protected IDisposable? EnterOwner() => _owner.Enter();

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the right is gone; returns the name.</summary>
    private protected uint LiveName()
    {
        uint name = Name;
        ObjectDisposedException.ThrowIf(name == MachPortName.Null, this);
        return name;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}(0x{Name:x})";

    private protected static void Check(KernReturn kr, string operation)
    {
        if (kr != KernReturn.Success)
        {
            throw new MachException(operation, kr);
        }
    }
}
