using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace MachIpc.Benchmarks.Harness;

/// <summary>
/// The physical floor for a thread-to-thread hand-off: each pair ping-pongs two futex words and moves no data.
/// Any IPC round trip between two threads costs at least this (two wake-ups, two sleeps).
/// </summary>
internal sealed unsafe class FutexPairs : Pairs
{
    private int* _words; // per pair: [client, server]
    private Thread[] _servers = [];
    private volatile bool _stop;

    public override string Name => "futex ping-pong (floor)";

    protected override void StartServer(int index)
    {
        if (_words is null)
        {
            _words = (int*)NativeMemory.AllocZeroed((nuint)Count * 2 * 64); // a cache line per word
            _servers = new Thread[Count];
        }
        int* client = Word(index, 0), server = Word(index, 1);
        _servers[index] = Server("futex-server-" + index, () =>
        {
            while (true)
            {
                Native.Await(server);
                if (_stop)
                {
                    return;
                }
                Native.Signal(client);
            }
        });
    }

    private int* Word(int pair, int side) => (int*)((byte*)_words + (pair * 2 + side) * 64);

    protected override void RoundTrip(int index)
    {
        Native.Signal(Word(index, 1));
        Native.Await(Word(index, 0));
    }

    protected override void StopServers()
    {
        _stop = true;
        for (int i = 0; i < Count; i++)
        {
            Native.Signal(Word(i, 1));
            _servers[i].Join();
        }
        NativeMemory.Free(_words);
    }
}

/// <summary>
/// A Unix-domain socketpair per pair (SOCK_STREAM): the client writes the message and reads the echo; the
/// server thread blocks in read, or, in the poll variant, waits in poll() before each read.
/// </summary>
internal sealed unsafe class SocketPairs(int messageBytes, bool poll) : Pairs
{
    private (int Client, int Server)[] _fds = [];
    private Thread[] _servers = [];
    private byte*[] _clientBufs = [];

    public override string Name => poll ? "socketpair + poll" : "socketpair (blocking)";

    protected override void StartServer(int index)
    {
        if (_fds.Length == 0)
        {
            _fds = new (int, int)[Count];
            _servers = new Thread[Count];
            _clientBufs = new byte*[Count];
        }
        (int a, int b) = Native.SocketPair();
        _fds[index] = (a, b);
        _servers[index] = Server("socket-server-" + index, () =>
        {
            byte* buf = (byte*)NativeMemory.AllocZeroed((nuint)messageBytes);
            try
            {
                while ((!poll || Native.PollIn(b)) && Native.ReadExactly(b, buf, messageBytes))
                {
                    ((int*)buf)[5] += 100;
                    if (!Native.WriteAll(b, buf, messageBytes))
                    {
                        break;
                    }
                }
            }
            finally
            {
                NativeMemory.Free(buf);
            }
        });
    }

    protected override void ClientSetup(int index) => _clientBufs[index] = (byte*)NativeMemory.AllocZeroed((nuint)messageBytes);

    protected override void RoundTrip(int index)
    {
        byte* buf = _clientBufs[index];
        int fd = _fds[index].Client;
        ((int*)buf)[5] = 500;
        if (!Native.WriteAll(fd, buf, messageBytes) || !Native.ReadExactly(fd, buf, messageBytes) || ((int*)buf)[5] != 600)
        {
            throw new InvalidOperationException("socket round trip failed");
        }
    }

    protected override void ClientTeardown(int index) => NativeMemory.Free(_clientBufs[index]);

    protected override void StopServers()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            Native.shutdown(_fds[i].Client, 2);
            _servers[i].Join();
            Native.close(_fds[i].Client);
            Native.close(_fds[i].Server);
        }
    }
}
