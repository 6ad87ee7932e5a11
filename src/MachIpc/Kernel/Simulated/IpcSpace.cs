using System.Collections.Generic;
using System.Threading;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// <c>struct ipc_entry</c>: what one name denotes in one space. <see cref="Urefs"/> counts send rights or
/// dead-name references only; receive, send-once and port-set entries keep it at 0 except a send-once
/// entry, which holds 1 (see kernel-semantics.md section C). Guarded by its space's lock.
/// </summary>
internal sealed class IpcEntry
{
    internal uint Name;
    internal MachPortType Type;
    internal uint Urefs;
    internal IpcPort? Port;
    internal IpcPortSet? PortSet;
    /// <summary>A dead-name request is armed (or has fired and not yet been folded into a dead name, C10e).</summary>
    internal bool DnRequest;

    internal bool Has(MachPortType t) => (Type & t) != 0;
    internal bool IsFree => Type == MachPortType.None;

    internal void Clear()
    {
        Type = MachPortType.None;
        Urefs = 0;
        Port = null;
        PortSet = null;
        DnRequest = false;
    }
}

/// <summary>
/// <c>struct ipc_space</c>: a task's name space. Names are <c>(index &lt;&lt; 8) | generation</c> (C1); a freed
/// index comes back with a new generation so stale names fail lookups. A reverse map finds the entry
/// that holds send or receive rights for a port, so such rights merge under one name (B14).
/// </summary>
/// <remarks>
/// The table grows by doubling up to XNU's limit and no further (ipc_entry.c ipc_entry_table_count_max:
/// CONFIG_IPC_TABLE_ENTRIES_SIZE_MAX, 7 MiB of 24-byte entries on macOS = 305,834 names); past it allocation
/// fails with KERN_NO_SPACE, and a caller-chosen name beyond it is refused before anything grows
/// (ipc_entry_alloc_name). Freed indices go on a stack that is never rebuilt: taking a chosen name leaves its
/// index there and <see cref="Allocate"/> skips indices found in use (XNU walks its free list instead).
/// Every member is changed only under <see cref="Lock"/> (is_lock). <see cref="Active"/> and the entries are also
/// read without it: by a receive, which confirms what it found with the object's lock, and by a send that only
/// copies rights, which confirms it with the lock's sequence count (<see cref="SeqLock.Unchanged"/>).
/// </remarks>
internal sealed class IpcSpace
{
    /// <summary>ipc_entry_table_count_max() with CONFIG_IPC_TABLE_ENTRIES_SIZE_MAX = 7340032 (config/MASTER, macOS).</summary>
    internal const int TableCountMax = 7340032 / 24;
    private const byte FirstGeneration = 3; // the low bits every generated name carries (ipc_entry_name_mask)

    internal readonly SeqLock Lock = SeqLock.Create();
    private IpcEntry?[] _table = new IpcEntry?[64];
    private byte[] _gen = new byte[64];
    private bool[] _onFreeStack = new bool[64];
    private int[] _free = new int[16];
    private int _freeCount;
    private int _next = 1; // Allocate has never handed out an index >= _next; index 0 is never used (MACH_PORT_NULL)
    private int _inUse;
    private readonly Dictionary<IpcPort, IpcEntry> _byPort = new();

    internal readonly SimulatedTask Task;
    internal volatile bool Active = true;

    /// <summary>The table's size limit in entries (index 0 included): XNU's by default, lower for a task given a port-space limit.</summary>
    internal int TableLimit = TableCountMax;

    internal IpcSpace(SimulatedTask task) => Task = task;

    /// <summary>Live entries (for introspection and termination).</summary>
    internal IEnumerable<IpcEntry> Entries
    {
        get
        {
            for (int i = 1; i < _table.Length; i++)
            {
                IpcEntry? e = _table[i];
                if (e is { IsFree: false })
                {
                    yield return e;
                }
            }
        }
    }

    internal int EntryCount => _inUse;

    /// <summary>
    /// <c>ipc_entry_lookup</c>. Also used without the lock by a receive resolving its name, which confirms what it
    /// found with the port's own lock (the table array is only ever replaced by a larger copy).
    /// </summary>
    internal IpcEntry? Lookup(uint name)
    {
        IpcEntry?[] table = _table;
        uint index = name >> 8;
        if (index == 0 || index >= (uint)table.Length || !MachPortName.IsValid(name))
        {
            return null;
        }
        IpcEntry? e = table[index];
        if (e is null || e.IsFree || e.Name != name)
        {
            return null;
        }
        return e;
    }

    /// <summary>The entry holding send and/or receive rights for <paramref name="port"/>, if any.</summary>
    internal IpcEntry? LookupPort(IpcPort port) => _byPort.TryGetValue(port, out IpcEntry? e) ? e : null;

    internal void IndexPort(IpcEntry e)
    {
        if (e.Port is not null && (e.Type & (MachPortType.Send | MachPortType.Receive)) != 0)
        {
            _byPort[e.Port] = e;
        }
    }

    internal void UnindexPort(IpcEntry e)
    {
        if (e.Port is not null && _byPort.TryGetValue(e.Port, out IpcEntry? cur) && cur == e)
        {
            _byPort.Remove(e.Port);
        }
    }

    /// <summary>
    /// <c>ipc_entry_claim</c>: a fresh name (new entry, type None) for the caller to fill in, or null when the
    /// table is full (KERN_NO_SPACE).
    /// </summary>
    internal IpcEntry? Allocate()
    {
        while (_freeCount > 0)
        {
            int index = _free[--_freeCount];
            _onFreeStack[index] = false;
            if (_table[index] is not { IsFree: false })
            {
                return Take(index, _gen[index]);
            }
            // taken meanwhile under a caller-chosen name: skip it
        }
        while (_next < TableLimit)
        {
            int index = _next++;
            Grow(index);
            if (_table[index] is not { IsFree: false })
            {
                return Take(index, _gen[index] == 0 ? FirstGeneration : _gen[index]);
            }
        }
        return null;
    }

    /// <summary>
    /// <c>ipc_entry_alloc_name</c>: the entry for a caller-chosen name. A free index is taken under that name; an
    /// entry already in use under exactly that name is returned as is (the caller decides what may merge).
    /// KERN_NO_SPACE past the table limit, KERN_INVALID_VALUE for a name without the generation bits every
    /// kernel-made name has, KERN_FAILURE for index 0 or an index in use under another generation.
    /// </summary>
    internal KernReturn AllocateNamed(uint name, out IpcEntry? entry)
    {
        entry = null;
        uint index = name >> 8;
        if (index >= (uint)TableLimit)
        {
            return KernReturn.NoSpace;
        }
        if ((name & FirstGeneration) != FirstGeneration)
        {
            return KernReturn.InvalidValue;
        }
        if (index == 0)
        {
            return KernReturn.Failure;
        }
        Grow((int)index);
        if (_table[index] is { IsFree: false } used)
        {
            if (used.Name != name)
            {
                return KernReturn.Failure;
            }
            entry = used;
            return KernReturn.Success;
        }
        entry = Take((int)index, (byte)name);
        return KernReturn.Success;
    }

    private IpcEntry Take(int index, byte generation)
    {
        IpcEntry e = _table[index] ??= new IpcEntry();
        e.Clear();
        _gen[index] = generation;
        e.Name = ((uint)index << 8) | generation;
        _inUse++;
        return e;
    }

    private void Grow(int index)
    {
        if (index < _table.Length)
        {
            return;
        }
        int size = _table.Length;
        while (size <= index)
        {
            size *= 2;
        }
        size = System.Math.Min(size, TableLimit);
        System.Array.Resize(ref _table, size);
        System.Array.Resize(ref _gen, size);
        System.Array.Resize(ref _onFreeStack, size);
    }

    /// <summary>Frees a name; its index returns with the next generation.</summary>
    internal void Free(IpcEntry e)
    {
        UnindexPort(e);
        int index = (int)(e.Name >> 8);
        e.Clear();
        e.Name = 0;
        _inUse--;
        _gen[index] = (byte)(_gen[index] + 4);
        if (!_onFreeStack[index])
        {
            if (_freeCount == _free.Length)
            {
                System.Array.Resize(ref _free, _free.Length * 2);
            }
            _free[_freeCount++] = index;
            _onFreeStack[index] = true;
        }
    }
}
