using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace MachIpc.Generator.Tests;

/// <summary>Compiles a C file under CLayout/ with the system C compiler (or $CC) and returns what it prints.</summary>
internal static class CProgram
{
    /// <summary>
    /// Compiles CLayout/<paramref name="fileName"/> and runs it. <c>&lt;mach/...&gt;</c> includes find the system's
    /// headers: Apple's on macOS, src/native's elsewhere (the headers C peers of the native libSystem compile against).
    /// </summary>
    public static string Run(string fileName)
    {
        string source = Path.Combine(GeneratorHarness.ProjectDirectory(), "CLayout", fileName);
        string directory = Directory.CreateTempSubdirectory("machipc-oracle").FullName;
        try
        {
            string binary = Path.Combine(directory, Path.GetFileNameWithoutExtension(fileName));
            string compiler = Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc : "cc";
            string include = OperatingSystem.IsMacOS() ? "" :
                $"-I\"{Path.Combine(GeneratorHarness.ProjectDirectory(), "..", "..", "src", "native", "include")}\" ";
            (int compileCode, string compileOutput) = Execute(compiler, $"-std=c11 -Wall -Werror {include}-o \"{binary}\" \"{source}\"");
            Assert.True(compileCode == 0, $"{fileName} did not compile:\n{compileOutput}");
            (int runCode, string output) = Execute(binary, "");
            Assert.Equal(0, runCode);
            return output;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Execute(string fileName, string arguments)
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
            Assert.Fail($"Cannot run '{fileName}' ({e.Message}). The C layout oracles need a C compiler: install one " +
                "(for example `apt-get install gcc`, or Xcode command line tools on macOS) or point CC at it.");
            throw;
        }
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
