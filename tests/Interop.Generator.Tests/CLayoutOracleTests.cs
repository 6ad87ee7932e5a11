using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// Compiles a C layout oracle with the system C compiler and checks that every generated SendSize and field offset of
/// every message in the corpus equals what the C compiler computes for the same declaration. Two oracles declare the
/// corpus (CLayout/layout_corpus.h) over two sources of the Mach types: the ABI fact sheet (layout_oracle.c), and the
/// system's own <c>&lt;mach/message.h&gt;</c> (message_h_oracle.c) — Apple's on macOS, src/native's elsewhere, the
/// header C peers of the native libSystem compile against.
/// </summary>
public class CLayoutOracleTests
{
    [Theory]
    [InlineData(COracle.FactSheet)]
    [InlineData(COracle.MessageH)]
    public void GeneratedOffsetsEqualTheCCompilers(string oracleSource)
    {
        Dictionary<string, Dictionary<string, int>> oracle = COracle.LayoutsOf(oracleSource);
        Assert.Equal(
            oracle.Keys.Where(k => !k.Contains('.', StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal),
            MessageCorpus.All.Select(t => t.Name).OrderBy(k => k, StringComparer.Ordinal));

        int compared = 0;
        foreach (Type message in MessageCorpus.All)
        {
            Dictionary<string, int> c = oracle[message.Name];
            int sendSize = MessageCorpus.Constant(message, "SendSize");
            Assert.True(c["sizeof"] == sendSize, $"{message.Name}: C sizeof {c["sizeof"]}, generated SendSize {sendSize}");
            FieldInfo[] offsets = message.GetNestedType("Offsets")!.GetFields();
            Assert.Equal(c.Count - 1, offsets.Length);
            foreach (FieldInfo offset in offsets)
            {
                int generated = (int)offset.GetRawConstantValue()!;
                Assert.True(c.TryGetValue(offset.Name, out int expected), $"{message.Name}.{offset.Name} missing from the C oracle");
                Assert.True(expected == generated, $"{message.Name}.{offset.Name}: C offset {expected}, generated {generated}");
                compared++;
            }
        }
        Assert.True(compared > 100, $"only {compared} offsets compared");
    }

    [Theory]
    [InlineData(COracle.FactSheet)]
    [InlineData(COracle.MessageH)]
    public void TailPaddedNaturalMessage_TrailerIsAtRoundMsgOfSizeof_NotWhereACReceiverDeclaresIt(string oracleSource)
    {
        // The README's natural-layout note: the kernel writes the trailer at round_msg(msgh_size), and msgh_size is the
        // padded sizeof; a C struct that ends with the trailer member puts it before the tail padding.
        Dictionary<string, Dictionary<string, int>> oracle = COracle.LayoutsOf(oracleSource);
        Dictionary<string, int> message = oracle[nameof(Messages.NaturalTail)];
        Assert.Equal(40, message["sizeof"]);
        Assert.Equal(Messages.NaturalTail.TrailerOffset, message["sizeof"]);
        Assert.Equal(36, oracle["NaturalTail.CReceiver"]["Trailer"]);
    }
}

/// <summary>
/// The C compiler's sizeof/offsetof for every declaration of the corpus (CLayout/layout_corpus.h), computed once per
/// oracle.
/// </summary>
internal static class COracle
{
    /// <summary>The Mach types written from the ABI fact sheet.</summary>
    public const string FactSheet = "layout_oracle.c";

    /// <summary>The Mach types of <c>&lt;mach/message.h&gt;</c>: Apple's on macOS, src/native's elsewhere.</summary>
    public const string MessageH = "message_h_oracle.c";

    private static readonly ConcurrentDictionary<string, Lazy<Dictionary<string, Dictionary<string, int>>>> s_layouts = new();

    /// <summary>The fact-sheet oracle's layouts (both oracles are checked to agree with the generator).</summary>
    public static Dictionary<string, Dictionary<string, int>> Layouts => LayoutsOf(FactSheet);

    /// <summary>Message (or other declaration) name → field name (or "sizeof") → bytes.</summary>
    public static Dictionary<string, Dictionary<string, int>> LayoutsOf(string oracleSource) =>
        s_layouts.GetOrAdd(oracleSource, s => new Lazy<Dictionary<string, Dictionary<string, int>>>(() => RunOracle(s))).Value;

    private static Dictionary<string, Dictionary<string, int>> RunOracle(string oracleSource)
    {
        string source = Path.Combine(GeneratorHarness.ProjectDirectory(), "CLayout", oracleSource);
        // Off macOS <mach/message.h> is src/native's; on macOS the SDK's own is found without help.
        string include = OperatingSystem.IsMacOS() ? "" :
            $"-I\"{Path.Combine(GeneratorHarness.ProjectDirectory(), "..", "..", "src", "native", "include")}\" ";
        string directory = Directory.CreateTempSubdirectory("machipc-oracle").FullName;
        try
        {
            string binary = Path.Combine(directory, "layout_oracle");
            string compiler = Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc : "cc";
            (int compileCode, string compileOutput) = Run(compiler, $"-std=c11 -Wall -Werror {include}-o \"{binary}\" \"{source}\"");
            Assert.True(compileCode == 0, $"The C layout oracle did not compile:\n{compileOutput}");
            (int runCode, string output) = Run(binary, "");
            Assert.Equal(0, runCode);

            var result = new Dictionary<string, Dictionary<string, int>>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = line.Split(' ');
                if (!result.TryGetValue(parts[0], out Dictionary<string, int>? fields))
                {
                    result[parts[0]] = fields = new Dictionary<string, int>();
                }
                fields[parts[1]] = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
            }
            return result;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Run(string fileName, string arguments)
    {
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo(fileName, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"Cannot run '{fileName}' ({e.Message}). The C layout oracle needs a C compiler: install one " +
                "(for example `apt-get install gcc`, or Xcode command line tools on macOS) or point CC at it.");
            throw;
        }
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
