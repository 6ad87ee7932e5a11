using System.Buffers.Binary;
using System.Net.Sockets;

namespace MachIpc.Native.Tests;

/// <summary>One request the scripted host received: its op and the fields after it.</summary>
internal sealed record Request(uint Op, byte[] Fields)
{
    public uint U32(int index) => BinaryPrimitives.ReadUInt32LittleEndian(Fields.AsSpan(index * 4));
    public ulong U64At(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Fields.AsSpan(offset));
    public override string ToString() => $"op {Op} [{Convert.ToHexString(Fields)}]";
}

/// <summary>
/// A kernel host that speaks PROTOCOL.md (written from the document, not from KernelHost.cs) and answers from a
/// script, so a test sees exactly which requests a client makes and decides what each returns.
/// </summary>
internal sealed class ScriptedHost : IDisposable
{
    public const uint Self = 0x103, Bootstrap = 0x207;
    private readonly Socket _listener;
    private readonly Func<Request, byte[]?> _answer;
    private readonly List<Socket> _connections = new();
    private readonly Thread _accept;

    /// <param name="answer">The reply payload for a request, or null to hang up on the client.</param>
    public ScriptedHost(Func<Request, byte[]?> answer)
    {
        _answer = answer;
        string dir = Directory.CreateTempSubdirectory("machipc-scripted-").FullName;
        SocketPath = Path.Combine(dir, "kernel.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(16);
        _accept = new Thread(Accept) { IsBackground = true };
        _accept.Start();
    }

    public string SocketPath { get; }

    public List<Request> Requests { get; } = new();

    public static byte[] Words(params uint[] words)
    {
        var b = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), words[i]);
        }
        return b;
    }

    private void Accept()
    {
        while (true)
        {
            Socket s;
            try
            {
                s = _listener.Accept();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_connections)
            {
                _connections.Add(s);
            }
            new Thread(() => Serve(s)) { IsBackground = true }.Start();
        }
    }

    private static byte[]? ReadFrame(Socket s)
    {
        var length = new byte[4];
        if (!ReadExactly(s, length))
        {
            return null;
        }
        var payload = new byte[BinaryPrimitives.ReadUInt32LittleEndian(length)];
        return ReadExactly(s, payload) ? payload : null;
    }

    private static bool ReadExactly(Socket s, byte[] buffer)
    {
        int n = 0;
        try
        {
            while (n < buffer.Length)
            {
                int r = s.Receive(buffer, n, buffer.Length - n, SocketFlags.None);
                if (r <= 0)
                {
                    return false;
                }
                n += r;
            }
        }
        catch (SocketException)
        {
            return false;
        }
        return true;
    }

    private static void Send(Socket s, byte[] payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        s.Send(frame);
    }

    private void Serve(Socket s)
    {
        using (s)
        {
            byte[]? hello = ReadFrame(s);
            if (hello is null || !hello.AsSpan().SequenceEqual(Words(1, 0x4E524B4D, 2)))
            {
                return;
            }
            Send(s, Words((uint)Environment.ProcessId, Self, Bootstrap));
            while (ReadFrame(s) is { } frame)
            {
                var request = new Request(BinaryPrimitives.ReadUInt32LittleEndian(frame), frame[4..]);
                lock (Requests)
                {
                    Requests.Add(request);
                }
                byte[]? reply = _answer(request);
                if (reply is null)
                {
                    HangUp();
                    return;
                }
                Send(s, reply);
            }
        }
    }

    /// <summary>Closes every connection, as a host that died would.</summary>
    public void HangUp()
    {
        lock (_connections)
        {
            foreach (Socket c in _connections)
            {
                try
                {
                    c.Shutdown(SocketShutdown.Both);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }
        }
        _listener.Dispose();
    }

    public void Dispose()
    {
        HangUp();
        try
        {
            Directory.Delete(Path.GetDirectoryName(SocketPath)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
