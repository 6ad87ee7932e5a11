using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MachIpc.Kernel;

namespace MachIpc.Benchmarks.Harness;

/// <summary>
/// <see cref="SimulatorPairs"/> run in a child process on another backend (<c>MACHIPC_KERNEL</c>), which a process
/// picks once, at start. The child runs the pairs and takes each repetition's <see cref="Sample"/> itself (its own
/// getrusage, so CPU per round trip includes its kernel host); this row asks for one repetition at a time, so it
/// takes its turn with the parent's rows like any other.
/// </summary>
/// <remarks>The child reads "measure N" / "seconds N" lines and answers each with one line; end of input ends it.</remarks>
internal sealed class ChildProcessPairs(string backend, int inlineBytes) : IRoundTripRow
{
    private Process? _child;

    public string Name => backend == "darwin" ? "Darwin backend over libmachipc_system.so" : backend + " backend";

    public void Start(int pairs)
    {
        ProcessStartInfo psi = SelfProcess.StartInfo(redirectInput: true,
            "--pairs-child", inlineBytes.ToString(CultureInfo.InvariantCulture), pairs.ToString(CultureInfo.InvariantCulture));
        psi.Environment[Mach.BackendVariable] = backend;
        psi.Environment.Remove(Mach.KernelSocketVariable); // its own kernel host
        _child = Process.Start(psi)!;
        Ask("ready");
    }

    public Sample Measure(int perPair)
    {
        string[] f = Ask("measure " + perPair.ToString(CultureInfo.InvariantCulture)).Split(' ');
        return new Sample(long.Parse(f[0], CultureInfo.InvariantCulture), D(f[1]), D(f[2]), long.Parse(f[3], CultureInfo.InvariantCulture),
            long.Parse(f[4], CultureInfo.InvariantCulture), D(f[5]), D(f[6]));
    }

    public double Seconds(int perPair) => D(Ask("seconds " + perPair.ToString(CultureInfo.InvariantCulture)));

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private string Ask(string request)
    {
        if (request != "ready")
        {
            _child!.StandardInput.WriteLine(request);
            _child.StandardInput.Flush();
        }
        return _child!.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"{Name}: the child process ended (exit {WaitExit()})");
    }

    private int WaitExit()
    {
        _child!.WaitForExit();
        return _child.ExitCode;
    }

    public void Dispose()
    {
        if (_child is null)
        {
            return;
        }
        _child.StandardInput.Close();
        WaitExit();
        _child.Dispose();
    }

    /// <summary>The child: <c>--pairs-child &lt;inline bytes&gt; &lt;pairs&gt;</c>, on the backend its environment picks.</summary>
    public static int Child(string[] args)
    {
        using var pairs = new SimulatorPairs(int.Parse(args[1], CultureInfo.InvariantCulture));
        pairs.Start(int.Parse(args[2], CultureInfo.InvariantCulture));
        Console.WriteLine("ready");
        for (string? line; (line = Console.ReadLine()) is not null;)
        {
            string[] request = line.Split(' ');
            int perPair = int.Parse(request[1], CultureInfo.InvariantCulture);
            if (request[0] == "seconds")
            {
                Console.WriteLine(pairs.Seconds(perPair).ToString("R", CultureInfo.InvariantCulture));
                continue;
            }
            Sample s = pairs.Measure(perPair);
            Console.WriteLine(string.Join(' ', new object[] { s.RoundTrips, s.Seconds, s.CpuSeconds, s.Switches, s.Allocated, s.P50Us, s.P99Us }
                .Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
        }
        return 0;
    }
}
