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

    /// <summary>The kernel took the right (a send moved it): forget the name without releasing it.</summary>
    internal void Relinquish()
    {
        Interlocked.Exchange(ref _name, MachPortName.Null);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// A failed send gave the moved right back under <paramref name="name"/> (a pseudo-receive can copy it out under a
    /// new name): own it there, or nothing if it came back dead.
    /// </summary>
    internal void Rebind(uint name)
    {
        if (MachPortName.IsValid(name))
        {
            Volatile.Write(ref _name, name);
        }
        else
        {
            Relinquish();
        }
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

    /// <summary>
    /// The rights this task holds under this right's name (<c>mach_port_type</c>): more than the one owned here when
    /// the task also holds others under the same name (a receive right and send rights to it share one name).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The right was already released or moved.</exception>
    /// <exception cref="MachException">The kernel refused.</exception>
    public MachPortType QueryType()
    {
        uint name = LiveName();
        using var _ = EnterOwner();
        return TryQueryType(name, out MachPortType type, out MachError reason) ? type : throw new MachException("mach_port_type", reason);
    }

    /// <summary>
    /// The rights the current task holds under <paramref name="name"/> (<c>mach_port_type</c>), for any name, owned
    /// here or not; false with the reason (<c>KERN_INVALID_NAME</c>: the task holds nothing under it) otherwise.
    /// </summary>
    public static unsafe bool TryQueryType(uint name, out MachPortType type, out MachError reason)
    {
        MachPortType t;
        KernReturn kr = Mach.PortType(Mach.TaskSelf, name, &t);
        type = kr == KernReturn.Success ? t : MachPortType.None;
        reason = new MachError((int)kr);
        return kr == KernReturn.Success;
    }

    /// <summary>
    /// Arms a notification on this right's name (<c>mach_port_request_notification</c>): the kernel sends message
    /// <paramref name="msgId"/> to <paramref name="notifyPort"/> through a send-once right it makes from it
    /// (<c>MAKE_SEND_ONCE</c>). On success <paramref name="previous"/> is the send-once right of the request this one
    /// replaces, or null; on failure <paramref name="reason"/> is the kernel's code. A failed request destroys the
    /// send-once right it was made with (the kobject server destroys the request message, so
    /// <paramref name="notifyPort"/> gets <c>MACH_NOTIFY_SEND_ONCE</c>): nothing of the caller's is left to clean up.
    /// </summary>
    private protected unsafe bool TryRequestNotification(int msgId, uint sync, ReceiveRight notifyPort, out SendOnceRight? previous, out MachError reason)
    {
        ArgumentNullException.ThrowIfNull(notifyPort);
        uint name = LiveName();
        uint notify = notifyPort.Name;
        ObjectDisposedException.ThrowIf(notify == MachPortName.Null, notifyPort);
        uint replaced = MachPortName.Null;
        KernReturn kr;
        using (EnterOwner())
        {
            kr = Mach.PortRequestNotification(Mach.TaskSelf, name, msgId, sync, notify, MachMsgType.MakeSendOnce, &replaced);
        }
        previous = kr == KernReturn.Success && MachPortName.IsValid(replaced) ? SendOnceRight.Adopt(replaced) : null;
        reason = new MachError((int)kr);
        return kr == KernReturn.Success;
    }

    /// <summary><see cref="TryRequestNotification"/> that throws <see cref="MachException"/> on failure.</summary>
    private protected SendOnceRight? RequestNotification(int msgId, uint sync, ReceiveRight notifyPort, string operation) =>
        TryRequestNotification(msgId, sync, notifyPort, out SendOnceRight? previous, out MachError reason)
            ? previous
            : throw new MachException(operation, reason);

    /// <summary>Performs the one kernel call releasing this kind of right.</summary>
    private protected abstract void Release(uint name);

    /// <summary>Makes the calling thread act in the owning task for the duration of a kernel call.</summary>
    internal IDisposable? EnterOwner() => _owner.Enter();

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
