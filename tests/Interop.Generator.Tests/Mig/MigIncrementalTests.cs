using System;
using System.Collections.Generic;
using System.Linq;
using MachIpc.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// The MIG pipeline caches: an unrelated C# edit or an edit of another .defs file leaves an interface's models and
/// outputs cached or unchanged, a comment-only edit of the .defs itself changes no model, a real edit regenerates, and
/// the models hold no symbols.
/// </summary>
public class MigIncrementalTests
{
    private static readonly string[] s_steps =
    {
        MachInterfaceGenerator.Steps.Read, MachInterfaceGenerator.Steps.Parse, MachInterfaceGenerator.Steps.Models,
        MachInterfaceGenerator.Steps.Emit, MachInterfaceGenerator.Steps.Diagnostics, MachInterfaceGenerator.Steps.Collisions,
        MachInterfaceGenerator.Steps.Shadowed, MachInterfaceGenerator.Steps.Includable,
    };

    private static MigHarness.DefsFile[] Files => new[] { MigHarness.Load("mach_exc.defs"), MigHarness.Load("shapes.defs") };

    private static CSharpCompilation Compilation() => GeneratorHarness.CreateCompilation(new[] { "namespace Other; public class Unrelated { public int Value; }" });

    private static GeneratorRunResult Rerun(Func<GeneratorDriver, AdditionalText[], GeneratorDriver> edit, Func<CSharpCompilation, CSharpCompilation>? editCompilation = null)
    {
        CSharpCompilation compilation = Compilation();
        GeneratorDriver driver = MigHarness.CreateDriver(Files, trackSteps: true, out AdditionalText[] texts).RunGenerators(compilation);
        return edit(driver, texts).RunGenerators(editCompilation?.Invoke(compilation) ?? compilation).GetRunResult().Results.Single();
    }

    private static GeneratorDriver EditDefs(GeneratorDriver driver, AdditionalText[] texts, string fileName, Func<string, string> change)
    {
        AdditionalText old = texts.Single(t => t.Path == MigHarness.PathOf(fileName));
        return driver.ReplaceAdditionalText(old, MigHarness.Text(old.Path, change(old.GetText()!.ToString())));
    }

    /// <summary>Every output of the tracked steps that concerns <paramref name="path"/> (or every output, for null).</summary>
    private static IEnumerable<(string Step, object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string? path = null)
    {
        foreach (string step in s_steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} did not run");
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, IncrementalStepRunReason reason) in run.Outputs)
                {
                    if (path is null || Concerns(value, path))
                    {
                        yield return (step, value, reason);
                    }
                }
            }
        }
    }

    private static bool Concerns(object value, string path) => value switch
    {
        DefsSource s => s.Path == path,
        MigParseResult r => r.Path == path,
        MigInterfaceModel m => m.SourcePath == path,
        ValueTuple<ValueTuple<MigInterfaceModel, bool>, EquatableArray<string>> e => e.Item1.Item1.SourcePath == path,
        _ => false,
    };

    [Fact]
    public void UnrelatedCSharpEdit_LeavesEveryStepCachedOrUnchanged()
    {
        GeneratorRunResult result = Rerun((d, _) => d, c => c.ReplaceSyntaxTree(c.SyntaxTrees.Single(),
            CSharpSyntaxTree.ParseText("namespace Other; public class Unrelated { public int Value; public string Name = \"x\"; } class Added { }", GeneratorHarness.ParseOptions, c.SyntaxTrees.Single().FilePath)));
        foreach ((string step, _, IncrementalStepRunReason reason) in Outputs(result))
        {
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
        }
    }

    [Fact]
    public void EditingAnotherDefsFile_LeavesThisInterfaceCachedOrUnchanged()
    {
        string machExc = MigHarness.PathOf("mach_exc.defs");
        string shapes = MigHarness.PathOf("shapes.defs");
        GeneratorRunResult result = Rerun((d, texts) => EditDefs(d, texts, "shapes.defs", t => t.Replace("subsystem shapes 7100;", "subsystem shapes 7200;", StringComparison.Ordinal)));
        var mine = Outputs(result, machExc).ToList();
        Assert.Contains(mine, o => o.Step == MachInterfaceGenerator.Steps.Emit);
        foreach ((string step, _, IncrementalStepRunReason reason) in mine)
        {
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
        }
        Assert.Contains(Outputs(result, shapes), o => o.Step == MachInterfaceGenerator.Steps.Models && o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void ACommentOnlyEdit_ChangesNoModelAndNoOutput()
    {
        string machExc = MigHarness.PathOf("mach_exc.defs");
        GeneratorRunResult result = Rerun((d, texts) => EditDefs(d, texts, "mach_exc.defs", t => "/* a new first line */\n" + t));
        foreach ((string step, _, IncrementalStepRunReason reason) in Outputs(result, machExc))
        {
            if (step is MachInterfaceGenerator.Steps.Models or MachInterfaceGenerator.Steps.Emit)
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
            }
        }
    }

    [Fact]
    public void EditingTheDefsFile_RegeneratesIt()
    {
        string machExc = MigHarness.PathOf("mach_exc.defs");
        GeneratorRunResult result = Rerun((d, texts) => EditDefs(d, texts, "mach_exc.defs", t => t.Replace("array[*:2] of int64_t", "array[*:3] of int64_t", StringComparison.Ordinal)));
        Assert.Contains(Outputs(result, machExc), o => o.Step == MachInterfaceGenerator.Steps.Models && o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void ModelsHoldNoSymbolsSyntaxOrCompilation()
    {
        GeneratorRunResult result = MigHarness.CreateDriver(Files.Append(MigHarness.Load("notify.defs")).Append(new MigHarness.DefsFile("/bad.defs", "subsystem bad 1; routine r(x : nonsense);")), trackSteps: true)
            .RunGenerators(Compilation()).GetRunResult().Results.Single();
        int walked = 0;
        foreach ((string step, object value, _) in Outputs(result))
        {
            IncrementalTests.Walk(value, step, new HashSet<object>(ReferenceEqualityComparer.Instance));
            walked++;
        }
        Assert.True(walked > 10);
    }

    [Fact]
    public void ModelsAreValueEqualAcrossRuns()
    {
        object[] Parse() => MigHarness.CreateDriver(Files, trackSteps: true).RunGenerators(Compilation()).GetRunResult().Results.Single()
            .TrackedSteps[MachInterfaceGenerator.Steps.Parse].SelectMany(s => s.Outputs).Select(o => o.Value).ToArray();
        object[] first = Parse();
        object[] second = Parse();
        Assert.Equal(2, first.Length);
        Assert.Equal(first, second);
        Assert.Equal(first.Select(o => o.GetHashCode()), second.Select(o => o.GetHashCode()));
    }
}
