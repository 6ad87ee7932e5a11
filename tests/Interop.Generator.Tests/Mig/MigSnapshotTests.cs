using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace MachIpc.Generator.Tests.Mig;

/// <summary>
/// Generated source for MIG interfaces, compared exactly with baselines under Snapshots/Mig/: what only the MIG path
/// emits (message fields, client, handler and dispatcher). Each message's layout, validation and stub parts come from
/// the shared emitters, which SnapshotTests pins; here they are compiled and run instead. Set
/// MACHIPC_UPDATE_SNAPSHOTS=1 to rewrite the baselines.
/// </summary>
public class MigSnapshotTests
{
    public static TheoryData<string, string> Interfaces => new()
    {
        { "mach_exc.defs", "" },
        { "notify.defs", "" },
        { "shapes.defs", "" },
    };

    [Theory]
    [MemberData(nameof(Interfaces))]
    public void GeneratedSourceMatchesBaseline(string file, string defines)
    {
        GeneratorHarness.Result result = MigHarness.Run(MigHarness.Load(file, defines));

        Assert.Empty(result.GeneratorDiagnostics.Where(d => d.Severity > DiagnosticSeverity.Info));
        Assert.Empty(result.CompilerErrors);
        GeneratedSourceResult[] sources = result.Run.Results.Single().GeneratedSources
            .Where(s => s.HintName.EndsWith(".Fields.g.cs", StringComparison.Ordinal) || s.HintName.EndsWith(".Client.g.cs", StringComparison.Ordinal)
                || s.HintName.EndsWith(".Server.g.cs", StringComparison.Ordinal))
            .OrderBy(s => s.HintName, StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(sources);

        string directory = Path.Combine(GeneratorHarness.ProjectDirectory(), "Snapshots", "Mig", Path.GetFileNameWithoutExtension(file));
        Directory.CreateDirectory(directory);
        GeneratorHarness.AssertMatchesBaselines(directory, sources);
        Assert.Equal(sources.Length, Directory.GetFiles(directory).Length);
    }
}
