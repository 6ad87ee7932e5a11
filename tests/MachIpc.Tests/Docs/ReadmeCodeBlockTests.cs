using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using MachIpc.Generator;
using MachIpc.Kernel.Simulated;
using MachIpc.Tests.Shared;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace MachIpc.Tests.Docs;

/// <summary>
/// Every C# block of the repository's README and of the package's README is a complete program, compiled as pasted
/// (with the generators and analyzers a consumer gets, warnings as errors) and run in a fresh simulated task; it must
/// release every right, port and queued message it created. If the API changes under a README, this fails.
/// </summary>
[Collection("Kernel")]
public sealed class ReadmeCodeBlockTests
{
    private static readonly string s_repoRoot = FindRepoRoot();

    public static TheoryData<string, int> Blocks()
    {
        var data = new TheoryData<string, int>();
        foreach (string file in new[] { "README.md", Path.Combine("src", "MachIpc", "PACKAGE.md") })
        {
            foreach (MarkdownCodeBlock block in MarkdownCodeBlocks.Read(File.ReadAllText(Path.Combine(s_repoRoot, file))))
            {
                if (block.Language == "csharp")
                {
                    data.Add(file, block.Line);
                }
            }
        }
        return data;
    }

    [Fact]
    public void BothReadmes_HaveTheQuickStartPrograms()
    {
        // Guards the theory below against passing vacuously.
        Assert.True(Blocks().Count(row => (string)row[0] == "README.md") >= 2);
        Assert.True(Blocks().Count(row => (string)row[0] != "README.md") >= 2);
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void CodeBlock_CompilesAsPasted_RunsAndReleasesEverything(string file, int line)
    {
        MarkdownCodeBlock block = MarkdownCodeBlocks.Read(File.ReadAllText(Path.Combine(s_repoRoot, file))).Single(b => b.Line == line);
        byte[] image = Compile(block.Code, $"{file}:{line}");

        using var task = SimulatedMach.CreateTask("readme");
        var rights = task.Rights();   // a new task starts with its task-self and bootstrap send rights
        var before = SimulatedMach.Snapshot();
        var context = new AssemblyLoadContext("readme", isCollectible: true);
        try
        {
            MethodInfo main = context.LoadFromStream(new MemoryStream(image)).EntryPoint!;
            string output = RunCapturingConsole(() =>
            {
                using (task.Enter())
                {
                    main.Invoke(null, main.GetParameters().Length == 0 ? null : new object[] { Array.Empty<string>() });
                }
            });
            Assert.False(string.IsNullOrWhiteSpace(output), $"{file}:{line} printed nothing");
            // The program's task is still alive here: whatever it created and did not release would show.
            Assert.Equal(rights, task.Rights());
            SimulatedMach.Snapshot().AssertNoLeaksSince(before);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>Compiles like a consumer's build: generators, analyzers, unsafe allowed, every warning an error.</summary>
    private static byte[] Compile(string code, string where)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(MachIpc.Abi.MachMsgHeader).Assembly.Location));
        var compilation = CSharpCompilation.Create(
            "ReadmeBlock" + Guid.NewGuid().ToString("N"),
            new[] { CSharpSyntaxTree.ParseText(code, parse, path: "Program.cs") },
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        CSharpGeneratorDriver.Create(
                new[] { new MachMessageGenerator().AsSourceGenerator(), new MachServerGenerator().AsSourceGenerator() }, parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        ImmutableArray<DiagnosticAnalyzer> analyzers = typeof(MachMessageGenerator).Assembly.GetTypes()
            .Where(t => typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        var diagnostics = generatorDiagnostics
            .AddRange(output.WithAnalyzers(analyzers).GetAllDiagnosticsAsync().GetAwaiter().GetResult())
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .ToArray();
        Assert.True(diagnostics.Length == 0, $"{where} does not compile as pasted:\n{string.Join("\n", diagnostics.Select(d => d.ToString()))}\n{code}");

        using var image = new MemoryStream();
        Assert.True(output.Emit(image).Success, where);
        return image.ToArray();
    }

    private static readonly object s_console = new();

    private static string RunCapturingConsole(Action run)
    {
        lock (s_console)
        {
            TextWriter original = Console.Out;
            var captured = new StringWriter();
            Console.SetOut(captured);
            try
            {
                run();
            }
            finally
            {
                Console.SetOut(original);
            }
            return captured.ToString();
        }
    }

    private static string FindRepoRoot()
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
