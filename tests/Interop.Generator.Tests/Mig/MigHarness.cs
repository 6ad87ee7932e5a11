using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using MachIpc.Tests.Shared;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>Runs <see cref="MachInterfaceGenerator"/> over in-memory .defs files with MachInterface item metadata.</summary>
internal static class MigHarness
{
    public static string DefsDirectory => Path.Combine(GeneratorHarness.ProjectDirectory(), "Mig", "Defs");

    /// <summary>The sample's mach_exc.defs is the one every test reads.</summary>
    public static string PathOf(string fileName) => fileName == "mach_exc.defs"
        ? Path.Combine(GeneratorHarness.ProjectDirectory(), "..", "..", "samples", "MachExceptionServer", fileName)
        : Path.Combine(DefsDirectory, fileName);

    public static string Defs(string fileName) => System.IO.File.ReadAllText(PathOf(fileName));

    /// <summary>One .defs file as the build would hand it over.</summary>
    public sealed record DefsFile(string Path, string Text, string Defines = "", string Namespace = "MigTests");

    public static DefsFile Load(string fileName, string defines = "", string ns = "MigTests") =>
        new(PathOf(fileName), Defs(fileName), defines, ns);

    public static GeneratorDriver CreateDriver(IEnumerable<DefsFile> files, bool trackSteps = false) => CreateDriver(files, trackSteps, out _);

    /// <summary>Creates the driver and returns the additional texts it holds (to replace them in incrementality tests).</summary>
    public static GeneratorDriver CreateDriver(IEnumerable<DefsFile> files, bool trackSteps, out AdditionalText[] texts)
    {
        DefsFile[] all = files.ToArray();
        texts = all.Select(f => Text(f.Path, f.Text)).ToArray();
        return CSharpGeneratorDriver.Create(
            new[] { new MachInterfaceGenerator().AsSourceGenerator() },
            texts,
            GeneratorHarness.ParseOptions,
            new MachInterfaceOptions(all.Select(f => (f.Path, f.Defines, f.Namespace))),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));
    }

    public static AdditionalText Text(string path, string text) => new InMemoryDefs(path, text);

    public static GeneratorHarness.Result Run(params DefsFile[] files) => Run(GeneratorHarness.CreateCompilation(Array.Empty<string>()), files);

    public static GeneratorHarness.Result Run(CSharpCompilation compilation, params DefsFile[] files)
    {
        GeneratorDriver driver = CreateDriver(files).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new GeneratorHarness.Result(driver.GetRunResult(), output, diagnostics);
    }

    /// <summary>Generates, compiles (failing on any error) and loads the interface into a collectible context.</summary>
    public static Assembly Compile(params DefsFile[] files)
    {
        GeneratorHarness.Result result = Run(files);
        Assert.Empty(result.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        using var stream = new MemoryStream();
        var emit = result.Output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        stream.Position = 0;
        var context = new AssemblyLoadContext("mig-" + Guid.NewGuid().ToString("N"), isCollectible: true);
        context.Resolving += (c, name) => name.Name == "MachIpc" ? typeof(MachIpc.Abi.MachMsgHeader).Assembly : null;
        return context.LoadFromStream(stream);
    }
}
