using System.Collections.Concurrent;
using System.Diagnostics;
using MachIpc.Abi;
using MachIpc.Kernel;
using Xunit;

// Leak checks look at the whole task's name space, so tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MachIpc.Behaviour;

/// <summary>
/// The base of every behaviour test. It uses only what a Mac offers, so the same source runs on every backend:
/// other tasks are real child processes (<see cref="StartPeer"/>, joined through <see cref="Mach.ConfigureChild"/>),
/// leaks are found through <c>mach_port_names</c> / <c>mach_port_get_refs</c> of this task, open descriptors are
/// counted in <c>/dev/fd</c>, and bootstrap names are unique per test.
/// </summary>
public abstract class BehaviourTest : IDisposable
{
    private static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(30);
    private readonly Dictionary<uint, (MachPortType Type, uint SendRefs)> _before = PortSpace();
    private readonly List<Process> _children = new();

    /// <summary>A bootstrap name no other test or run uses.</summary>
    protected static string UniqueName(string what) => $"org.machipc.behaviour.{what}.{Guid.NewGuid():N}";

    /// <summary>Every name in this task's space with its type and send-right user references.</summary>
    protected static unsafe Dictionary<uint, (MachPortType Type, uint SendRefs)> PortSpace()
    {
        uint* names;
        MachPortType* types;
        uint count, typesCount;
        Assert.Equal(KernReturn.Success, Mach.PortNames(Mach.TaskSelf, &names, &count, &types, &typesCount));
        Assert.Equal(count, typesCount);
        var space = new Dictionary<uint, (MachPortType, uint)>();
        for (int i = 0; i < count; i++)
        {
            uint refs = 0;
            if ((types[i] & MachPortType.Send) != 0)
            {
                Assert.Equal(KernReturn.Success, Mach.PortGetRefs(Mach.TaskSelf, names[i], MachPortRight.Send, &refs));
            }
            space[names[i]] = (types[i], refs);
        }
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, (ulong)names, count * 4ul));
        Assert.Equal(KernReturn.Success, Mach.VmDeallocate(Mach.TaskSelf, (ulong)types, count * 4ul));
        return space;
    }

    /// <summary>Open descriptors of this process, counted as a Mac allows (<c>/dev/fd</c>, not <c>/proc</c>).</summary>
    protected static int OpenDescriptors() => Directory.GetFileSystemEntries("/dev/fd").Length;

    /// <summary>Starts the peer program in <paramref name="mode"/> as a child task of this process's kernel.</summary>
    protected Process StartPeer(string mode, params string[] args) => Start(PeerPath, [mode, .. args]);

    /// <summary>
    /// Starts the C program CPeer/<paramref name="source"/> (compiled once per run by <see cref="CompileC"/>) as a
    /// child task of this process's kernel.
    /// </summary>
    protected Process StartC(string source, params string[] args) =>
        Start(s_cPrograms.GetOrAdd(source, s => new Lazy<string>(() => CompileC(s))).Value, args);

    private Process Start(string program, string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove(Mach.KernelSocketVariable);
        Mach.ConfigureChild(psi); // off macOS, on either backend: MACHIPC_KERNEL_SOCKET, which the C library reads at load
        return Track(Process.Start(psi)!);
    }

    private static readonly ConcurrentDictionary<string, Lazy<string>> s_cPrograms = new();

    /// <summary>
    /// Compiles a C peer with <c>cc</c> (or $CC), warning-free: against the SDK's headers and libSystem on macOS,
    /// against src/native's headers and libmachipc_system.so elsewhere, where it joins this process's kernel host.
    /// </summary>
    private static string CompileC(string source)
    {
        string path = Path.Combine(RepoRoot, "tests", "MachIpc.Behaviour", "CPeer", source);
        string binary = Path.Combine(Directory.CreateTempSubdirectory("machipc-cpeer").FullName, Path.GetFileNameWithoutExtension(source));
        string compiler = Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc : "cc";
        var psi = new ProcessStartInfo(compiler) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", binary, path })
        {
            psi.ArgumentList.Add(a);
        }
        if (!OperatingSystem.IsMacOS())
        {
            // The native libSystem sits next to MachIpc.dll in this test's output.
            string lib = AppContext.BaseDirectory;
            Assert.True(File.Exists(Path.Combine(lib, "libmachipc_system.so")), "libmachipc_system.so is not in " + lib);
            foreach (string a in new[] { "-I" + Path.Combine(RepoRoot, "src", "native", "include"), "-L" + lib, "-Wl,-rpath," + lib, "-lmachipc_system" })
            {
                psi.ArgumentList.Add(a);
            }
        }
        using var compile = Process.Start(psi)!;
        Task<string> errors = compile.StandardError.ReadToEndAsync();
        string output = compile.StandardOutput.ReadToEnd() + errors.Result;
        compile.WaitForExit();
        Assert.True(compile.ExitCode == 0, source + " did not compile:\n" + output);
        return binary;
    }

    /// <summary>Makes <paramref name="child"/> part of the test: killed if still running when the test ends.</summary>
    protected Process Track(Process child)
    {
        _children.Add(child);
        return child;
    }

    /// <summary>The next line the child prints (fails after a generous timeout).</summary>
    protected static string ReadLine(Process child)
    {
        Task<string?> line = child.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(ChildTimeout), $"child {child.Id} said nothing in time");
        return line.Result ?? "(end of output)";
    }

    /// <summary>Waits for the child to exit successfully and returns what it printed last.</summary>
    protected static string Finish(Process child)
    {
        string line = ReadLine(child);
        Assert.True(child.WaitForExit(ChildTimeout), $"child {child.Id} did not exit");
        Assert.True(child.ExitCode == 0, $"child {child.Id} exited {child.ExitCode}: {line}");
        return line;
    }

    /// <summary>The repository's root (where MachIpc.sln is).</summary>
    protected static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MachIpc.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException("MachIpc.sln not found above " + AppContext.BaseDirectory);
        }
    }

    private static string PeerPath
    {
        get
        {
            // tests/<this project>/bin/<configuration>/<tfm>/ -> tests/MachIpc.Behaviour.Peer/bin/<configuration>/<tfm>/
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string tfm = output.Name, configuration = output.Parent!.Name;
            string path = Path.Combine(RepoRoot, "tests", "MachIpc.Behaviour.Peer", "bin", configuration, tfm, "MachIpc.Behaviour.Peer");
            Assert.True(File.Exists(path), "peer not built at " + path);
            return path;
        }
    }

    public virtual void Dispose()
    {
        foreach (Process child in _children)
        {
            try
            {
                if (!child.HasExited)
                {
                    child.Kill();
                    child.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
            }
            child.Dispose();
        }
        Dictionary<uint, (MachPortType Type, uint SendRefs)> after = PortSpace();
        var leaks = after.Where(kv => !_before.TryGetValue(kv.Key, out var was) || was != kv.Value)
            .Select(kv => $"0x{kv.Key:x} {kv.Value.Type} send refs {kv.Value.SendRefs}" +
                          (_before.TryGetValue(kv.Key, out var was) ? $" (was {was.Type}, {was.SendRefs})" : " (new)"))
            .Concat(_before.Keys.Where(k => !after.ContainsKey(k)).Select(k => $"0x{k:x} released (was {_before[k].Type}: owned by the process)"))
            .ToList();
        Assert.True(leaks.Count == 0, "port rights changed by the test:\n" + string.Join("\n", leaks));
        GC.SuppressFinalize(this);
    }
}

/// <summary>Which backend this test assembly was built to run on (the project picks it through its runsettings).</summary>
public sealed class BackendTests : BehaviourTest
{
    [Fact]
    public void RunsOnTheBackendItsProjectSelects()
    {
#if MACHIPC_BEHAVIOUR_DARWIN
        Assert.Equal(MachKernelBackend.Darwin, Mach.Backend);
        Assert.True(Mach.IsDarwin);
#else
        Assert.Equal(MachKernelBackend.Simulated, Mach.Backend);
#endif
        // Either way the audit token's pid of this process's own task is its OS pid.
        Assert.Equal(Environment.ProcessId, Mach.CurrentPid);
    }
}
