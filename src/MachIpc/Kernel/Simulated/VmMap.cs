using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Threading;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// The part of a task's <c>vm_map</c> that Mach messaging touches: the out-of-line regions the kernel handed the
/// task (until <c>mach_vm_deallocate</c>), a joined process's deallocate aliases, and the kernel memory the task
/// is answerable for. Guarded by <see cref="Lock"/> (the vm_map lock), a leaf: nothing else is locked under it.
/// </summary>
/// <remarks>
/// Regions are blocks of kernel memory from a size-class pool, so moving a region (deallocate = TRUE on a region
/// the task was handed: XNU's virtual copy with src_destroy) hands the block itself to the receiver, and a
/// copied region reuses warm memory instead of faulting in fresh pages.
/// <para>
/// Quota: XNU bounds a task by its VM and its port space, not by an IPC byte count; a simulator that keeps every
/// task's messages and regions in one process (or in the kernel host) needs its own bound so one task cannot
/// exhaust the rest. <see cref="Charged"/> counts the bytes of messages the task has sent that are still in the
/// kernel plus the regions it holds; a send that would take it past <see cref="Quota"/> fails with
/// MACH_SEND_NO_BUFFER (what XNU returns when it cannot allocate a kernel message) and changes nothing.
/// Receiving never fails for the quota (as in XNU, the receiver's map simply grows).
/// </para>
/// </remarks>
internal sealed unsafe class VmMap
{
    /// <summary>Default <see cref="Quota"/>: 1 GiB per task.</summary>
    internal const long DefaultQuota = 1L << 30;

    internal readonly KernelLock Lock = KernelLock.Create();
    private readonly Dictionary<ulong, ulong> _regions = new(); // address -> size
    private Dictionary<ulong, ulong>? _aliases;
    private HashSet<ulong>? _aliasesConsumed;
    private readonly PerCpuCounter _charged = new(); // added to on every send and receive: per-processor slots

    internal long Quota = DefaultQuota;

    internal long Charged => _charged.Sum;

    internal int Count
    {
        get
        {
            using (Lock.EnterScope())
            {
                return _regions.Count;
            }
        }
    }

    /// <summary>Charges <paramref name="bytes"/> of kernel memory to the task unless that passes its quota.</summary>
    internal bool TryCharge(long bytes) => _charged.TryAdd(bytes, Quota);

    internal void Uncharge(long bytes) => _charged.Add(-bytes);

    /// <summary>Hands the task region <paramref name="block"/> of <paramref name="size"/> bytes (copyout).</summary>
    internal void Add(byte* block, uint size)
    {
        using (Lock.EnterScope())
        {
            _regions[(ulong)block] = size;
        }
        _charged.Add(size);
    }

    /// <summary><c>mach_vm_deallocate</c> of a whole region: false if <paramref name="address"/> is not one.</summary>
    internal bool Deallocate(ulong address)
    {
        ulong size;
        using (Lock.EnterScope())
        {
            if (!_regions.Remove(address, out size))
            {
                return false;
            }
        }
        _charged.Add(-(long)size);
        FreeBlock((byte*)address, size);
        return true;
    }

    /// <summary>
    /// deallocate = TRUE of exactly a region the task holds: the block leaves the task and travels in the message
    /// (no copy). Null when <paramref name="address"/> is not a region of exactly <paramref name="size"/> bytes.
    /// </summary>
    internal byte* TryMove(ulong address, uint size)
    {
        using (Lock.EnterScope())
        {
            if (!_regions.TryGetValue(address, out ulong have) || have != size)
            {
                return null;
            }
            _regions.Remove(address);
        }
        _charged.Add(-(long)size);
        return (byte*)address;
    }

    /// <summary>
    /// The sender side of deallocate = TRUE after a copy (A29): a region the kernel handed the task is freed, as
    /// vm_map_copyin with src_destroy would; a joined process's host copy frees the region it stands for. Any other
    /// address belongs to the caller, which the simulator cannot unmap: it is no longer the kernel's concern.
    /// </summary>
    internal void SenderDeallocate(ulong address)
    {
        using (Lock.EnterScope())
        {
            if (_aliases is { } aliases && aliases.Remove(address, out ulong region))
            {
                (_aliasesConsumed ??= new()).Add(address);
                address = region;
            }
        }
        Deallocate(address);
    }

    /// <summary>Makes a sender-side deallocate of <paramref name="copy"/> free region <paramref name="region"/> instead (joined processes).</summary>
    internal void AddAlias(ulong copy, ulong region)
    {
        using (Lock.EnterScope())
        {
            (_aliases ??= new())[copy] = region;
        }
    }

    /// <summary>Drops the alias for <paramref name="copy"/>; true if a send deallocated its region.</summary>
    internal bool TakeAlias(ulong copy)
    {
        using (Lock.EnterScope())
        {
            _aliases?.Remove(copy);
            return _aliasesConsumed?.Remove(copy) == true;
        }
    }

    /// <summary>Copies a region the task holds (at least <paramref name="size"/> bytes) out; false if it holds no such region.</summary>
    internal bool TryCopy(ulong address, uint size, Span<byte> destination)
    {
        // Under the map lock so another thread of the task cannot free the region meanwhile; this lock is the
        // task's own and no port's.
        using (Lock.EnterScope())
        {
            if (!_regions.TryGetValue(address, out ulong have) || have < size || destination.Length < (int)size)
            {
                return false;
            }
            new ReadOnlySpan<byte>((void*)address, (int)size).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Task death: every region goes back to the kernel.</summary>
    internal void Terminate()
    {
        KeyValuePair<ulong, ulong>[] all;
        using (Lock.EnterScope())
        {
            all = [.. _regions];
            _regions.Clear();
            _aliases?.Clear();
        }
        foreach (KeyValuePair<ulong, ulong> r in all)
        {
            _charged.Add(-(long)r.Value);
            FreeBlock((byte*)r.Key, r.Value);
        }
    }

    // ---- kernel memory for regions: power-of-two size classes, a bounded stack of free blocks per class ----

    private const int MinClass = 6;    // 64 B
    private const int MaxClass = 26;   // 64 MiB; larger regions are allocated and freed exactly
    private const long PoolBudget = 256L << 20;
    private static readonly BlockStack[] s_classes = CreateClasses();
    private static long s_pooledBytes;

    private sealed class BlockStack
    {
        internal readonly KernelLock Lock = KernelLock.Create();
        internal readonly nint[] Blocks;
        internal int Count;

        internal BlockStack(int capacity) => Blocks = new nint[capacity];
    }

    private static BlockStack[] CreateClasses()
    {
        var classes = new BlockStack[MaxClass + 1];
        for (int k = MinClass; k <= MaxClass; k++)
        {
            classes[k] = new BlockStack((int)Math.Clamp(PoolBudget >> k, 4, 1024));
        }
        return classes;
    }

    private static int ClassOf(ulong size) => Math.Max(MinClass, 64 - BitOperations.LeadingZeroCount(Math.Max(size, 1) - 1));

    /// <summary>A block of kernel memory for a region of <paramref name="size"/> bytes (not zeroed).</summary>
    internal static byte* AllocateBlock(ulong size)
    {
        int k = ClassOf(size);
        if (k > MaxClass)
        {
            return (byte*)NativeMemory.Alloc((nuint)size);
        }
        BlockStack c = s_classes[k];
        using (c.Lock.EnterScope())
        {
            if (c.Count > 0)
            {
                Interlocked.Add(ref s_pooledBytes, -(1L << k));
                return (byte*)c.Blocks[--c.Count];
            }
        }
        return (byte*)NativeMemory.Alloc((nuint)(1UL << k));
    }

    /// <summary>Returns a block from <see cref="AllocateBlock"/> (of at least <paramref name="size"/> bytes).</summary>
    internal static void FreeBlock(byte* block, ulong size)
    {
        int k = ClassOf(size);
        if (k <= MaxClass && Interlocked.Add(ref s_pooledBytes, 1L << k) <= PoolBudget)
        {
            BlockStack c = s_classes[k];
            using (c.Lock.EnterScope())
            {
                if (c.Count < c.Blocks.Length)
                {
                    c.Blocks[c.Count++] = (nint)block;
                    return;
                }
            }
        }
        if (k <= MaxClass)
        {
            Interlocked.Add(ref s_pooledBytes, -(1L << k));
        }
        NativeMemory.Free(block);
    }
}
