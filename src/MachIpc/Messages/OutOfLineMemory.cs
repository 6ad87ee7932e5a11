using System;
using System.Threading;
using MachIpc.Kernel;

namespace MachIpc.Messages;

/// <summary>
/// An out-of-line region taken from a received message: memory the kernel mapped into this task, owned here
/// until <see cref="Dispose"/> frees it with <c>mach_vm_deallocate</c>. A region that is never disposed is freed
/// by the finalizer (on the finalizer thread, in the task that received it), as a safety net only.
/// </summary>
public sealed unsafe class OutOfLineMemory : IDisposable
{
    private ulong _address;
    private readonly ulong _size;
    private readonly CurrentTaskContext _owner;

    internal OutOfLineMemory(ulong address, ulong size)
    {
        _address = address;
        _size = size;
        _owner = CurrentTaskContext.Capture();
    }

    /// <summary>Frees a region that was never disposed.</summary>
    ~OutOfLineMemory() => Free();

    /// <summary>The region's address in this task (0 for an empty region or once freed).</summary>
    public ulong Address => Volatile.Read(ref _address);

    /// <summary>The region's size in bytes.</summary>
    public ulong Size => _size;

    /// <summary>The region's bytes.</summary>
    /// <exception cref="ObjectDisposedException">The region was freed.</exception>
    /// <exception cref="InvalidOperationException">The region is larger than a span can address.</exception>
    public Span<byte> AsSpan()
    {
        ulong address = Address;
        ObjectDisposedException.ThrowIf(address == 0 && _size != 0, this);
        if (_size > int.MaxValue)
        {
            throw new InvalidOperationException($"a region of {_size} bytes does not fit in a span");
        }
        return new Span<byte>((void*)address, (int)_size);
    }

    /// <summary>Frees the region (<c>mach_vm_deallocate</c>). Idempotent.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        ulong address = Interlocked.Exchange(ref _address, 0);
        if (address != 0 && _size != 0)
        {
            using var _ = _owner.Enter();
            Mach.VmDeallocate(Mach.TaskSelf, address, _size);
        }
    }
}
