using System;
using System.Buffers;
using System.Threading;
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
    internal unsafe byte* Ool;    // the region carried (a VmMap block), null for size 0
    internal uint Size;           // OOL size / OOL-ports count
    internal MachMsgCopy Copy;
    internal MachMsgType PortsType; // OOL-ports received form
    internal KRight[]? Ports;     // OOL-ports rights
}

/// <summary>
/// <c>ipc_kmsg</c>: a message inside the kernel. The user bytes are kept as sent (the header and descriptors
/// are rewritten at copyout); the rights and memory it carries live in <see cref="Dest"/>, <see cref="Reply"/>
/// and <see cref="Descs"/>. Pooled, with its byte buffer sized to the message (ArrayPool above the inline
/// size), so the send/receive path allocates nothing at any message size once warm. A message belongs to one
/// thread at a time (the sender, the port queue under its lock, then the receiver), so it needs no lock.
/// </summary>
internal sealed class KMsg
{
    private const int InlineCapacity = 512;
    private const int DepotSize = 1024;

    // zalloc's shape: a per-thread cache in front of a shared depot (its lock is held for a push or a pop only).
    // The cache is one message (Waiter.SpareKMsg): enough for a thread that rents and returns in turn (a direct
    // hand-off, a send to itself), and small enough that messages flowing from senders to receivers do not strand
    // in one thread's cache, so the pool stops growing after a few messages per thread.
    private static readonly KernelLock s_depotLock = KernelLock.Create();
    private static KMsg? s_depot;
    private static int s_depotCount;

    private readonly byte[] _inline = new byte[InlineCapacity];
    internal byte[] Data;
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
    /// <summary>The task charged for this message's kernel memory (null for kernel messages) and how much.</summary>
    internal SimulatedTask? ChargedTask;
    internal long Charged;

    private KMsg() => Data = _inline;

    internal bool IsComplex => (OtherBits & MachMsgBits.Complex) != 0;

    /// <summary>A cleared message with room for <paramref name="size"/> bytes.</summary>
    internal static KMsg Rent(uint size) => Rent(size, Waiter.Current);

    /// <summary><see cref="Rent(uint)"/> for a caller that already holds its thread's <see cref="Waiter"/>.</summary>
    internal static KMsg Rent(uint size, Waiter self)
    {
        KMsg? m = self.SpareKMsg;
        if (m is not null)
        {
            self.SpareKMsg = null;
        }
        else
        {
            using (s_depotLock.EnterScope())
            {
                m = s_depot;
                if (m is not null)
                {
                    s_depot = m.Next;
                    s_depotCount--;
                }
            }
            m ??= new KMsg();
        }
        m.Next = null;
        if (size > InlineCapacity)
        {
            m.Data = ArrayPool<byte>.Shared.Rent((int)size);
        }
        m.Size = size;
        return m;
    }

    /// <summary>Returns a message whose rights and memory have been consumed or released (its charge is lifted).</summary>
    internal static void Return(KMsg m)
    {
        m.Dest = null;
        m.DestType = 0;
        m.Reply = default;
        m.Voucher = 0;
        if (m.DescCount > 0)
        {
            Array.Clear(m.Descs, 0, m.DescCount);
            m.DescCount = 0;
        }
        m.OtherBits = 0;
        m.Id = 0;
        m.ChargedTask?.Vm.Uncharge(m.Charged); // the message leaves the kernel: its sender is answerable no more
        m.ChargedTask = null;
        m.Charged = 0;
        if (m.Data != m._inline)
        {
            ArrayPool<byte>.Shared.Return(m.Data);
            m.Data = m._inline;
        }
        m.Next = null;
        Waiter self = Waiter.Current;
        if (self.SpareKMsg is null)
        {
            self.SpareKMsg = m;
            return;
        }
        using (s_depotLock.EnterScope())
        {
            if (s_depotCount < DepotSize)
            {
                m.Next = s_depot;
                s_depot = m;
                s_depotCount++;
            }
        } // past DepotSize the collector has it
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

/// <summary>A port's message queue (<c>ipc_kmsg_queue</c>), intrusive FIFO; guarded by its port's lock.</summary>
internal sealed class KMsgQueue
{
    private KMsg? _head, _tail;
    internal int Count;

    /// <summary>Also read without the port lock, as a hint (a port set scanning its members).</summary>
    internal bool IsEmpty => Volatile.Read(ref _head) is null;
    internal KMsg? Peek => _head;

    internal void Enqueue(KMsg m)
    {
        m.Next = null;
        if (_tail is null)
        {
            Volatile.Write(ref _head, m);
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
        Volatile.Write(ref _head, m.Next);
        if (_head is null)
        {
            _tail = null;
        }
        m.Next = null;
        Count--;
        return m;
    }
}
