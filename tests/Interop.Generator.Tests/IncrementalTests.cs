using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using MachIpc.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>The pipeline caches: unrelated edits leave every tracked step cached or unchanged, and models hold no symbols.</summary>
public class IncrementalTests
{
    private static readonly string[] s_steps =
    {
        MachMessageGenerator.Steps.Parse, MachMessageGenerator.Steps.Models, MachMessageGenerator.Steps.AllowUnsafe,
        MachMessageGenerator.Steps.Emit, MachMessageGenerator.Steps.Diagnostics,
    };

    private static string[] Sources => new[]
    {
        GeneratorHarness.MessageSource("TaskPortCheckIn.cs"),
        GeneratorHarness.MessageSource("SurfacePorts.cs"),
        "namespace Other; public class Unrelated { public int Value; }",
    };

    [Fact]
    public void UnrelatedFileEditLeavesEveryStepCachedOrUnchanged()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(Sources);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);

        SyntaxTree old = compilation.SyntaxTrees.Last();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(old,
            CSharpSyntaxTree.ParseText("namespace Other; public class Unrelated { public int Value; public string Name = \"x\"; } class Added { }", GeneratorHarness.ParseOptions, old.FilePath));
        GeneratorRunResult result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        AssertAllCachedOrUnchanged(result);
    }

    [Fact]
    public void UnrelatedEditInTheSameFileLeavesModelsAndOutputsUnchanged()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(Sources);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);

        SyntaxTree old = compilation.SyntaxTrees.First();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(old,
            CSharpSyntaxTree.ParseText(old.GetText().ToString() + "\npublic class AddedBelow { }\n", GeneratorHarness.ParseOptions, old.FilePath));
        GeneratorRunResult result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        AssertAllCachedOrUnchanged(result);
    }

    [Fact]
    public void EditingAMessageRegeneratesIt()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(Sources);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        SyntaxTree old = compilation.SyntaxTrees.First();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(old,
            CSharpSyntaxTree.ParseText(old.GetText().ToString().Replace("1000", "1001", StringComparison.Ordinal), GeneratorHarness.ParseOptions, old.FilePath));
        GeneratorRunResult result = driver.RunGenerators(edited).GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[MachMessageGenerator.Steps.Models].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void ModelsHoldNoSymbolsSyntaxOrCompilation()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(Sources.Append(GeneratorHarness.MessageSource("OolData.cs")).Append(
            "using MachIpc.Abi; using MachIpc.Messages; [MachMessage(1)] public struct NotPartial { public MachMsgHeader Header; }"));
        GeneratorRunResult result = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation).GetRunResult().Results.Single();

        int walked = 0;
        foreach (string step in s_steps)
        {
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, _) in run.Outputs)
                {
                    Walk(value, step, new HashSet<object>(ReferenceEqualityComparer.Instance));
                    walked++;
                }
            }
        }
        Assert.True(walked > 10);
    }

    [Fact]
    public void ModelsAreValueEqualAcrossRuns()
    {
        object[] first = ParseOutputs(GeneratorHarness.CreateCompilation(Sources));
        object[] second = ParseOutputs(GeneratorHarness.CreateCompilation(Sources));
        Assert.Equal(3, first.Length);
        Assert.Equal(first, second);
        Assert.Equal(first.Select(o => o.GetHashCode()), second.Select(o => o.GetHashCode()));
    }

    [Fact]
    public void OldCompilationIsCollectable()
    {
        (WeakReference weak, GeneratorDriver driver) = RunTwice();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(weak.IsAlive, "the driver keeps the previous compilation alive");
        GC.KeepAlive(driver);
    }

    // Both runs happen in a non-inlined helper: a debug-JIT temporary in the test method holding the first driver
    // (whose state references the first compilation) would otherwise keep it alive and make the test meaningless.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference, GeneratorDriver) RunTwice()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(Sources);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new MachMessageGenerator().AsSourceGenerator() });
        driver = driver.RunGenerators(compilation);
        driver = driver.RunGenerators(GeneratorHarness.CreateCompilation(Sources));
        return (new WeakReference(compilation), driver);
    }

    private static object[] ParseOutputs(CSharpCompilation compilation) =>
        GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation).GetRunResult().Results.Single()
            .TrackedSteps[MachMessageGenerator.Steps.Parse].SelectMany(s => s.Outputs).Select(o => o.Value).ToArray();

    private static void AssertAllCachedOrUnchanged(GeneratorRunResult result)
    {
        foreach (string step in s_steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} did not run");
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object _, IncrementalStepRunReason reason) in run.Outputs)
                {
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
                }
            }
        }
    }

    private static readonly Type[] s_forbidden = { typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(SemanticModel) };

    private static void Walk(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum)
        {
            return;
        }
        Type type = value.GetType();
        foreach (Type forbidden in s_forbidden)
        {
            Assert.False(forbidden.IsAssignableFrom(type), $"{path} holds a {type} ({forbidden.Name})");
        }
        if (!type.IsValueType && !seen.Add(value))
        {
            return;
        }
        if (value is IEnumerable enumerable)
        {
            int i = 0;
            foreach (object? item in enumerable)
            {
                Walk(item, $"{path}[{i++}]", seen);
            }
        }
        for (Type? t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (FieldInfo field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                Walk(field.GetValue(value), path + "." + field.Name, seen);
            }
        }
    }
}
