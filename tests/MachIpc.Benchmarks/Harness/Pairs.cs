using System;
using System.Diagnostics;
using System.Threading;

namespace MachIpc.Benchmarks.Harness;

/// <summary>One row of a round-trip table: N pairs, measured one repetition at a time.</summary>
internal interface IRoundTripRow : IDisposable
{
    /// <summary>The row's label.</summary>
    string Name { get; }

    /// <summary>Creates <paramref name="pairs"/> pairs and starts them.</summary>
    void Start(int pairs);

    /// <summary>One repetition: every pair performs <paramref name="perPair"/> round trips at once.</summary>
    Sample Measure(int perPair);

    /// <summary>The wall-clock seconds of one such repetition (for calibration).</summary>
    double Seconds(int perPair);
}

/// <summary>
/// N independent client/server pairs, each on its own two threads (nothing shared between pairs). The client
/// threads persist across repetitions; one repetition releases them all at once, each performs its round
/// trips and records every one's latency, and the repetition ends when the last client is done.
/// </summary>
internal abstract class Pairs : IRoundTripRow
{
    private Thread[] _clients = [];
    private readonly SemaphoreSlim _go = new(0);
    private CountdownEvent _done = new(1);
    private volatile bool _stop;
    private Exception? _error;
    private int _perPair;
    private long[] _latencies = [];

    /// <summary>The row's label.</summary>
    public abstract string Name { get; }

    public int Count { get; private set; }

    /// <summary>Creates the pairs and starts their threads.</summary>
    public void Start(int pairs)
    {
        Count = pairs;
        _done = new CountdownEvent(pairs);
        for (int i = 0; i < pairs; i++)
        {
            StartServer(i);
        }
        _clients = new Thread[pairs];
        using var ready = new CountdownEvent(pairs);
        for (int i = 0; i < pairs; i++)
        {
            int index = i;
            _clients[i] = new Thread(() => ClientLoop(index, ready)) { IsBackground = true, Name = Name + "-client-" + i };
            _clients[i].Start();
        }
        ready.Wait();
        if (_error is not null)
        {
            throw _error;
        }
    }

    /// <summary>Sets up pair <paramref name="index"/>'s server side (its thread included).</summary>
    protected abstract void StartServer(int index);

    /// <summary>Client-side set-up for pair <paramref name="index"/>, on its client thread.</summary>
    protected virtual void ClientSetup(int index)
    {
    }

    /// <summary>One round trip of pair <paramref name="index"/>, on its client thread.</summary>
    protected abstract void RoundTrip(int index);

    /// <summary>Client-side tear-down, on the client thread.</summary>
    protected virtual void ClientTeardown(int index)
    {
    }

    /// <summary>Stops the servers (clients have already left).</summary>
    protected abstract void StopServers();

    private void ClientLoop(int index, CountdownEvent ready)
    {
        try
        {
            ClientSetup(index);
        }
        catch (Exception e)
        {
            _error = e;
        }
        ready.Signal();
        long[]? lat = null;
        while (true)
        {
            _go.Wait();
            if (_stop)
            {
                break;
            }
            lat = _latencies;
            int n = _perPair, at = index * n;
            try
            {
                for (int i = 0; i < n; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    RoundTrip(index);
                    lat[at + i] = Stopwatch.GetTimestamp() - t0;
                }
            }
            catch (Exception e)
            {
                _error = e;
            }
            _done.Signal();
        }
        ClientTeardown(index);
    }

    /// <summary>Every pair performs <paramref name="perPair"/> round trips at once.</summary>
    public void Run(int perPair, long[] latencies)
    {
        _perPair = perPair;
        _latencies = latencies;
        _done.Reset();
        _go.Release(Count);
        _done.Wait();
        if (_error is not null)
        {
            throw new InvalidOperationException(Name + ": " + _error.Message, _error);
        }
    }

    public Sample Measure(int perPair)
    {
        var lat = new long[(long)perPair * Count];
        return Sample.Take((long)perPair * Count, lat, () => Run(perPair, lat));
    }

    public double Seconds(int perPair)
    {
        var lat = new long[(long)perPair * Count];
        long t0 = Stopwatch.GetTimestamp();
        Run(perPair, lat);
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    public void Dispose()
    {
        _stop = true;
        _go.Release(Count);
        foreach (Thread t in _clients)
        {
            t.Join();
        }
        StopServers();
        _go.Dispose();
        _done.Dispose();
    }

    /// <summary>A background server thread.</summary>
    protected static Thread Server(string name, ThreadStart body)
    {
        var t = new Thread(body) { IsBackground = true, Name = name };
        t.Start();
        return t;
    }
}
