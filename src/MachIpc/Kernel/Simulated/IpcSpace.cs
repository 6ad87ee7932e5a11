using System.Collections.Generic;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>
/// <c>struct ipc_entry</c>: what one name denotes in one space. <see cref="Urefs"/> counts send rights or
/// dead-name references only; receive, send-once and port-set entries keep it at 0 except a send-once
/// entry, which holds 1 (see kernel-semantics.md section C).
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
internal sealed class IpcSpace
{
    private IpcEntry?[] _table = new IpcEntry?[64];
    private byte[] _gen = new byte[64];
    private readonly Stack<int> _free = new();
    private int _next = 1; // index 0 is never used: name 0 is MACH_PORT_NULL
    private readonly Dictionary<IpcPort, IpcEntry> _byPort = new();

    internal readonly SimulatedTask Task;
    internal bool Active = true;

    internal IpcSpace(SimulatedTask task) => Task = task;

    /// <summary>Live entries (for introspection and termination).</summary>
    internal IEnumerable<IpcEntry> Entries
    {
        get
        {
            for (int i = 1; i < _next; i++)
            {
                IpcEntry? e = _table[i];
                if (e is { IsFree: false })
                {
                    yield return e;
                }
            }
        }
    }

    internal int EntryCount
    {
        get
        {
            int n = 0;
            for (int i = 1; i < _next; i++)
            {
                if (_table[i] is { IsFree: false })
                {
                    n++;
                }
            }
            return n;
        }
    }

    internal IpcEntry? Lookup(uint name)
    {
        if (!MachPortName.IsValid(name))
        {
            return null;
        }
        uint index = name >> 8;
        if (index == 0 || index >= (uint)_next)
        {
            return null;
        }
        IpcEntry? e = _table[index];
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

    /// <summary>Allocates a fresh name (new entry, type None); the caller fills it in.</summary>
    internal IpcEntry Allocate()
    {
        int index;
        if (_free.Count > 0)
        {
            index = _free.Pop();
        }
        else
        {
            if (_next == _table.Length)
            {
                System.Array.Resize(ref _table, _table.Length * 2);
                System.Array.Resize(ref _gen, _gen.Length * 2);
            }
            index = _next++;
            _gen[index] = 3;
        }
        IpcEntry e = _table[index] ??= new IpcEntry();
        e.Clear();
        e.Name = ((uint)index << 8) | _gen[index];
        return e;
    }

    /// <summary><c>mach_port_allocate_name</c>-style: a specific name, if its index is free.</summary>
    internal IpcEntry? AllocateNamed(uint name)
    {
        uint index = name >> 8;
        if (index == 0 || index >= 0x00ffffff)
        {
            return null;
        }
        while (_next <= index)
        {
            if (_next == _table.Length)
            {
                System.Array.Resize(ref _table, _table.Length * 2);
                System.Array.Resize(ref _gen, _gen.Length * 2);
            }
            _gen[_next] = 3;
            _free.Push(_next);
            _next++;
        }
        IpcEntry? cur = _table[index];
        if (cur is { IsFree: false })
        {
            return null;
        }
        // Take the index out of the free list (rare path; rebuild the stack).
        var keep = new Stack<int>();
        foreach (int i in _free)
        {
            if (i != (int)index)
            {
                keep.Push(i);
            }
        }
        _free.Clear();
        foreach (int i in keep)
        {
            _free.Push(i);
        }
        IpcEntry e = _table[index] ??= new IpcEntry();
        e.Clear();
        _gen[index] = (byte)name;
        e.Name = name;
        return e;
    }

    /// <summary>Frees a name; its index returns with the next generation.</summary>
    internal void Free(IpcEntry e)
    {
        UnindexPort(e);
        uint index = e.Name >> 8;
        e.Clear();
        e.Name = 0;
        _gen[index] = (byte)(_gen[index] + 4);
        _free.Push((int)index);
    }
}
