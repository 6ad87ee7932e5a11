using System;
using System.Collections.Generic;
using MachIpc.Abi;

namespace MachIpc.Kernel.Simulated;

/// <summary>A right held by a message in flight: the port and the received form (16/17/18), or a passed-through name.</summary>
internal struct KRight
{
    internal IpcPort? Port;
    internal MachMsgType Type;
    /// <summary>MACH_PORT_NULL / MACH_PORT_DEAD carried unchanged when there is no port.</summary>
    internal uint Passthrough;

    internal static KRight None(uint name) => new() { Passthrough = name };
}

internal enum KDescKind : byte
{
    Port,
    Ool,
    OolPorts,
}

/// <summary>One descriptor after copyin, with the kernel objects it carries.</summary>
internal struct KDesc
{
    internal KDescKind Kind;
    internal MachMsgDescriptorType UserType;
    internal int Offset;          // where the user descriptor sits in KMsg.Data
    internal KRight Right;        // port descriptor
    internal unsafe byte* Ool;    // kernel copy of OOL memory (NativeMemory), null for size 0
    internal uint Size;           // OOL size / OOL-ports count
    internal MachMsgCopy Copy;
    internal MachMsgType PortsType; // OOL-ports received form
    internal KRight[]? Ports;     // OOL-ports rights
}

/// <summary>
/// <c>ipc_kmsg</c>: a message inside the kernel. The user bytes are kept as sent (the header and descriptors
/// are rewritten at copyout); the rights and memory it carries live in <see cref="Dest"/>, <see cref="Reply"/>
/// and <see cref="Descs"/>. Pooled so the steady-state send/receive path allocates nothing.
/// </summary>
internal sealed class KMsg
{
    private static readonly Stack<KMsg> s_pool = new();

    internal byte[] Data = new byte[256];
    internal uint Size;
    internal uint OtherBits;      // msgh_bits minus the port nibbles (COMPLEX etc.)
    internal int Id;
    internal IpcPort? Dest;
    internal MachMsgType DestType; // PortSend / PortSendOnce
    internal KRight Reply;
    internal uint Voucher;         // passed through (vouchers are out of scope)
    internal KDesc[] Descs = new KDesc[4];
    internal int DescCount;
    internal AuditToken Audit;
    internal SecurityToken Security;
    internal uint Seqno;          // assigned when dequeued or handed to a receiver (B28)
    internal KMsg? Next;

    internal bool IsComplex => (OtherBits & MachMsgBits.Complex) != 0;

    /// <summary>Takes a cleared message from the pool (kernel lock held).</summary>
    internal static KMsg Rent(uint size)
    {
        KMsg m = s_pool.Count > 0 ? s_pool.Pop() : new KMsg();
        if (m.Data.Length < size)
        {
            m.Data = new byte[Math.Max(size, (uint)m.Data.Length * 2)];
        }
        m.Size = size;
        return m;
    }

    /// <summary>Returns a message whose rights and memory have been consumed or released (kernel lock held).</summary>
    internal static void Return(KMsg m)
    {
        m.Dest = null;
        m.DestType = 0;
        m.Reply = default;
        m.Voucher = 0;
        Array.Clear(m.Descs, 0, m.DescCount);
        m.DescCount = 0;
        m.OtherBits = 0;
        m.Id = 0;
        m.Next = null;
        if (m.Data.Length <= 64 * 1024 && s_pool.Count < 256)
        {
            s_pool.Push(m);
        }
    }

    internal ref KDesc AddDesc()
    {
        if (DescCount == Descs.Length)
        {
            Array.Resize(ref Descs, Descs.Length * 2);
        }
        ref KDesc d = ref Descs[DescCount++];
        d = default;
        return ref d;
    }
}

/// <summary>A port's message queue (<c>ipc_kmsg_queue</c>), intrusive FIFO.</summary>
internal sealed class KMsgQueue
{
    private KMsg? _head, _tail;
    internal int Count;

    internal bool IsEmpty => _head is null;
    internal KMsg? Peek => _head;

    internal void Enqueue(KMsg m)
    {
        m.Next = null;
        if (_tail is null)
        {
            _head = m;
        }
        else
        {
            _tail.Next = m;
        }
        _tail = m;
        Count++;
    }

    internal KMsg? Dequeue()
    {
        KMsg? m = _head;
        if (m is null)
        {
            return null;
        }
        _head = m.Next;
        if (_head is null)
        {
            _tail = null;
        }
        m.Next = null;
        Count--;
        return m;
    }
}
