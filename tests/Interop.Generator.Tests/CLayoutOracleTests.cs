using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>
/// Compiles a C layout oracle with the system C compiler and checks that every generated SendSize and field offset
/// equals what the C compiler computes for the same declaration. Two oracles declare the corpus (CLayout/layout_corpus.h)
/// over two sources of the Mach types: the ABI fact sheet (layout_oracle.c), and the system's own
/// <c>&lt;mach/message.h&gt;</c> (message_h_oracle.c) — Apple's on macOS, src/native's elsewhere, the header C peers
/// of the native libSystem compile against.
/// </summary>
public class CLayoutOracleTests
{
    [Theory]
    [InlineData("layout_oracle.c")]
    [InlineData("message_h_oracle.c")]
    public void GeneratedOffsetsEqualTheCCompilers(string oracleSource)
    {
        Dictionary<string, Dictionary<string, int>> oracle = RunOracle(oracleSource);
        Type[] messages = typeof(CLayoutOracleTests).Assembly.GetTypes()
            .Where(t => t.Namespace == "MachIpc.Generator.Tests.Messages" && t.GetNestedType("Offsets") is not null)
            .ToArray();
        Assert.Equal(oracle.Keys.OrderBy(k => k, StringComparer.Ordinal), messages.Select(t => t.Name).OrderBy(k => k, StringComparer.Ordinal));

        int compared = 0;
        foreach (Type message in messages)
        {
            Dictionary<string, int> c = oracle[message.Name];
            Assert.True(c["sizeof"] == Constant(message, "SendSize"), $"{message.Name}: C sizeof {c["sizeof"]}, generated SendSize {Constant(message, "SendSize")}");
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
        Assert.True(compared > 40, $"only {compared} offsets compared");
    }

    private static int Constant(Type type, string name) => (int)type.GetField(name)!.GetRawConstantValue()!;

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
