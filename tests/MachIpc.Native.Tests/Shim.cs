using System.Diagnostics;
using Xunit;

namespace MachIpc.Native.Tests;

/// <summary>Where the native libSystem and its headers are, and how to build and run C programs against them.</summary>
internal static class Shim
{
    public const string FileName = "libmachipc_system.so";

    /// <summary>The library as every in-repo consumer gets it: next to MachIpc.dll in the output.</summary>
    public static string LibraryPath
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, FileName);
            Assert.True(File.Exists(path), FileName + " was not built next to MachIpc.dll in " + AppContext.BaseDirectory);
            return path;
        }
    }

    public static string RepoRoot
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

    public static string IncludeDirectory => Path.Combine(RepoRoot, "src", "native", "include");

    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("MACHIPC_KERNEL_SOCKET");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            psi.Environment[key] = value;
        }
        using var process = Process.Start(psi)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), file + " did not exit");
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>Compiles C sources into a program linked against the library (or, with <paramref name="syntaxOnly"/>, only checks them).</summary>
    public static string Compile(string name, string source, bool syntaxOnly = false)
    {
        string dir = Directory.CreateTempSubdirectory("machipc-native-").FullName;
        string src = Path.Combine(dir, name + ".c"), binary = Path.Combine(dir, name);
        File.WriteAllText(src, source);
        string lib = Path.GetDirectoryName(LibraryPath)!;
        var args = new List<string> { "-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + IncludeDirectory };
        args.AddRange(syntaxOnly ? ["-fsyntax-only", src] : ["-o", binary, src, "-L" + lib, "-Wl,-rpath," + lib, "-lmachipc_system"]);
        string compiler = Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc : "cc";
        var (code, output) = Run(compiler, args);
        Assert.True(code == 0, $"{name}.c did not compile:\n{output}\n{source}");
        return binary;
    }

    public static string Probe => s_probe.Value;

    private static readonly Lazy<string> s_probe = new(() =>
        Compile("shim_probe", File.ReadAllText(Path.Combine(RepoRoot, "tests", "MachIpc.Native.Tests", "Probes", "shim_probe.c"))));
}
