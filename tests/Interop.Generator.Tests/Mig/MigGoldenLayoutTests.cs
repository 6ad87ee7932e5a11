using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using MachIpc.Generator.Parsing.Mig;
using Xunit;
using Xunit.Abstractions;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// Checks MachIpc's MIG layouts against MIG-generated C that no one here wrote. Mig/Golden/golden_layouts.txt records,
/// from public MIG output for mach_exc (two MIG versions), exc and notify, every request and reply sizeof and field
/// offsetof, every msgh_id, and the variable-size deltas the C checks state. The test first compiles
/// CLayout/mig_golden.c (the same structs re-declared from those facts) with cc and requires it to print exactly the
/// recorded values, then generates C# from this repository's .defs of each interface (with the source's
/// THREAD_STATE_MAX), compiles it, and compares every recorded value with the generated constants.
/// </summary>
public class MigGoldenLayoutTests
{
    private readonly ITestOutputHelper _output;

    public MigGoldenLayoutTests(ITestOutputHelper output) => _output = output;

    private sealed record Variant(string Name, string File, string Defines);

    private static (List<Variant> Variants, Dictionary<(string Variant, string Struct, string Key), int> Values) ReadGolden()
    {
        var variants = new List<Variant>();
        var values = new Dictionary<(string, string, string), int>();
        string path = Path.Combine(GeneratorHarness.ProjectDirectory(), "Mig", "Golden", "golden_layouts.txt");
        foreach (string raw in File.ReadAllLines(path))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            string[] parts = line.Split(' ');
            if (parts[0] == "variant")
            {
                variants.Add(new Variant(parts[1], parts[2], parts[3] == "-" ? string.Empty : parts[3]));
            }
            else if (parts[1] == "subsystem")
            {
                values[(parts[0], "subsystem", "base")] = int.Parse(parts[3], CultureInfo.InvariantCulture);
                values[(parts[0], "subsystem", "end")] = int.Parse(parts[4], CultureInfo.InvariantCulture);
            }
            else
            {
                values[(parts[0], parts[1], parts[2])] = int.Parse(parts[3], CultureInfo.InvariantCulture);
            }
        }
        return (variants, values);
    }

    [Fact]
    public void TheCCompilerAgreesWithTheRecordedValues()
    {
        (_, Dictionary<(string Variant, string Struct, string Key), int> golden) = ReadGolden();
        var fromC = new Dictionary<(string, string, string), int>();
        foreach (string line in CProgram.Run("mig_golden.c").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            fromC[(parts[0], parts[1], parts[2])] = int.Parse(parts[3], CultureInfo.InvariantCulture);
        }
        var layout = golden.Where(g => g.Key.Key is not ("msgh_id" or "vardelta") && g.Key.Struct != "subsystem")
            .ToDictionary(g => g.Key, g => g.Value);
        Assert.Equal(layout.OrderBy(k => k.Key.ToString(), StringComparer.Ordinal), fromC.OrderBy(k => k.Key.ToString(), StringComparer.Ordinal));
    }

    [Fact]
    public void GeneratedLayoutsIdsAndSizesEqualMigs()
    {
        (List<Variant> variants, Dictionary<(string Variant, string Struct, string Key), int> golden) = ReadGolden();
        int structs = 0;
        int compared = 0;
        foreach (Variant variant in variants)
        {
            string ns = "Golden." + variant.Name;
            Assembly assembly = MigHarness.Compile(MigHarness.Load(variant.File, variant.Defines, ns));
            foreach (IGrouping<string, KeyValuePair<(string Variant, string Struct, string Key), int>> group in golden
                .Where(g => g.Key.Variant == variant.Name && g.Key.Struct != "subsystem").GroupBy(g => g.Key.Struct))
            {
                Type type = Generated(assembly, ns, group.Key);
                structs++;
                Type offsets = type.GetNestedType("Offsets")!;
                var fields = group.Where(g => g.Key.Key is not ("sizeof" or "msgh_id" or "vardelta")).ToList();
                foreach (KeyValuePair<(string Variant, string Struct, string Key), int> value in group)
                {
                    int generated = value.Key.Key switch
                    {
                        "sizeof" => Constant(type, "SendSize"),
                        "msgh_id" => Constant(type, "MsgId"),
                        "vardelta" => Constant(type, "SendSize") - Constant(type, "MinSize"),
                        _ => (int)offsets.GetField(value.Key.Key)!.GetRawConstantValue()!,
                    };
                    Assert.True(value.Value == generated, $"{variant.Name} {group.Key}.{value.Key.Key}: MIG {value.Value}, MachIpc {generated}");
                    compared++;
                }
                if (group.Key.StartsWith("__Request__", StringComparison.Ordinal) && group.Any(g => g.Key.Key == "msgh_id"))
                {
                    Type? reply = Generated(assembly, ns, group.Key.Replace("__Request__", "__Reply__", StringComparison.Ordinal), required: false);
                    if (reply is null)
                    {
                        // A simpleroutine (notify's are): sent without a reply port, answered by nothing.
                        Assert.Equal(0, Constant(type, "LocalDisposition"));
                    }
                    else
                    {
                        // MIG's demux answers with the request's id + 100.
                        Assert.Equal(group.Single(g => g.Key.Key == "msgh_id").Value + 100, Constant(reply, "MsgId"));
                    }
                    compared++;
                }
                if (fields.Count > 0)
                {
                    // The generated struct has exactly MIG's fields.
                    Assert.Equal(fields.Select(f => f.Key.Key).OrderBy(n => n, StringComparer.Ordinal),
                        offsets.GetFields().Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal));
                }
            }
            if (golden.TryGetValue((variant.Name, "subsystem", "base"), out int first))
            {
                Type dispatcher = assembly.GetTypes().Single(t => t.Namespace == ns && t.Name.EndsWith("Dispatcher", StringComparison.Ordinal));
                Assert.Equal(first, Constant(dispatcher, "SubsystemBase"));
                Assert.Equal(golden[(variant.Name, "subsystem", "end")], Constant(dispatcher, "SubsystemEnd"));
                compared += 2;
            }
        }
        _output.WriteLine($"{variants.Count} interfaces, {structs} request/reply layouts, {compared} values compared with MIG's");
        Assert.True(structs >= 20 && compared >= 190, $"only {structs} layouts and {compared} values compared");
    }

    /// <summary><c>__Request__mach_exception_raise_t</c> → <c>MachExceptionRaiseRequest</c>.</summary>
    private static Type Generated(Assembly assembly, string ns, string migName) => Generated(assembly, ns, migName, required: true)!;

    private static Type? Generated(Assembly assembly, string ns, string migName, bool required)
    {
        bool request = migName.StartsWith("__Request__", StringComparison.Ordinal);
        string routine = migName.Substring(request ? "__Request__".Length : "__Reply__".Length);
        routine = routine.Substring(0, routine.Length - 2);
        string name = MigInterfaceBuilder.PascalCase(routine) + (request ? "Request" : "Reply");
        Type? type = assembly.GetType(ns + "." + name);
        return type is not null || !required ? type : throw new Xunit.Sdk.XunitException($"{ns}.{name} was not generated for {migName}");
    }

    private static int Constant(Type type, string name) => Convert.ToInt32(type.GetField(name)!.GetRawConstantValue(), CultureInfo.InvariantCulture);
}
