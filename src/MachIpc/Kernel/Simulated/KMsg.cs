using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// and <see cref="Descs"/>. Pooled, with a buffer sized to the message (its own 2 KiB, pinned, or a block from the
/// kernel's block pool above that), so the send/receive path allocates nothing at any message size once warm. A
/// message belongs to one thread at a time (the sender, the port queue under its lock, then the receiver), so it
/// needs no lock.
/// </summary>
internal sealed unsafe class KMsg
{
    private const int InlineCapacity = 2048;
    private const int DepotCapacity = 4096;

    // zalloc's shape: a per-thread cache in front of a shared depot. The cache is one message
    // (Waiter.SpareKMsg): enough for a thread that rents and returns in turn (a direct hand-off, a send to itself),
    // and small enough that messages flowing from senders to receivers do not strand in one thread's cache. The
    // depot is a lock-free stack of indices into s_all (Treiber's, with a tag against ABA): with many more threads
    // than cores, a lock here would be preempted while held.
    private static readonly KMsg?[] s_all = new KMsg?[DepotCapacity];
    private static int s_registered;
    private static long s_depot; // (tag << 32) | (index + 1), 0 when empty

    private readonly byte[] _inline = GC.AllocateUninitializedArray<byte>(InlineCapacity, pinned: true);
    private readonly byte* _inlineData;
    private readonly int _index = -1; // its slot in s_all, or -1: not pooled
    private int _nextFree;
    private uint _capacity;
    internal byte* Data;
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

    private KMsg()
    {
        _inlineData = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_inline));
        Data = _inlineData;
        int index = Interlocked.Increment(ref s_registered) - 1;
        if (index < DepotCapacity)
        {
            _index = index;
            s_all[index] = this;
        }
    }

    internal bool IsComplex => (OtherBits & MachMsgBits.Complex) != 0;

    /// <summary>The message's bytes.</summary>
    internal Span<byte> Bytes => new(Data, (int)Size);

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
            m = Pop() ?? new KMsg();
        }
        m.Next = null;
        if (size > InlineCapacity)
        {
            m.Data = VmMap.AllocateBlock(size);
            m._capacity = size;
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
        if (m.Data != m._inlineData)
        {
            VmMap.FreeBlock(m.Data, m._capacity);
            m.Data = m._inlineData;
        }
        m.Next = null;
        Waiter self = Waiter.Current;
        if (self.SpareKMsg is null)
        {
            self.SpareKMsg = m;
            return;
        }
        if (m._index >= 0)
        {
            Push(m);
        } // a message past the depot's capacity goes to the collector
    }

    private static void Push(KMsg m)
    {
        while (true)
        {
            long head = Volatile.Read(ref s_depot);
            m._nextFree = (int)head; // the index part
            long next = ((head >> 32) + 1) << 32 | (uint)(m._index + 1);
            if (Interlocked.CompareExchange(ref s_depot, next, head) == head)
            {
                return;
            }
        }
    }

    private static KMsg? Pop()
    {
        while (true)
        {
            long head = Volatile.Read(ref s_depot);
            int top = (int)head;
            if (top == 0)
            {
                return null;
            }
            KMsg m = s_all[top - 1]!;
            // Read while m may be popped and pushed again by another thread: the tag then differs and the CAS fails.
            long next = ((head >> 32) + 1) << 32 | (uint)Volatile.Read(ref m._nextFree);
            if (Interlocked.CompareExchange(ref s_depot, next, head) == head)
            {
                return m;
            }
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
