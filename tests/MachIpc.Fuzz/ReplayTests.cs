using System;
using System.IO;
using System.Linq;
using MachIpc.Fuzz.Targets;
using Xunit;

namespace MachIpc.Fuzz;

/// <summary>
/// The always-on layer of the fuzzing: every committed seed and finding goes through its target on every test run,
/// so a regression of anything AFL++ once found fails here, without AFL++.
/// </summary>
// The targets' leak checks are kernel-wide: nothing else may run in the simulated kernel meanwhile.
[Collection("Fuzz")]
public sealed class ReplayTests
{
    public static TheoryData<string> Targets => [.. FuzzTargets.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryCommittedInput_PassesItsTarget(string target)
    {
        string[] files = [.. Corpus.Committed(target)];
        Assert.True(files.Length >= 3, $"the {target} corpus has {files.Length} inputs");
        foreach (string file in files)
        {
            try
            {
                FuzzTargets.All[target](File.ReadAllBytes(file));
            }
            catch (Exception ex)
            {
                Assert.Fail($"{Path.GetFileName(Path.GetDirectoryName(file))}/{Path.GetFileName(file)}: {ex}");
            }
        }
    }
}

[CollectionDefinition("Fuzz", DisableParallelization = true)]
public sealed class FuzzCollection
{
}
