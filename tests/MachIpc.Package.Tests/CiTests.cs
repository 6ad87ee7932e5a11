using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace MachIpc.Package.Tests;

/// <summary>
/// The GitHub workflow parses and every job runs the same script a local clean clone runs (.ci/run), with the SDK
/// global.json pins, on Linux and on the macOS matrix the project supports.
/// </summary>
public sealed class CiTests
{
    private static readonly string RepoRoot = FindRepoRoot();

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

    private static YamlMappingNode Workflow()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(RepoRoot, ".github", "workflows", "ci.yml")))
        {
            yaml.Load(reader); // throws on anything that is not YAML
        }
        Assert.Single(yaml.Documents);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static YamlNode At(YamlNode node, string key)
    {
        var map = Assert.IsType<YamlMappingNode>(node);
        Assert.True(map.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value), $"no '{key}' in {node.Start}");
        return value!;
    }

    private static string Scalar(YamlNode node, string key) => Assert.IsType<YamlScalarNode>(At(node, key)).Value!;

    private static void AssertRunsTheScriptWithTheGlobalJsonSdk(YamlNode job, string name)
    {
        var steps = Assert.IsType<YamlSequenceNode>(At(job, "steps")).Children;
        int setup = steps.ToList().FindIndex(s => s is YamlMappingNode m &&
            m.Children.TryGetValue(new YamlScalarNode("uses"), out var uses) && uses.ToString().StartsWith("actions/setup-dotnet@", StringComparison.Ordinal));
        Assert.True(setup >= 0, $"{name}: no actions/setup-dotnet step");
        Assert.Equal("global.json", Scalar(At(steps[setup], "with"), "global-json-file"));
        int script = steps.ToList().FindIndex(s => s is YamlMappingNode m &&
            m.Children.TryGetValue(new YamlScalarNode("run"), out var run) && run.ToString().Trim() == "bash .ci/run");
        Assert.True(script > setup, $"{name}: no 'bash .ci/run' step after setup-dotnet");
        Assert.True(int.Parse(Scalar(job, "timeout-minutes"), System.Globalization.CultureInfo.InvariantCulture) <= 90, $"{name}: CI must finish well inside 90 minutes");
    }

    [Fact]
    public void Workflow_Parses_AndItsLinuxAndMacOsJobsRunTheSameScript()
    {
        YamlMappingNode workflow = Workflow();
        var on = At(workflow, "on");
        Assert.Contains(new YamlScalarNode("push"), ((YamlMappingNode)on).Children.Keys);
        Assert.Contains(new YamlScalarNode("pull_request"), ((YamlMappingNode)on).Children.Keys);

        var jobs = At(workflow, "jobs");
        var linux = At(jobs, "linux");
        Assert.StartsWith("ubuntu-", Scalar(linux, "runs-on"), StringComparison.Ordinal);
        AssertRunsTheScriptWithTheGlobalJsonSdk(linux, "linux");

        var macos = At(jobs, "macos");
        Assert.Equal("${{ matrix.os }}", Scalar(macos, "runs-on"));
        AssertRunsTheScriptWithTheGlobalJsonSdk(macos, "macos");
        var include = Assert.IsType<YamlSequenceNode>(At(At(At(macos, "strategy"), "matrix"), "include")).Children;
        var runners = include.ToDictionary(e => Scalar(e, "os"), e => (Arch: Scalar(e, "arch"), Preview: Scalar(e, "preview")));
        Assert.Equal(("arm64", "false"), runners["macos-14"]);
        Assert.Equal(("arm64", "false"), runners["macos-15"]);
        Assert.Equal(("x64", "false"), runners["macos-13"]);   // the Intel runner
        Assert.Equal(("arm64", "true"), runners["macos-26"]);  // while GitHub previews it
        Assert.Equal("${{ matrix.preview }}", Scalar(macos, "continue-on-error"));
    }

    [Fact]
    public void Script_RunsTheMigSampleOnBothLinuxBackends()
    {
        // The exception server generated from mach_exc.defs, on the simulator and over the native libSystem.
        string script = File.ReadAllText(Path.Combine(RepoRoot, ".ci", "run"));
        Assert.Contains("\nrun_sample dotnet run --project samples/MachExceptionServer -c Release\n", script, StringComparison.Ordinal);
        Assert.Contains("MACHIPC_KERNEL=darwin run_sample dotnet run --project samples/MachExceptionServer -c Release", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Script_RunsTheHostedSampleWithTheOtherSamples_OnBothLinuxBackends()
    {
        string script = File.ReadAllText(Path.Combine(RepoRoot, ".ci", "run"));
        Assert.Contains("for sample in EchoService ConnectionPatterns LaunchdAgent HostedService; do", script, StringComparison.Ordinal);
        Assert.Contains("MACHIPC_KERNEL=darwin run_sample dotnet run --project \"samples/$sample\" -c Release", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Script_RunsEachFuzzTargetForAMinuteOnLinux()
    {
        string script = File.ReadAllText(Path.Combine(RepoRoot, ".ci", "run"));
        Assert.Contains("if [ \"$os\" = Linux ]; then\n  build/fuzz.sh 60\nfi", script, StringComparison.Ordinal);
        string fuzz = File.ReadAllText(Path.Combine(RepoRoot, "build", "fuzz.sh"));
        Assert.Contains("targets=(validators wire copyin)", fuzz, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y -qq afl++", fuzz, StringComparison.Ordinal); // installs what it needs
        Assert.Contains("dotnet tool restore", fuzz, StringComparison.Ordinal);
    }

    [Fact]
    public void Script_RunsTheReadmesTestCommand_TheSampleOnBothLinuxBackends_AndWorksOnMacOs()
    {
        string script = File.ReadAllText(Path.Combine(RepoRoot, ".ci", "run"));
        string readme = File.ReadAllText(Path.Combine(RepoRoot, "README.md"));
        Assert.Contains("dotnet test MachIpc.sln", readme, StringComparison.Ordinal);
        Assert.Contains("\n  dotnet test MachIpc.sln\n", script, StringComparison.Ordinal);
        Assert.Contains("run_sample dotnet run --project samples/HelperPool -c Release", script, StringComparison.Ordinal);
        Assert.Contains("MACHIPC_KERNEL=darwin run_sample dotnet run --project samples/HelperPool -c Release", script, StringComparison.Ordinal);
        Assert.Contains("codesign -s - -o runtime", script, StringComparison.Ordinal);
        Assert.Contains("Darwin-arm64) rid=osx-arm64", script, StringComparison.Ordinal);
        Assert.DoesNotContain("stat -c", script, StringComparison.Ordinal); // GNU only; macOS has BSD stat
        // apt-get only where it exists.
        int apt = script.IndexOf("apt-get", StringComparison.Ordinal);
        Assert.True(apt > script.IndexOf("if [ \"$os\" = Linux ]", StringComparison.Ordinal), "apt-get must be reached on Linux only");

        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", Path.Combine(RepoRoot, ".ci", "run")])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        string errors = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, ".ci/run does not parse: " + errors);
    }
}
