using System;
using System.IO;
using MachIpc.Fuzz.Targets;

namespace MachIpc.Fuzz;

/// <summary>
/// <c>fuzz TARGET</c>: runs under afl-fuzz (build/fuzz.sh), one input per iteration in this process (SharpFuzz's
/// persistent mode), an exception being a crash. <c>replay TARGET PATH...</c>: runs files or directories of inputs
/// through a target, as the tests do, and reports each failure (triage of AFL++'s crashes directory).
/// <c>seeds DIR</c>: writes the seed corpus (DIR/TARGET/*) from the real encoders.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "fuzz" && FuzzTargets.All.TryGetValue(args[1], out FuzzTarget? target))
        {
            var buffer = new MemoryStream();
            SharpFuzz.Fuzzer.Run(stream =>
            {
                buffer.SetLength(0);
                stream.CopyTo(buffer);
                target(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            });
            return 0;
        }
        if (args.Length >= 3 && args[0] == "replay" && FuzzTargets.All.TryGetValue(args[1], out target))
        {
            int failures = 0;
            foreach (string file in Corpus.Files(args[2..]))
            {
                try
                {
                    target(File.ReadAllBytes(file));
                }
                catch (Exception ex)
                {
                    failures++;
                    Console.WriteLine($"{file}: {ex}");
                }
            }
            Console.WriteLine($"replay {args[1]}: {failures} failure(s)");
            return failures == 0 ? 0 : 1;
        }
        if (args.Length == 2 && args[0] == "seeds")
        {
            Seeds.Write(args[1]);
            return 0;
        }
        Console.Error.WriteLine($"usage: MachIpc.Fuzz fuzz|replay TARGET [PATH...] | seeds DIR; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
        return 2;
    }
}
