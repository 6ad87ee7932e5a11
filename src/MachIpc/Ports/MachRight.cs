using System;
using System.Runtime.ConstrainedExecution;
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
/// <para>
/// A port name means something only in its task's name space. An owned right remembers the task it was
/// created in (with the simulated kernel, the simulated task of the creating thread) and acts in that task
/// whichever thread disposes it.
/// </para>
/// <para>
/// A right that is never disposed is released by its finalizer, on the GC's finalizer thread, acting in that
/// same owning task: the same single <c>mach_port_*</c> call <see cref="Dispose"/> makes (a forgotten receive
/// right destroys its port, which also ends a bootstrap registration of it). This is a safety net, not a way to
/// manage rights: until the GC gets to it the right stays held, and the finalizer's release goes unreported.
/// </para>
/// </remarks>
public abstract class MachRight : CriticalFinalizerObject, IDisposable
{
    private uint _name;
    private readonly CurrentTaskContext _owner;

    private protected MachRight(uint name)
    {
        // A received MACH_PORT_NULL or MACH_PORT_DEAD names no right in this task: adopting it as one would hand
        // out an object that sends nowhere and releases nothing (or, later, someone else's reused name).
        if (!MachPortName.IsValid(name))
        {
            throw new ArgumentException(name == MachPortName.Dead
                ? "MACH_PORT_DEAD is not a right: the port died (in transit, or before the name was taken)"
                : "MACH_PORT_NULL is not a right", nameof(name));
        }
        _name = name;
        _owner = CurrentTaskContext.Capture();
    }

    /// <summary>Releases a right that was never disposed (the safety net described above).</summary>
    ~MachRight()
    {
        uint name = Interlocked.Exchange(ref _name, MachPortName.Null);
        if (!MachPortName.IsValid(name))
        {
            return;
        }
        try
        {
            using var _ = _owner.Enter();
            Release(name);
        }
#pragma warning disable CA1031 // a finalizer must not throw; a task or kernel that is gone has nothing left to release
        catch (Exception)
        {
        }
#pragma warning restore CA1031
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
        GC.SuppressFinalize(this);
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
